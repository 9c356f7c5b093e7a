//===- RecExpandChunked.cpp - rec.chunked as a recurrence over chunks -----===//
//
// rec-expand-chunked writes each rec.chunked with ops the targets already
// lower: the sequences are padded to whole chunks of C steps (zero keys and
// log decays: identity steps) and viewed as [B, T/C, C, ...]; a
// rec.recurrence over the chunks carries the [H, K, V] state, and each of
// its steps works on a whole chunk with contractions:
//
//   b[i]   = sum_{j <= i} g[j]                      (log decays, per key)
//   A[i,j] = sum_k q[i,k] k[j,k] exp(b[i,k] - b[j,k])   for j <= i, else 0
//            (as (q exp(b)) (k exp(-b))^T when the chunk's decays are mild)
//   r[i]   = sum_j A[i,j] v[j] + sum_k q[i,k] exp(b[i,k]) S[k]
//   S'     = exp(b[C-1]) S + sum_j k[j] exp(b[C-1] - b[j]) v[j]^T
//
// Every exponent is a sum of log decays over steps in order, so no factor
// grows above the products it stands for (and none underflows before they
// do), whatever the chunk's decays. The contractions are linalg.generic ops:
// the CPU lowering runs them as loops today; tiling them as matmuls is the
// next step.
//
//===----------------------------------------------------------------------===//
#include "Passes.h"
#include "ScalarReductions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::rec {
#define GEN_PASS_DEF_RECEXPANDCHUNKED
#include "Passes.h.inc"

namespace {

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

/// The largest magnitude of a chunk's total log decay for which the scores
/// are computed factorised: exp(40) ~ 2e17 leaves room for q and k up to
/// about 1e10 before a product overflows.
constexpr double kFactorisedLimit = 40.0;

/// select(j <= i, value, 0) for loops i and j of the enclosing generic.
Value causal(OpBuilder &b, Location loc, unsigned i, unsigned j, Value value) {
  Value row = linalg::IndexOp::create(b, loc, i), column = linalg::IndexOp::create(b, loc, j);
  Value visible = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, column, row);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  return arith::SelectOp::create(b, loc, visible, value, zero);
}

struct RecExpandChunkedPass : impl::RecExpandChunkedBase<RecExpandChunkedPass> {
  void runOnOperation() override {
    SmallVector<ChunkedOp> ops;
    getOperation()->walk([&](ChunkedOp op) { ops.push_back(op); });
    for (ChunkedOp op : ops) {
      expand(op);
      op.erase();
    }
  }

