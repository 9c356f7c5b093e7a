//===- ChunkExpansion.cpp - Building blocks of the chunked expansions -----===//
//
// See ChunkExpansion.h.
//
//===----------------------------------------------------------------------===//
#include "ChunkExpansion.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::rec {

Value zeroFilled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

Value zeroFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape) {
  SmallVector<OpFoldResult> sizes;
  for (int64_t size : shape)
    sizes.push_back(b.getIndexAttr(size));
  return zeroFilled(b, loc, sizes);
}

/// A linalg.generic over `loops` loops with the given maps (inputs, then the
/// one init) and iterators (`reductions` names the reduction loops).
Value contraction(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                  ArrayRef<SmallVector<unsigned>> inputDims, ArrayRef<unsigned> initDims,
                  unsigned loops, ArrayRef<unsigned> reductions,
                  function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body) {
  MLIRContext *ctx = b.getContext();
  auto mapOf = [&](ArrayRef<unsigned> dims) {
    SmallVector<AffineExpr> exprs;
    for (unsigned d : dims)
      exprs.push_back(getAffineDimExpr(d, ctx));
    return AffineMap::get(loops, 0, exprs, ctx);
  };
  SmallVector<AffineMap> maps;
  for (ArrayRef<unsigned> dims : inputDims)
    maps.push_back(mapOf(dims));
  maps.push_back(mapOf(initDims));
  SmallVector<utils::IteratorType> iterators(loops, utils::IteratorType::parallel);
  for (unsigned r : reductions)
    iterators[r] = utils::IteratorType::reduction;
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, ValueRange{init}, maps, iterators,
             [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
               Value result = body(nested, nestedLoc, args.drop_back(), args.back());
               linalg::YieldOp::create(nested, nestedLoc, result);
             })
      .getResult(0);
}

/// sum_{j <= i} x[j] for every i, along the leading axis of a static [C, ...]
/// tensor: C adds of a row into a running sum (O(C) rows of work, not the
/// O(C^2) of a masked contraction), each written to its row of the result.
/// Both are outs of one generic per step, so they bufferize in place.
Value inclusiveSum(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = type.getRank();
  auto rowType = RankedTensorType::get(shape.drop_front(), type.getElementType());
  SmallVector<OpFoldResult> rowSizes = {b.getIndexAttr(1)};
  for (int64_t size : shape.drop_front())
    rowSizes.push_back(b.getIndexAttr(size));
  SmallVector<OpFoldResult> unitStrides(rank, b.getIndexAttr(1));
  auto rowAt = [&](OpBuilder &n, Value i) {
    SmallVector<OpFoldResult> offsets(rank, n.getIndexAttr(0));
    offsets[0] = i;
    return offsets;
  };
  Value result = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value steps = arith::ConstantIndexOp::create(b, loc, shape.front());
  MLIRContext *ctx = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank - 1, ctx);
  auto loop = scf::ForOp::create(
      b, loc, zero, steps, one, ValueRange{zeroFilled(b, loc, shape.drop_front()), result},
      [&](OpBuilder &n, Location l, Value i, ValueRange carried) {
        Value row = tensor::ExtractSliceOp::create(n, l, rowType, x, rowAt(n, i), rowSizes,
                                                   unitStrides);
        Value target = tensor::ExtractSliceOp::create(n, l, rowType, carried[1], rowAt(n, i),
                                                      rowSizes, unitStrides);
        auto step = linalg::GenericOp::create(
            n, l, TypeRange{rowType, rowType}, ValueRange{row}, ValueRange{carried[0], target},
            SmallVector<AffineMap>(3, identity),
            SmallVector<utils::IteratorType>(rank - 1, utils::IteratorType::parallel),
            [&](OpBuilder &g, Location gl, ValueRange args) {
              Value sum = arith::AddFOp::create(g, gl, args[1], args[0]);
              linalg::YieldOp::create(g, gl, ValueRange{sum, sum});
            });
        Value written = tensor::InsertSliceOp::create(n, l, step.getResult(1), carried[1],
                                                      rowAt(n, i), rowSizes, unitStrides);
        scf::YieldOp::create(n, l, ValueRange{step.getResult(0), written});
      });
  return loop.getResult(1);
}

/// select(j <= i, value, 0) for loops i and j of the enclosing generic.
Value causal(OpBuilder &b, Location loc, unsigned i, unsigned j, Value value) {
  Value row = linalg::IndexOp::create(b, loc, i), column = linalg::IndexOp::create(b, loc, j);
  Value visible = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, column, row);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  return arith::SelectOp::create(b, loc, visible, value, zero);
}

Value f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(value)));
}

Value filled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes, double value) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  return linalg::FillOp::create(b, loc, f32Constant(b, loc, value), empty).getResult(0);
}

SmallVector<OpFoldResult> staticSizes(OpBuilder &b, ArrayRef<int64_t> shape) {
  SmallVector<OpFoldResult> sizes;
  for (int64_t size : shape)
    sizes.push_back(b.getIndexAttr(size));
  return sizes;
}

