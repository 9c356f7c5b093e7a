//===- RecToGPU.cpp - rec models to CUDA-launcher entry points ------------===//
//
// convert-rec-to-gpu: each rec.model becomes M_forward_cuda(stream, B, T,
// device pointers...) -> status, with the same lowering of the model as
// convert-rec-to-cpu (seqc/Conversion/Utils/ModelLowering.h); only the
// entry's convention and the runtime it calls differ. Which work runs in
// kernels is decided after bufferization (convert-parallel-to-gpu,
// convert-linear-scan-to-gpu).
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "seqc/Conversion/Utils/ModelLowering.h"

#include <algorithm>

namespace seqc {
#define GEN_PASS_DEF_CONVERTRECTOGPU
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {
struct ConvertRecToGPUPass : seqc::impl::ConvertRecToGPUBase<ConvertRecToGPUPass> {
  void runOnOperation() override {
    // M_backward_cuda calls the kernel of M_forward_tape_cuda: those go
    // first.
    SmallVector<rec::ModelOp> models(getOperation().getOps<rec::ModelOp>());
    std::stable_partition(models.begin(), models.end(), [](rec::ModelOp model) {
      return model.getModelKind() == rec::ModelKind::ForwardTape;
    });
    for (rec::ModelOp model : models) {
      seqc::lowerModelToEntry(model, seqc::kCUDALauncher);
      model.erase();
    }
  }
};
} // namespace