  void expand(ChunkedOp op) {
    Location loc = op.getLoc();
    OpBuilder b(op);
    auto keysType = cast<RankedTensorType>(op.getKeys().getType());
    auto valuesType = cast<RankedTensorType>(op.getValues().getType());
    int64_t H = keysType.getDimSize(2), K = keysType.getDimSize(3), V = valuesType.getDimSize(3);
    int64_t C = op.getChunkSize();
    Value batch = tensor::DimOp::create(b, loc, op.getKeys(), 0);
    Value length = tensor::DimOp::create(b, loc, op.getKeys(), 1);
    Value chunkSteps = arith::ConstantIndexOp::create(b, loc, C);
    Value chunks = arith::CeilDivUIOp::create(b, loc, length, chunkSteps);
    Value padded = arith::MulIOp::create(b, loc, chunks, chunkSteps);

    // [B, T, H, X] -> zero-padded [B, T/C, C, H, X].
    auto inChunks = [&](Value sequence, int64_t X) -> Value {
      Value zeros = zeroFilled(b, loc, {batch, padded, b.getIndexAttr(H), b.getIndexAttr(X)});
      SmallVector<OpFoldResult> offsets(4, b.getIndexAttr(0)), strides(4, b.getIndexAttr(1));
      SmallVector<OpFoldResult> sizes = {batch, length, b.getIndexAttr(H), b.getIndexAttr(X)};
      Value whole = tensor::InsertSliceOp::create(b, loc, sequence, zeros, offsets, sizes, strides);
      auto type = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic, C, H, X},
                                        b.getF32Type());
      SmallVector<OpFoldResult> outputShape = {batch, chunks, b.getIndexAttr(C),
                                               b.getIndexAttr(H), b.getIndexAttr(X)};
      return tensor::ExpandShapeOp::create(b, loc, type, whole,
                                           SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}},
                                           outputShape);
    };
    SmallVector<Value> inputs = {inChunks(op.getQueries(), K), inChunks(op.getKeys(), K),
                                 inChunks(op.getValues(), V), inChunks(op.getLogDecays(), K)};
    auto readsType = RankedTensorType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic, C, H, V}, b.getF32Type());
    auto recurrence = RecurrenceOp::create(b, loc, TypeRange{op.getInit().getType(), readsType},
                                           batch, chunks, ValueRange{op.getInit()}, inputs);
    Block &body = recurrence.getBody();
    OpBuilder s = OpBuilder::atBlockBegin(&body);
    Value state = body.getArgument(0), q = body.getArgument(1), k = body.getArgument(2),
          v = body.getArgument(3), g = body.getArgument(4);
    auto add = [](OpBuilder &n, Location l, Value x, Value y) -> Value {
      return arith::AddFOp::create(n, l, x, y);
    };
    auto mul = [](OpBuilder &n, Location l, Value x, Value y) -> Value {
      return arith::MulFOp::create(n, l, x, y);
    };
    auto expOf = [](OpBuilder &n, Location l, Value x) -> Value {
      return math::ExpOp::create(n, l, x);
    };

    // The loops of each contraction are ordered with the reduction outside
    // a parallel loop over contiguous elements, so that the innermost loop
    // vectorises once the contractions are loops.
    // b[i, h, k] = sum_{j <= i} g[j, h, k]; loops (i, j, h, k).
    Value cumulative = contraction(
        s, loc, {g}, zeroFilled(s, loc, {C, H, K}), {{1, 2, 3}}, {0, 2, 3}, 4, {1},
        [&](OpBuilder &n, Location l, ValueRange in, Value out) {
          return add(n, l, out, causal(n, l, 0, 1, in[0]));
        });
    // b[C-1, h, k]
    Value last = tensor::ExtractSliceOp::create(
        s, loc, RankedTensorType::get({H, K}, s.getF32Type()), cumulative,
        ArrayRef<OpFoldResult>{s.getIndexAttr(C - 1), s.getIndexAttr(0), s.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{s.getIndexAttr(1), s.getIndexAttr(H), s.getIndexAttr(K)},
        ArrayRef<OpFoldResult>{s.getIndexAttr(1), s.getIndexAttr(1), s.getIndexAttr(1)});
    // A[h, i, j]: when the chunk's decays are mild (every key's total log
    // decay b[C-1] >= -kFactorisedLimit), as (q exp(b)) (k exp(-b))^T:
    // exp(-b[j]) <= exp(kFactorisedLimit) cannot overflow, the products
    // are as precise as the exact form's, and it takes 2 C exps per key
    // instead of C^2. Otherwise the exact form, one exp per (i, j, key).
    Value mildest = minimumOfAll(s, loc, last);
    Value mild = arith::CmpFOp::create(
        s, loc, arith::CmpFPredicate::OGE, mildest,
        arith::ConstantOp::create(s, loc, s.getF32FloatAttr(-kFactorisedLimit)));
    auto scoresType = RankedTensorType::get({H, C, C}, s.getF32Type());
    auto choice = scf::IfOp::create(s, loc, TypeRange{scoresType}, mild, /*withElseRegion=*/true);
    {
      OpBuilder f = OpBuilder::atBlockBegin(choice.thenBlock());
      auto scaled = [&](Value x, bool negate) {
        return contraction(f, loc, {x, cumulative}, zeroFilled(f, loc, {C, H, K}),
                           {{0, 1, 2}, {0, 1, 2}}, {0, 1, 2}, 3, {},
                           [&](OpBuilder &n, Location l, ValueRange in, Value) {
                             Value e = negate ? Value(arith::NegFOp::create(n, l, in[1])) : in[1];
                             return mul(n, l, in[0], expOf(n, l, e));
                           });
      };
      Value qs = scaled(q, false), ks = scaled(k, true);
      // loops (h, i, j, k)
      Value raw = contraction(f, loc, {qs, ks}, zeroFilled(f, loc, {H, C, C}),
                              {{1, 0, 3}, {2, 0, 3}}, {0, 1, 2}, 4, {3},
                              [&](OpBuilder &n, Location l, ValueRange in, Value out) {
                                return add(n, l, out, mul(n, l, in[0], in[1]));
                              });
      Value masked = contraction(f, loc, {raw}, zeroFilled(f, loc, {H, C, C}), {{0, 1, 2}},
                                 {0, 1, 2}, 3, {},
                                 [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                   return causal(n, l, 1, 2, in[0]);
                                 });
      scf::YieldOp::create(f, loc, masked);
    }
    {
      OpBuilder e = OpBuilder::atBlockBegin(choice.elseBlock());
      // loops (h, i, j, k)
      Value exact = contraction(
          e, loc, {q, k, cumulative, cumulative}, zeroFilled(e, loc, {H, C, C}),
          {{1, 0, 3}, {2, 0, 3}, {1, 0, 3}, {2, 0, 3}}, {0, 1, 2}, 4, {3},
          [&](OpBuilder &n, Location l, ValueRange in, Value out) {
            Value decay = expOf(n, l, arith::SubFOp::create(n, l, in[2], in[3]));
            return add(n, l, out, causal(n, l, 1, 2, mul(n, l, mul(n, l, in[0], in[1]), decay)));
          });
      scf::YieldOp::create(e, loc, exact);
    }
    Value scores = choice.getResult(0);
    // Inside the chunk: r[i, h, v] = sum_j A[h, i, j] v[j, h, v]; loops (i, h, j, v).
    Value inside = contraction(s, loc, {scores, v}, zeroFilled(s, loc, {C, H, V}),
                               {{1, 0, 2}, {2, 1, 3}}, {0, 1, 3}, 4, {2},
                               [&](OpBuilder &n, Location l, ValueRange in, Value out) {
                                 return add(n, l, out, mul(n, l, in[0], in[1]));
                               });
    // From the state entering the chunk; loops (i, h, k, v).
    Value reads = contraction(
        s, loc, {q, cumulative, state}, inside, {{0, 1, 2}, {0, 1, 2}, {1, 2, 3}}, {0, 1, 3}, 4,
        {2}, [&](OpBuilder &n, Location l, ValueRange in, Value out) {
          return add(n, l, out, mul(n, l, mul(n, l, in[0], expOf(n, l, in[1])), in[2]));
        });
    // The state leaving the chunk: exp(b[C-1]) S, loops (h, k, v) ...
    Value decayed = contraction(s, loc, {last, state}, zeroFilled(s, loc, {H, K, V}),
                                {{0, 1}, {0, 1, 2}}, {0, 1, 2}, 3, {},
                                [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                  return mul(n, l, expOf(n, l, in[0]), in[1]);
                                });
    // ... plus sum_j k[j] exp(b[C-1] - b[j]) v[j]^T, loops (h, k, j, v).
    Value next = contraction(
        s, loc, {k, v, last, cumulative}, decayed, {{2, 0, 1}, {2, 0, 3}, {0, 1}, {2, 0, 1}},
        {0, 1, 3}, 4, {2}, [&](OpBuilder &n, Location l, ValueRange in, Value out) {
          Value decay = expOf(n, l, arith::SubFOp::create(n, l, in[2], in[3]));
          return add(n, l, out, mul(n, l, mul(n, l, in[0], in[1]), decay));
        });
    YieldOp::create(s, loc, ValueRange{next, reads});

    // [B, T/C, C, H, V] -> [B, T, H, V]
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, recurrence.getResult(1), SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    Value trimmed = tensor::ExtractSliceOp::create(
        b, loc, cast<RankedTensorType>(op.getReads().getType()), flat,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0), b.getIndexAttr(0),
                               b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{batch, length, b.getIndexAttr(H), b.getIndexAttr(V)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1), b.getIndexAttr(1),
                               b.getIndexAttr(1)});
    op.getReads().replaceAllUsesWith(trimmed);
    op.getFinalState().replaceAllUsesWith(recurrence.getResult(0));
  }
};

} // namespace
} // namespace mlir::rec