ChunkGeometry::ChunkGeometry(OpBuilder &b, Location loc, Value sequence, int64_t chunkSize)
    : C(chunkSize) {
  batch = tensor::DimOp::create(b, loc, sequence, 0);
  length = tensor::DimOp::create(b, loc, sequence, 1);
  Value steps = arith::ConstantIndexOp::create(b, loc, C);
  chunks = arith::CeilDivUIOp::create(b, loc, length, steps);
  padded = arith::MulIOp::create(b, loc, chunks, steps);
}

Value ChunkGeometry::pad(OpBuilder &b, Location loc, Value sequence) const {
  auto type = cast<RankedTensorType>(sequence.getType());
  Value whole = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, padded, length);
  auto choice = scf::IfOp::create(b, loc, TypeRange{type}, whole, /*withElseRegion=*/true);
  OpBuilder thenBuilder = OpBuilder::atBlockBegin(choice.thenBlock());
  scf::YieldOp::create(thenBuilder, loc, sequence);
  OpBuilder e = OpBuilder::atBlockBegin(choice.elseBlock());
  OpFoldResult H = e.getIndexAttr(type.getDimSize(2)), X = e.getIndexAttr(type.getDimSize(3));
  Value zeros = zeroFilled(e, loc, {batch, padded, H, X});
  SmallVector<OpFoldResult> offsets(4, e.getIndexAttr(0)), strides(4, e.getIndexAttr(1));
  SmallVector<OpFoldResult> sizes = {batch, length, H, X};
  Value copied = tensor::InsertSliceOp::create(e, loc, sequence, zeros, offsets, sizes, strides);
  scf::YieldOp::create(e, loc, copied);
  return choice.getResult(0);
}

Value ChunkGeometry::inChunks(OpBuilder &b, Location loc, Value sequence) const {
  auto type = cast<RankedTensorType>(sequence.getType());
  int64_t H = type.getDimSize(2), X = type.getDimSize(3);
  auto chunked = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic, C, H, X},
                                       b.getF32Type());
  SmallVector<OpFoldResult> outputShape = {batch, chunks, b.getIndexAttr(C), b.getIndexAttr(H),
                                           b.getIndexAttr(X)};
  return tensor::ExpandShapeOp::create(b, loc, chunked, pad(b, loc, sequence),
                                       SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}},
                                       outputShape);
}

Value ChunkGeometry::trim(OpBuilder &b, Location loc, Value padded, Type type) const {
  auto shaped = cast<RankedTensorType>(type);
  return tensor::ExtractSliceOp::create(
      b, loc, shaped, padded, SmallVector<OpFoldResult>(4, b.getIndexAttr(0)),
      ArrayRef<OpFoldResult>{batch, length, b.getIndexAttr(shaped.getDimSize(2)),
                             b.getIndexAttr(shaped.getDimSize(3))},
      SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
}

/// rows [start, start + count) of head `head` of batch row `row` of a
/// [B, T, H, X] tensor, as [count, X].
Value rowsOf(OpBuilder &b, Location loc, Value sequence, Value row, Value start, Value head,
             int64_t count) {
  int64_t X = cast<RankedTensorType>(sequence.getType()).getDimSize(3);
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({count, X}, b.getF32Type()), sequence,
      ArrayRef<OpFoldResult>{row, start, head, b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(count), b.getIndexAttr(1),
                             b.getIndexAttr(X)},
      SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
}

/// A rec.recurrence over the chunks of `sequences` ([B, T, H, X], zero-
/// padded to whole chunks), carrying `init` ([B, H, K, V]) and yielding
/// [C, H, V] reads per chunk, with an empty step for the caller to fill.
RecurrenceOp chunkRecurrence(OpBuilder &b, Location loc, const ChunkGeometry &geometry,
                             Value init, ArrayRef<Value> sequences, int64_t V) {
  SmallVector<Value> inputs;
  for (Value sequence : sequences)
    inputs.push_back(geometry.inChunks(b, loc, sequence));
  int64_t H = cast<RankedTensorType>(init.getType()).getDimSize(1);
  auto readsType = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic, geometry.C, H, V}, b.getF32Type());
  return RecurrenceOp::create(b, loc, TypeRange{init.getType(), readsType}, geometry.batch,
                              geometry.chunks, ValueRange{init}, inputs);
}

/// `reads` and `finalState` from a chunkRecurrence's results: the reads
/// [B, T/C, C, H, V] as [B, T, H, V], trimmed back to T steps.
void replaceByChunks(OpBuilder &b, Location loc, const ChunkGeometry &geometry,
                     RecurrenceOp recurrence, Value reads, Value finalState) {
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, recurrence.getResult(1), SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
  reads.replaceAllUsesWith(geometry.trim(b, loc, flat, reads.getType()));
  finalState.replaceAllUsesWith(recurrence.getResult(0));
}

} // namespace mlir::rec
