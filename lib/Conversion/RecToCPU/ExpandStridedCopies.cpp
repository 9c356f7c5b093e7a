//===- ExpandStridedCopies.cpp - Non-contiguous memref.copy as loops -----===//
//
// seqc-expand-strided-copies: the LLVM lowering of memref.copy handles
// contiguous buffers with memcpy and everything else with a call into MLIR's
// C runner utilities, which generated objects must not need. Bufferization
// produces strided copies wherever a slice of a sequence is copied (the
// Newton form's shifted guesses, a loop-carried slice), so they become
// linalg.copy, which later lowers to loops.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"

namespace seqc {
#define GEN_PASS_DEF_EXPANDSTRIDEDCOPIES
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {
/// What finalize-memref-to-llvm turns into a memcpy.
bool lowersToMemcpy(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && (memref.getLayout().isIdentity() ||
                    memref::isStaticShapeAndContiguousRowMajor(memref));
}

struct ExpandStridedCopiesPass
    : seqc::impl::ExpandStridedCopiesBase<ExpandStridedCopiesPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation()->walk([&](memref::CopyOp copy) {
      if (!lowersToMemcpy(copy.getSource().getType()) ||
          !lowersToMemcpy(copy.getTarget().getType()))
        copies.push_back(copy);
    });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(), copy.getTarget());
      copy.erase();
    }
  }
};
} // namespace
