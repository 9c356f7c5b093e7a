//===- RecToCPU.cpp - rec models to M_forward entry points ----------------===//
//
// convert-rec-to-cpu: each rec.model becomes its kernel's C entry point,
// M_forward(B, T, pointers...) -> status, calling the CPU runtime
// (seqc/Conversion/Utils/ModelLowering.h holds the lowering, which
// convert-rec-to-gpu shares).
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "seqc/Conversion/Utils/ModelLowering.h"

#include <algorithm>

namespace seqc {
#define GEN_PASS_DEF_CONVERTRECTOCPU
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {
struct ConvertRecToCPUPass : seqc::impl::ConvertRecToCPUBase<ConvertRecToCPUPass> {
  void runOnOperation() override {
    // M_backward calls the kernel of M_forward_tape: those go first.
    SmallVector<rec::ModelOp> models(getOperation().getOps<rec::ModelOp>());
    std::stable_partition(models.begin(), models.end(), [](rec::ModelOp model) {
      return model.getModelKind() == rec::ModelKind::ForwardTape;
    });
    for (rec::ModelOp model : models) {
      seqc::lowerModelToEntry(model, seqc::kCPURuntime);
      model.erase();
    }
  }
};
} // namespace
