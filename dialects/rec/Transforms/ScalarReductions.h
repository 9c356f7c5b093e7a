//===- ScalarReductions.h - A tensor's elements reduced to one scalar -----===//
//
// What rec-to-chunked (is any decay negative?) and rec-expand-chunked (is a
// chunk's decay mild?) share: the smallest element of an f32 tensor of any
// rank and shape, as a linalg.generic reduction to rank 0 (which the GPU
// lowers as a grid-stride kernel) and a scalar.
//
//===----------------------------------------------------------------------===//
#ifndef REC_TRANSFORMS_SCALARREDUCTIONS_H
#define REC_TRANSFORMS_SCALARREDUCTIONS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

namespace mlir::rec {

/// min over every element of the f32 tensor `x` (NaN if any is NaN).
inline Value minimumOfAll(OpBuilder &b, Location loc, Value x) {
  MLIRContext *ctx = b.getContext();
  unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
  auto scalarType = RankedTensorType::get({}, b.getF32Type());
  Value inf = arith::ConstantOp::create(
      b, loc, b.getF32FloatAttr(std::numeric_limits<float>::infinity()));
  Value empty = tensor::EmptyOp::create(b, loc, scalarType.getShape(), b.getF32Type());
  Value start = linalg::FillOp::create(b, loc, inf, empty).getResult(0);
  SmallVector<AffineMap> maps = {AffineMap::getMultiDimIdentityMap(rank, ctx),
                                 AffineMap::get(rank, 0, {}, ctx)};
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::reduction);
  Value smallest =
      linalg::GenericOp::create(b, loc, scalarType, ValueRange{x}, ValueRange{start}, maps,
                                iterators,
                                [](OpBuilder &n, Location l, ValueRange args) {
                                  Value m = arith::MinimumFOp::create(n, l, args[1], args[0]);
                                  linalg::YieldOp::create(n, l, m);
                                })
          .getResult(0);
  return tensor::ExtractOp::create(b, loc, smallest, ValueRange{});
}

} // namespace mlir::rec

#endif // REC_TRANSFORMS_SCALARREDUCTIONS_H
