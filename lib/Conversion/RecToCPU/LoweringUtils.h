//===- LoweringUtils.h - Helpers shared by the CPU lowerings --------------===//
//
// What the lowerings of RecToCPU (rec ops, scans on buffers, projections)
// share: the vector width they emit for, and small builders and checks.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_LIB_CONVERSION_RECTOCPU_LOWERINGUTILS_H
#define SEQC_LIB_CONVERSION_RECTOCPU_LOWERINGUTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace seqc {

/// f32 lanes of the vectors the buffer lowerings emit: an AVX-512 register
/// (LLVM splits it on narrower targets) and one 64-byte cache line.
constexpr int64_t kVectorWidth = 16;

inline mlir::Value indexConstant(mlir::OpBuilder &b, mlir::Location loc, int64_t value) {
  return mlir::arith::ConstantIndexOp::create(b, loc, value);
}

/// An f32 constant, or its splat over `width` lanes when width > 1.
inline mlir::Value f32Splat(mlir::OpBuilder &b, mlir::Location loc, double value,
                            int64_t width) {
  mlir::Type f32 = b.getF32Type();
  mlir::Value scalar = mlir::arith::ConstantOp::create(b, loc, b.getFloatAttr(f32, value));
  if (width == 1)
    return scalar;
  return mlir::vector::BroadcastOp::create(b, loc, mlir::VectorType::get({width}, f32), scalar);
}

/// Whether the innermost axis of `type` is contiguous (vector loads need it).
inline bool hasUnitInnerStride(mlir::MemRefType type) {
  llvm::SmallVector<int64_t> strides;
  int64_t offset;
  if (mlir::failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.empty() || strides.back() == 1;
}

} // namespace seqc

#endif // SEQC_LIB_CONVERSION_RECTOCPU_LOWERINGUTILS_H
