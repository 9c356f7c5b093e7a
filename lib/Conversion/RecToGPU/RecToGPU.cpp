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

namespace seqc {
#define GEN_PASS_DEF_CONVERTRECTOGPU
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {
struct ConvertRecToGPUPass : seqc::impl::ConvertRecToGPUBase<ConvertRecToGPUPass> {
  void runOnOperation() override {
    SmallVector<rec::ModelOp> models(getOperation().getOps<rec::ModelOp>());
    for (rec::ModelOp model : models) {
      // The GPU target has no backward entry points yet (issue 18).
      if (model.getModelKind() == rec::ModelKind::Forward)
        seqc::lowerModelToEntry(model, seqc::kCUDALauncher);
      model.erase();
    }
  }
};
} // namespace
