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

namespace seqc {
#define GEN_PASS_DEF_CONVERTRECTOCPU
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {
struct ConvertRecToCPUPass : seqc::impl::ConvertRecToCPUBase<ConvertRecToCPUPass> {
  void runOnOperation() override {
    SmallVector<rec::ModelOp> models(getOperation().getOps<rec::ModelOp>());
    for (rec::ModelOp model : models) {
      seqc::lowerModelToEntry(model, seqc::kCPURuntime);
      model.erase();
    }
  }
};
} // namespace
