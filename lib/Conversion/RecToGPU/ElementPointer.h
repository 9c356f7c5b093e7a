//===- ElementPointer.h - The address of one f32 element of a buffer ------===//
//
// What the GPU lowerings share where a memref op will not do: the host's
// read of a device scalar through the launcher (convert-parallel-to-gpu)
// and a reduction kernel's compare-and-swap on its output
// (convert-reductions-to-gpu) both need the element's address as a pointer.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_LIB_CONVERSION_RECTOGPU_ELEMENTPOINTER_H
#define SEQC_LIB_CONVERSION_RECTOGPU_ELEMENTPOINTER_H

#include "../RecToCPU/LoweringUtils.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace seqc {

/// !llvm.ptr to element `indices` of the f32 buffer `memref`: its aligned
/// base plus 4 x (offset + sum of index x stride).
inline mlir::Value f32ElementPointer(mlir::OpBuilder &b, mlir::Location loc, mlir::Value memref,
                                     mlir::ValueRange indices) {
  using namespace mlir;
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, memref);
  Value element = metadata.getOffset();
  for (auto [index, stride] : llvm::zip(indices, metadata.getStrides()))
    element = arith::AddIOp::create(b, loc, element, arith::MulIOp::create(b, loc, index, stride));
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
  Value address = arith::AddIOp::create(
      b, loc, base, arith::MulIOp::create(b, loc, element, indexConstant(b, loc, 4)));
  Value address64 = arith::IndexCastUIOp::create(b, loc, b.getI64Type(), address);
  return LLVM::IntToPtrOp::create(b, loc, LLVM::LLVMPointerType::get(b.getContext()), address64);
}

} // namespace seqc

#endif // SEQC_LIB_CONVERSION_RECTOGPU_ELEMENTPOINTER_H
