//===- RecExpandChunked.cpp - The chunked ops as loops over chunks --------===//
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
// do), whatever the chunk's decays. The contractions are linalg.generic ops;
// the CPU lowering (convert-contractions-to-tiles) runs those that are
// multiply-adds with one input contiguous along the output's last axis as
// register-tiled matmuls, so the expansions are written in that shape.
//
// rec.chunked_delta takes the same shape, its step solving the chunk's
// corrections by forward substitution first (expandDelta);
// rec.chunked_attention becomes a parallel loop over query chunks, or three
// recurrences over chunks for a fixed query (expandTiled, expandPrefixScan).
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

/// The smallest finite f32: the running max before any score, so that
/// exp(m - m') is 0 or 1, never NaN.
constexpr float kLowest = -3.4028234663852886e38f;

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

/// The sizes and shape of a whole-chunk view of a [B, T, H, X] sequence.
struct ChunkGeometry {
  int64_t C;
  Value batch, length, chunks, padded;

  ChunkGeometry(OpBuilder &b, Location loc, Value sequence, int64_t chunkSize) : C(chunkSize) {
    batch = tensor::DimOp::create(b, loc, sequence, 0);
    length = tensor::DimOp::create(b, loc, sequence, 1);
    Value steps = arith::ConstantIndexOp::create(b, loc, C);
    chunks = arith::CeilDivUIOp::create(b, loc, length, steps);
    padded = arith::MulIOp::create(b, loc, chunks, steps);
  }

  /// [B, T, H, X] -> [B, padded T, H, X], zero after T: the sequence
  /// itself when T is a multiple of C (a copy of it, serial and as large as
  /// the sequence, otherwise).
  Value pad(OpBuilder &b, Location loc, Value sequence) const {
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

  /// [B, T, H, X] -> zero-padded [B, T/C, C, H, X].
  Value inChunks(OpBuilder &b, Location loc, Value sequence) const {
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

  /// [B, padded T, H, X] -> [B, T, H, X] typed as `type`.
  Value trim(OpBuilder &b, Location loc, Value padded, Type type) const {
    auto shaped = cast<RankedTensorType>(type);
    return tensor::ExtractSliceOp::create(
        b, loc, shaped, padded, SmallVector<OpFoldResult>(4, b.getIndexAttr(0)),
        ArrayRef<OpFoldResult>{batch, length, b.getIndexAttr(shaped.getDimSize(2)),
                               b.getIndexAttr(shaped.getDimSize(3))},
        SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
  }
};

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

struct RecExpandChunkedPass : impl::RecExpandChunkedBase<RecExpandChunkedPass> {
  void runOnOperation() override {
    SmallVector<ChunkedOp> ops;
    getOperation()->walk([&](ChunkedOp op) { ops.push_back(op); });
    for (ChunkedOp op : ops) {
      expand(op);
      op.erase();
    }
    SmallVector<ChunkedDeltaOp> deltas;
    getOperation()->walk([&](ChunkedDeltaOp op) { deltas.push_back(op); });
    for (ChunkedDeltaOp op : deltas) {
      expandDelta(op);
      op.erase();
    }
    SmallVector<ChunkedAttentionOp> attentions;
    getOperation()->walk([&](ChunkedAttentionOp op) { attentions.push_back(op); });
    for (ChunkedAttentionOp op : attentions) {
      OpBuilder b(op);
      Value outputs = op.hasFixedQuery() && op.getWindow() == 0 ? expandPrefixScan(b, op)
                                                                : expandTiled(b, op);
      op.getOutputs().replaceAllUsesWith(outputs);
      op.erase();
    }
  }

  void expand(ChunkedOp op) {
    Location loc = op.getLoc();
    OpBuilder b(op);
    auto keysType = cast<RankedTensorType>(op.getKeys().getType());
    auto valuesType = cast<RankedTensorType>(op.getValues().getType());
    int64_t H = keysType.getDimSize(2), K = keysType.getDimSize(3), V = valuesType.getDimSize(3);
    ChunkGeometry geometry(b, loc, op.getKeys(), op.getChunkSize());
    int64_t C = geometry.C;
    RecurrenceOp recurrence = chunkRecurrence(
        b, loc, geometry, op.getInit(),
        {op.getQueries(), op.getKeys(), op.getValues(), op.getLogDecays()}, V);
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

    // Each matmul below has one input contiguous along the output's last
    // axis, the shape convert-contractions-to-tiles tiles.
    // b[i, h, k] = sum_{j <= i} g[j, h, k]
    Value cumulative = inclusiveSum(s, loc, g);
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
      // q exp(b) as [C, H, K]; k exp(-b) as [H, K, C] (loops (j, h, k)), so
      // that the scores' column j is contiguous in it, as the matmul tiles
      // of the CPU lowering read it.
      auto scaled = [&](Value x, bool negate, ArrayRef<int64_t> shape, ArrayRef<unsigned> dims) {
        return contraction(f, loc, {x, cumulative}, zeroFilled(f, loc, shape),
                           {{0, 1, 2}, {0, 1, 2}}, dims, 3, {},
                           [&](OpBuilder &n, Location l, ValueRange in, Value) {
                             Value e = negate ? Value(arith::NegFOp::create(n, l, in[1])) : in[1];
                             return mul(n, l, in[0], expOf(n, l, e));
                           });
      };
      Value qs = scaled(q, false, {C, H, K}, {0, 1, 2});
      Value ksTransposed = scaled(k, true, {H, K, C}, {1, 2, 0});
      // loops (h, i, j, k)
      Value raw = contraction(f, loc, {qs, ksTransposed}, zeroFilled(f, loc, {H, C, C}),
                              {{1, 0, 3}, {0, 3, 2}}, {0, 1, 2}, 4, {3},
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
    // The decays are applied to q and k first (C x K exps), not inside
    // the contractions with the state (C x K x V).
    // From the state entering the chunk: (q exp(b)) S; loops (i, h, k) then
    // (i, h, k, v).
    Value queriesDecayed = contraction(
        s, loc, {q, cumulative}, zeroFilled(s, loc, {C, H, K}), {{0, 1, 2}, {0, 1, 2}}, {0, 1, 2},
        3, {}, [&](OpBuilder &n, Location l, ValueRange in, Value) {
          return mul(n, l, in[0], expOf(n, l, in[1]));
        });
    Value reads = contraction(s, loc, {queriesDecayed, state}, inside, {{0, 1, 2}, {1, 2, 3}},
                              {0, 1, 3}, 4, {2},
                              [&](OpBuilder &n, Location l, ValueRange in, Value out) {
                                return add(n, l, out, mul(n, l, in[0], in[1]));
                              });
    // The state leaving the chunk: exp(b[C-1]) S, loops (h, k) then (h, k, v) ...
    Value lastDecay = contraction(s, loc, {last}, zeroFilled(s, loc, {H, K}), {{0, 1}}, {0, 1}, 2,
                                  {}, [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                    return expOf(n, l, in[0]);
                                  });
    Value decayed = contraction(s, loc, {lastDecay, state}, zeroFilled(s, loc, {H, K, V}),
                                {{0, 1}, {0, 1, 2}}, {0, 1, 2}, 3, {},
                                [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                  return mul(n, l, in[0], in[1]);
                                });
    // ... plus sum_j (k[j] exp(b[C-1] - b[j])) v[j]^T; loops (j, h, k) then
    // (h, k, j, v).
    Value keysToEnd = contraction(
        s, loc, {k, last, cumulative}, zeroFilled(s, loc, {C, H, K}),
        {{0, 1, 2}, {1, 2}, {0, 1, 2}}, {0, 1, 2}, 3, {},
        [&](OpBuilder &n, Location l, ValueRange in, Value) {
          return mul(n, l, in[0], expOf(n, l, arith::SubFOp::create(n, l, in[1], in[2])));
        });
    Value next = contraction(s, loc, {keysToEnd, v}, decayed, {{2, 0, 1}, {2, 0, 3}}, {0, 1, 3},
                             4, {2}, [&](OpBuilder &n, Location l, ValueRange in, Value out) {
                               return add(n, l, out, mul(n, l, in[0], in[1]));
                             });
    YieldOp::create(s, loc, ValueRange{next, reads});

    replaceByChunks(b, loc, geometry, recurrence, op.getReads(), op.getFinalState());
  }

  /// A rec.recurrence over the chunks of `sequences` ([B, T, H, X], zero-
  /// padded to whole chunks), carrying `init` ([B, H, K, V]) and yielding
  /// [C, H, V] reads per chunk, with an empty step for the caller to fill.
  static RecurrenceOp chunkRecurrence(OpBuilder &b, Location loc, const ChunkGeometry &geometry,
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
  static void replaceByChunks(OpBuilder &b, Location loc, const ChunkGeometry &geometry,
                              RecurrenceOp recurrence, Value reads, Value finalState) {
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, recurrence.getResult(1), SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    reads.replaceAllUsesWith(geometry.trim(b, loc, flat, reads.getType()));
    finalState.replaceAllUsesWith(recurrence.getResult(0));
  }

  /// The delta rule, chunk by chunk (see rec.chunked_delta): with b the
  /// cumulative log decay of the chunk (inclusive) and p = b - g (before the
  /// step), the corrections D = U - W' S0 come from forward substitution of
  ///   (I + L) U = V,   (I + L) W' = diag(exp(p)) W,
  ///   L[h, t, i] = exp(p[t] - b[i]) w[t] . k[i]   (i < t),
  /// and then
  ///   r[i]  = exp(b[i]) q[i] S0 + sum_{j <= i} exp(b[i] - b[j]) (q[i] . k[j]) D[j]
  ///   S'    = exp(b[C-1]) S0 + sum_j exp(b[C-1] - b[j]) k[j] D[j]^T.
  /// Every exponent is a sum of log decays over steps in order (<= 0).
  void expandDelta(ChunkedDeltaOp op) {
    Location loc = op.getLoc();
    OpBuilder b(op);
    auto keysType = cast<RankedTensorType>(op.getKeys().getType());
    auto valuesType = cast<RankedTensorType>(op.getValues().getType());
    int64_t H = keysType.getDimSize(2), K = keysType.getDimSize(3), V = valuesType.getDimSize(3);
    ChunkGeometry geometry(b, loc, op.getKeys(), op.getChunkSize());
    int64_t C = geometry.C;
    RecurrenceOp recurrence = chunkRecurrence(
        b, loc, geometry, op.getInit(),
        {op.getQueries(), op.getKeys(), op.getCorrectionKeys(), op.getValues(),
         op.getLogDecays()},
        V);
    Block &body = recurrence.getBody();
    OpBuilder s = OpBuilder::atBlockBegin(&body);
    Value state = body.getArgument(0), q = body.getArgument(1), k = body.getArgument(2),
          w = body.getArgument(3), v = body.getArgument(4), g = body.getArgument(5);
    auto add = [](OpBuilder &n, Location l, Value x, Value y) -> Value {
      return arith::AddFOp::create(n, l, x, y);
    };
    auto sub = [](OpBuilder &n, Location l, Value x, Value y) -> Value {
      return arith::SubFOp::create(n, l, x, y);
    };
    auto mul = [](OpBuilder &n, Location l, Value x, Value y) -> Value {
      return arith::MulFOp::create(n, l, x, y);
    };
    auto expOf = [](OpBuilder &n, Location l, Value x) -> Value {
      return math::ExpOp::create(n, l, x);
    };
    auto multiplyAdd = [&](OpBuilder &n, Location l, ValueRange in, Value out) {
      return add(n, l, out, mul(n, l, in[0], in[1]));
    };
    auto slice = [&](OpBuilder &n, Value source, ArrayRef<int64_t> shape,
                     ArrayRef<OpFoldResult> offsets, ArrayRef<int64_t> sizes) -> Value {
      SmallVector<OpFoldResult> sizeAttrs;
      for (int64_t size : sizes)
        sizeAttrs.push_back(n.getIndexAttr(size));
      return tensor::ExtractSliceOp::create(
          n, loc, RankedTensorType::get(shape, n.getF32Type()), source, offsets, sizeAttrs,
          SmallVector<OpFoldResult>(sizes.size(), n.getIndexAttr(1)));
    };

    // The per-head log decays g[i, h] (the same for every key), their
    // inclusive cumulative sums b and the sums before each step p.
    Value perHead = slice(s, g, {C, H}, {s.getIndexAttr(0), s.getIndexAttr(0), s.getIndexAttr(0)},
                          {C, H, 1});
    Value cumulative = inclusiveSum(s, loc, perHead);
    Value before = contraction(s, loc, {cumulative, perHead},
                               zeroFilled(s, loc, ArrayRef<int64_t>{C, H}), {{0, 1}, {0, 1}},
                               {0, 1}, 2, {},
                               [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                 return sub(n, l, in[0], in[1]);
                               });
    Value last = slice(s, cumulative, {H}, {s.getIndexAttr(C - 1), s.getIndexAttr(0)}, {1, H});

    // The keys as [H, K, C] (loops (i, h, k)): the contractions with them
    // below are matmuls whose column i is then contiguous, as the CPU
    // lowering's tiles read them.
    Value keysTransposed =
        contraction(s, loc, {k}, zeroFilled(s, loc, ArrayRef<int64_t>{H, K, C}), {{0, 1, 2}},
                    {1, 2, 0}, 3, {}, [](OpBuilder &, Location, ValueRange in, Value) {
                      return in[0];
                    });
    // L[h, t, i] = exp(p[t] - b[i]) w[t] . k[i] for i < t; loops (h, t, i, k).
    Value overlaps =
        contraction(s, loc, {w, keysTransposed}, zeroFilled(s, loc, ArrayRef<int64_t>{H, C, C}),
                    {{1, 0, 3}, {0, 3, 2}}, {0, 1, 2}, 4, {3}, multiplyAdd);
    // -L: the substitution and D below are then multiply-adds, which the
    // CPU lowering runs as register-tiled matmuls (it takes no other body).
    Value minusLower = contraction(
        s, loc, {overlaps, before, cumulative}, zeroFilled(s, loc, ArrayRef<int64_t>{H, C, C}),
        {{0, 1, 2}, {1, 0}, {2, 0}}, {0, 1, 2}, 3, {},
        [&](OpBuilder &n, Location l, ValueRange in, Value) -> Value {
          Value t = linalg::IndexOp::create(n, l, 1), i = linalg::IndexOp::create(n, l, 2);
          Value earlier = arith::CmpIOp::create(n, l, arith::CmpIPredicate::ult, i, t);
          Value scaled = mul(n, l, in[0], expOf(n, l, sub(n, l, in[1], in[2])));
          return arith::SelectOp::create(n, l, earlier, arith::NegFOp::create(n, l, scaled),
                                         arith::ConstantOp::create(n, l, n.getF32FloatAttr(0)));
        });
    // Right-hand sides: V, and -diag(exp(p)) W (so that the second solution
    // is -W'); loops (t, h, k).
    Value scaledCorrections = contraction(
        s, loc, {w, before}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H, K}), {{0, 1, 2}, {0, 1}},
        {0, 1, 2}, 3, {}, [&](OpBuilder &n, Location l, ValueRange in, Value) -> Value {
          return arith::NegFOp::create(n, l, mul(n, l, in[0], expOf(n, l, in[1])));
        });
    // Forward substitution, one row t at a time: X[t] += sum_i -L[h, t, i] X[i]
    // (L is 0 from i = t on, so the rows not yet solved do not count).
    Value zero = arith::ConstantIndexOp::create(s, loc, 0);
    Value one = arith::ConstantIndexOp::create(s, loc, 1);
    Value steps = arith::ConstantIndexOp::create(s, loc, C);
    auto substitution = scf::ForOp::create(
        s, loc, zero, steps, one, ValueRange{v, scaledCorrections},
        [&](OpBuilder &n, Location l, Value t, ValueRange solved) {
          Value row = slice(n, minusLower, {H, C}, {n.getIndexAttr(0), t, n.getIndexAttr(0)}, {H, 1, C});
          SmallVector<Value> next;
          for (auto [x, width] : llvm::zip(solved, std::array<int64_t, 2>{V, K})) {
            Value own = slice(n, x, {H, width}, {t, n.getIndexAttr(0), n.getIndexAttr(0)},
                              {1, H, width});
            // loops (h, i, x)
            Value updated = contraction(n, l, {row, x}, own, {{0, 1}, {1, 0, 2}}, {0, 2}, 3, {1},
                                        multiplyAdd);
            next.push_back(tensor::InsertSliceOp::create(
                n, l, updated, x, ArrayRef<OpFoldResult>{t, n.getIndexAttr(0), n.getIndexAttr(0)},
                ArrayRef<OpFoldResult>{n.getIndexAttr(1), n.getIndexAttr(H),
                                       n.getIndexAttr(width)},
                SmallVector<OpFoldResult>(3, n.getIndexAttr(1))));
          }
          scf::YieldOp::create(n, l, next);
        });
    // D = U + (-W') S0; loops (i, h, k, v).
    Value deltas = contraction(s, loc, {substitution.getResult(1), state},
                               substitution.getResult(0), {{0, 1, 2}, {1, 2, 3}}, {0, 1, 3}, 4,
                               {2}, multiplyAdd);
    // A[h, i, j] = exp(b[i] - b[j]) q[i] . k[j] for j <= i; loops (h, i, j, k).
    Value raw = contraction(s, loc, {q, keysTransposed},
                            zeroFilled(s, loc, ArrayRef<int64_t>{H, C, C}), {{1, 0, 3}, {0, 3, 2}},
                            {0, 1, 2}, 4, {3}, multiplyAdd);
    Value scores = contraction(s, loc, {raw, cumulative, cumulative},
                               zeroFilled(s, loc, ArrayRef<int64_t>{H, C, C}),
                               {{0, 1, 2}, {1, 0}, {2, 0}}, {0, 1, 2}, 3, {},
                               [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                 Value decay = expOf(n, l, sub(n, l, in[1], in[2]));
                                 return causal(n, l, 1, 2, mul(n, l, in[0], decay));
                               });
    // r[i] = sum_j A[h, i, j] D[j]; loops (i, h, j, v) ...
    Value inside = contraction(s, loc, {scores, deltas}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H, V}),
                               {{1, 0, 2}, {2, 1, 3}}, {0, 1, 3}, 4, {2}, multiplyAdd);
    // ... + (exp(b[i]) q[i]) S0; loops (i, h, k), then (i, h, k, v).
    Value queriesDecayed = contraction(
        s, loc, {q, cumulative}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H, K}),
        {{0, 1, 2}, {0, 1}}, {0, 1, 2}, 3, {},
        [&](OpBuilder &n, Location l, ValueRange in, Value) {
          return mul(n, l, in[0], expOf(n, l, in[1]));
        });
    Value reads = contraction(s, loc, {queriesDecayed, state}, inside, {{0, 1, 2}, {1, 2, 3}},
                              {0, 1, 3}, 4, {2}, multiplyAdd);
    // S' = exp(b[C-1]) S0 + sum_j (exp(b[C-1] - b[j]) k[j]) D[j]^T; loops
    // (h, k, v), then (j, h, k), then (h, k, j, v).
    Value decayed = contraction(s, loc, {last, state}, zeroFilled(s, loc, ArrayRef<int64_t>{H, K, V}),
                                {{0}, {0, 1, 2}}, {0, 1, 2}, 3, {},
                                [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                  return mul(n, l, expOf(n, l, in[0]), in[1]);
                                });
    Value keysToEnd = contraction(
        s, loc, {k, last, cumulative}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H, K}),
        {{0, 1, 2}, {1}, {0, 1}}, {0, 1, 2}, 3, {},
        [&](OpBuilder &n, Location l, ValueRange in, Value) {
          return mul(n, l, in[0], expOf(n, l, sub(n, l, in[1], in[2])));
        });
    Value next = contraction(s, loc, {keysToEnd, deltas}, decayed, {{2, 0, 1}, {2, 0, 3}},
                             {0, 1, 3}, 4, {2}, multiplyAdd);
    YieldOp::create(s, loc, ValueRange{next, reads});

    replaceByChunks(b, loc, geometry, recurrence, op.getReads(), op.getFinalState());
  }

  /// Per-step queries (or a fixed one under a window): one parallel
  /// iteration per (row, query chunk, head) runs the online softmax over
  /// the key chunks its queries see, keeping per query the running max m,
  /// the normaliser l and the weighted sum a of values:
  ///   s = scale Q K^T (masked: causal, window)   m' = max(m, max_j s)
  ///   p = exp(s - m')   l' = exp(m - m') l + sum_j p   a' = exp(m - m') a + p V
  /// and writes a / l. Padding keys come after every real query, so the
  /// causal mask hides them.
  Value expandTiled(OpBuilder &b, ChunkedAttentionOp op) {
    Location loc = op.getLoc();
    auto keysType = cast<RankedTensorType>(op.getKeys().getType());
    auto valuesType = cast<RankedTensorType>(op.getValues().getType());
    int64_t H = keysType.getDimSize(2), K = keysType.getDimSize(3), V = valuesType.getDimSize(3);
    ChunkGeometry geometry(b, loc, op.getKeys(), op.getChunkSize());
    int64_t C = geometry.C;
    auto window = static_cast<int64_t>(op.getWindow());
    double scale = op.getScale().convertToDouble();

    Value queries = op.getQueries();
    if (op.hasFixedQuery()) {
      Value empty = tensor::EmptyOp::create(
          b, loc, ArrayRef<OpFoldResult>{geometry.batch, geometry.length, b.getIndexAttr(H),
                                         b.getIndexAttr(K)},
          b.getF32Type());
      queries = linalg::BroadcastOp::create(b, loc, queries, empty, ArrayRef<int64_t>{0, 1})
                    .getResult()[0];
    }
    Value q = geometry.pad(b, loc, queries), k = geometry.pad(b, loc, op.getKeys()),
          v = geometry.pad(b, loc, op.getValues());
    Value out = tensor::EmptyOp::create(
        b, loc, ArrayRef<OpFoldResult>{geometry.batch, geometry.padded, b.getIndexAttr(H),
                                       b.getIndexAttr(V)},
        b.getF32Type());
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{geometry.batch, geometry.chunks, b.getIndexAttr(H)},
        ValueRange{out}, std::nullopt);
    OpBuilder f = OpBuilder::atBlockBegin(forall.getBody());
    Value row = forall.getInductionVars()[0], chunk = forall.getInductionVars()[1],
          head = forall.getInductionVars()[2];
    Value steps = arith::ConstantIndexOp::create(f, loc, C);
    Value one = arith::ConstantIndexOp::create(f, loc, 1);
    Value first = arith::MulIOp::create(f, loc, chunk, steps);
    Value Q = rowsOf(f, loc, q, row, first, head, C);
    // The key chunks the query chunk sees: from the one holding the first
    // query's window start to its own.
    Value begin = arith::ConstantIndexOp::create(f, loc, 0);
    if (window > 0) {
      Value start = arith::SubIOp::create(
          f, loc, arith::AddIOp::create(f, loc, first, one),
          arith::ConstantIndexOp::create(f, loc, window));
      start = arith::MaxSIOp::create(f, loc, start, begin);
      begin = arith::DivUIOp::create(f, loc, start, steps);
    }
    Value end = arith::AddIOp::create(f, loc, chunk, one);
    SmallVector<Value> initial = {filled(f, loc, staticSizes(f, {C}), kLowest),
                                  zeroFilled(f, loc, ArrayRef<int64_t>{C}),
                                  zeroFilled(f, loc, ArrayRef<int64_t>{C, V})};
    auto keyLoop = scf::ForOp::create(
        f, loc, begin, end, one, initial,
        [&](OpBuilder &n, Location l, Value keyChunk, ValueRange carried) {
          Value m = carried[0], sum = carried[1], acc = carried[2];
          Value keyFirst = arith::MulIOp::create(n, l, keyChunk, steps);
          Value Kc = rowsOf(n, l, k, row, keyFirst, head, C);
          Value Vc = rowsOf(n, l, v, row, keyFirst, head, C);
          // Key j of the chunk is visible to query i when it is not after
          // it and (with a window) fewer than `window` steps before it.
          auto visible = [&](OpBuilder &g, Location gl) -> Value {
            Value i = linalg::IndexOp::create(g, gl, 0), j = linalg::IndexOp::create(g, gl, 1);
            Value query = arith::AddIOp::create(g, gl, first, i);
            Value key = arith::AddIOp::create(g, gl, keyFirst, j);
            Value seen = arith::CmpIOp::create(g, gl, arith::CmpIPredicate::ule, key, query);
            if (window == 0)
              return seen;
            Value reach = arith::AddIOp::create(
                g, gl, key, arith::ConstantIndexOp::create(g, gl, window));
            Value inside = arith::CmpIOp::create(g, gl, arith::CmpIPredicate::ugt, reach, query);
            return arith::AndIOp::create(g, gl, seen, inside);
          };
          // loops (i, j, k)
          Value raw = contraction(n, l, {Q, Kc}, zeroFilled(n, l, ArrayRef<int64_t>{C, C}),
                                  {{0, 2}, {1, 2}}, {0, 1}, 3, {2},
                                  [&](OpBuilder &g, Location gl, ValueRange in, Value o) {
                                    return arith::AddFOp::create(
                                        g, gl, o, arith::MulFOp::create(g, gl, in[0], in[1]));
                                  });
          Value scores = contraction(
              n, l, {raw}, zeroFilled(n, l, ArrayRef<int64_t>{C, C}), {{0, 1}}, {0, 1}, 2, {},
              [&](OpBuilder &g, Location gl, ValueRange in, Value) -> Value {
                Value scaled = arith::MulFOp::create(g, gl, in[0], f32Constant(g, gl, scale));
                return arith::SelectOp::create(g, gl, visible(g, gl), scaled,
                                               f32Constant(g, gl, kLowest));
              });
          Value next = contraction(n, l, {scores}, m, {{0, 1}}, {0}, 2, {1},
                                   [&](OpBuilder &g, Location gl, ValueRange in, Value o) {
                                     return arith::MaximumFOp::create(g, gl, o, in[0]);
                                   });
          Value weights = contraction(
              n, l, {scores, next}, zeroFilled(n, l, ArrayRef<int64_t>{C, C}),
              {{0, 1}, {0}}, {0, 1}, 2, {},
              [&](OpBuilder &g, Location gl, ValueRange in, Value) -> Value {
                Value e = math::ExpOp::create(g, gl, arith::SubFOp::create(g, gl, in[0], in[1]));
                return arith::SelectOp::create(g, gl, visible(g, gl), e, f32Constant(g, gl, 0.0));
              });
          Value rescale = contraction(n, l, {m, next}, zeroFilled(n, l, ArrayRef<int64_t>{C}),
                                      {{0}, {0}}, {0}, 1, {},
                                      [&](OpBuilder &g, Location gl, ValueRange in, Value) {
                                        return math::ExpOp::create(
                                            g, gl, arith::SubFOp::create(g, gl, in[0], in[1]));
                                      });
          Value sumScaled = contraction(n, l, {rescale, sum},
                                        zeroFilled(n, l, ArrayRef<int64_t>{C}), {{0}, {0}},
                                        {0}, 1, {},
                                        [&](OpBuilder &g, Location gl, ValueRange in, Value) {
                                          return arith::MulFOp::create(g, gl, in[0], in[1]);
                                        });
          Value sumNext = contraction(n, l, {weights}, sumScaled, {{0, 1}}, {0}, 2, {1},
                                      [&](OpBuilder &g, Location gl, ValueRange in, Value o) {
                                        return arith::AddFOp::create(g, gl, o, in[0]);
                                      });
          Value accScaled = contraction(n, l, {rescale, acc},
                                        zeroFilled(n, l, ArrayRef<int64_t>{C, V}),
                                        {{0}, {0, 1}}, {0, 1}, 2, {},
                                        [&](OpBuilder &g, Location gl, ValueRange in, Value) {
                                          return arith::MulFOp::create(g, gl, in[0], in[1]);
                                        });
          // loops (i, j, v)
          Value accNext = contraction(n, l, {weights, Vc}, accScaled, {{0, 1}, {1, 2}}, {0, 2},
                                      3, {1},
                                      [&](OpBuilder &g, Location gl, ValueRange in, Value o) {
                                        return arith::AddFOp::create(
                                            g, gl, o, arith::MulFOp::create(g, gl, in[0], in[1]));
                                      });
          scf::YieldOp::create(n, l, ValueRange{next, sumNext, accNext});
        });
    Value outputs = contraction(
        f, loc, {keyLoop.getResult(2), keyLoop.getResult(1)},
        zeroFilled(f, loc, ArrayRef<int64_t>{C, V}), {{0, 1}, {0}}, {0, 1}, 2, {},
        [&](OpBuilder &g, Location gl, ValueRange in, Value) {
          return arith::DivFOp::create(g, gl, in[0], in[1]);
        });
    OpBuilder terminator = OpBuilder::atBlockEnd(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(
        terminator, loc, outputs, forall.getRegionIterArgs()[0],
        ArrayRef<OpFoldResult>{row, first, head, f.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{f.getIndexAttr(1), f.getIndexAttr(C), f.getIndexAttr(1),
                               f.getIndexAttr(V)},
        SmallVector<OpFoldResult>(4, f.getIndexAttr(1)));
    return geometry.trim(b, loc, forall.getResult(0), op.getOutputs().getType());
  }

  /// A fixed query q without a window: o[t] is the prefix over i <= t of
  /// (max, normaliser, weighted sum) of the scores s[i] = scale q . k[i],
  /// combined as (m, l, a) + (m', l', a') = (M, e^(m-M) l + e^(m'-M) l',
  /// e^(m-M) a + e^(m'-M) a'), M = max(m, m'), which is associative. Three
  /// recurrences over chunks: every chunk's summary (parallel), the carry
  /// entering each chunk (in order, one combine per chunk), and each
  /// chunk's own prefix from its carry (parallel).
  Value expandPrefixScan(OpBuilder &b, ChunkedAttentionOp op) {
    Location loc = op.getLoc();
    auto keysType = cast<RankedTensorType>(op.getKeys().getType());
    auto valuesType = cast<RankedTensorType>(op.getValues().getType());
    int64_t H = keysType.getDimSize(2), V = valuesType.getDimSize(3);
    ChunkGeometry geometry(b, loc, op.getKeys(), op.getChunkSize());
    int64_t C = geometry.C;
    double scale = op.getScale().convertToDouble();
    Value query = op.getQueries();
    auto seq = [&](ArrayRef<int64_t> perStep) {
      SmallVector<int64_t> shape = {ShapedType::kDynamic, ShapedType::kDynamic};
      shape.append(perStep.begin(), perStep.end());
      return RankedTensorType::get(shape, b.getF32Type());
    };
    auto add = [](OpBuilder &g, Location l, Value x, Value y) -> Value {
      return arith::AddFOp::create(g, l, x, y);
    };
    auto mul = [](OpBuilder &g, Location l, Value x, Value y) -> Value {
      return arith::MulFOp::create(g, l, x, y);
    };
    auto expDiff = [](OpBuilder &g, Location l, Value x, Value y) -> Value {
      return math::ExpOp::create(g, l, arith::SubFOp::create(g, l, x, y));
    };
    // max(m, m') and the two rescales exp(m - M), exp(m' - M), over [H].
    auto merge = [&](OpBuilder &g, Location l, Value m, Value other) {
      auto over = [&](Value x, Value y, auto body) {
        return contraction(g, l, {x, y}, zeroFilled(g, l, ArrayRef<int64_t>{H}), {{0}, {0}},
                           {0}, 1, {}, body);
      };
      Value top = over(m, other, [](OpBuilder &n, Location nl, ValueRange in, Value) -> Value {
        return arith::MaximumFOp::create(n, nl, in[0], in[1]);
      });
      Value mine = over(m, top, [&](OpBuilder &n, Location nl, ValueRange in, Value) {
        return expDiff(n, nl, in[0], in[1]);
      });
      Value theirs = over(other, top, [&](OpBuilder &n, Location nl, ValueRange in, Value) {
        return expDiff(n, nl, in[0], in[1]);
      });
      return std::make_tuple(top, mine, theirs);
    };
    // x * l + y * l' over [H], and x * a + y * a' over [H, V].
    auto blend = [&](OpBuilder &g, Location l, Value x, Value first, Value y, Value second) {
      auto type = cast<RankedTensorType>(first.getType());
      bool matrix = type.getRank() == 2;
      SmallVector<unsigned> all = matrix ? SmallVector<unsigned>{0, 1} : SmallVector<unsigned>{0};
      return contraction(g, l, {x, first, y, second}, zeroFilled(g, l, type.getShape()),
                         {{0}, all, {0}, all}, all, all.size(), {},
                         [&](OpBuilder &n, Location nl, ValueRange in, Value) {
                           return add(n, nl, mul(n, nl, in[0], in[1]),
                                      mul(n, nl, in[2], in[3]));
                         });
    };

    // Every chunk's scores and summary: loops (j, h, k) and (j, h, v).
    SmallVector<Value> chunked = {geometry.inChunks(b, loc, op.getKeys()),
                                  geometry.inChunks(b, loc, op.getValues())};
    auto summaries = RecurrenceOp::create(
        b, loc, TypeRange{seq({C, H}), seq({H}), seq({H}), seq({H, V})}, geometry.batch,
        geometry.chunks, ValueRange{}, chunked);
    {
      Block &body = summaries.getBody();
      OpBuilder s = OpBuilder::atBlockBegin(&body);
      Value kc = body.getArgument(0), vc = body.getArgument(1);
      Value scores = contraction(s, loc, {query, kc}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H}),
                                 {{1, 2}, {0, 1, 2}}, {0, 1}, 3, {2},
                                 [&](OpBuilder &n, Location l, ValueRange in, Value o) {
                                   Value product = mul(n, l, in[0], in[1]);
                                   return add(n, l, o, mul(n, l, product,
                                                           f32Constant(n, l, scale)));
                                 });
      Value top = contraction(s, loc, {scores}, filled(s, loc, staticSizes(s, {H}), kLowest),
                              {{0, 1}}, {1}, 2, {0},
                              [](OpBuilder &n, Location l, ValueRange in, Value o) -> Value {
                                return arith::MaximumFOp::create(n, l, o, in[0]);
                              });
      Value weights = contraction(s, loc, {scores, top},
                                  zeroFilled(s, loc, ArrayRef<int64_t>{C, H}), {{0, 1}, {1}},
                                  {0, 1}, 2, {},
                                  [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                    return expDiff(n, l, in[0], in[1]);
                                  });
      Value total = contraction(s, loc, {weights}, zeroFilled(s, loc, ArrayRef<int64_t>{H}),
                                {{0, 1}}, {1}, 2, {0},
                                [&](OpBuilder &n, Location l, ValueRange in, Value o) {
                                  return add(n, l, o, in[0]);
                                });
      Value weighted = contraction(s, loc, {weights, vc},
                                   zeroFilled(s, loc, ArrayRef<int64_t>{H, V}),
                                   {{0, 1}, {0, 1, 2}}, {1, 2}, 3, {0},
                                   [&](OpBuilder &n, Location l, ValueRange in, Value o) {
                                     return add(n, l, o, mul(n, l, in[0], in[1]));
                                   });
      YieldOp::create(s, loc, ValueRange{scores, top, total, weighted});
    }

    // The carry entering each chunk: states (m, l, a), outputs their values
    // before the chunk's summary joins them.
    OpFoldResult heads = b.getIndexAttr(H), width = b.getIndexAttr(V);
    SmallVector<Value> start = {filled(b, loc, {geometry.batch, heads}, kLowest),
                                zeroFilled(b, loc, {geometry.batch, heads}),
                                zeroFilled(b, loc, {geometry.batch, heads, width})};
    SmallVector<Type> carryTypes;
    for (Value init : start)
      carryTypes.push_back(init.getType());
    carryTypes.append({seq({H}), seq({H}), seq({H, V})});
    auto carries = RecurrenceOp::create(b, loc, carryTypes, geometry.batch, geometry.chunks, start,
                                        summaries.getResults().drop_front());
    {
      Block &body = carries.getBody();
      OpBuilder s = OpBuilder::atBlockBegin(&body);
      Value m = body.getArgument(0), l = body.getArgument(1), a = body.getArgument(2);
      auto [top, mine, theirs] = merge(s, loc, m, body.getArgument(3));
      Value total = blend(s, loc, mine, l, theirs, body.getArgument(4));
      Value weighted = blend(s, loc, mine, a, theirs, body.getArgument(5));
      YieldOp::create(s, loc, ValueRange{top, total, weighted, m, l, a});
    }

    // Each chunk's own prefix, step by step from its carry.
    auto outputs = RecurrenceOp::create(
        b, loc, TypeRange{seq({C, H, V})}, geometry.batch, geometry.chunks, ValueRange{},
        ValueRange{summaries.getResult(0), chunked[1], carries.getResult(3),
                   carries.getResult(4), carries.getResult(5)});
    {
      Block &body = outputs.getBody();
      OpBuilder s = OpBuilder::atBlockBegin(&body);
      Value scores = body.getArgument(0), vc = body.getArgument(1);
      Value zero = arith::ConstantIndexOp::create(s, loc, 0);
      Value one = arith::ConstantIndexOp::create(s, loc, 1);
      Value steps = arith::ConstantIndexOp::create(s, loc, C);
      Value rows = tensor::EmptyOp::create(s, loc, ArrayRef<int64_t>{C, H, V}, s.getF32Type());
      auto loop = scf::ForOp::create(
          s, loc, zero, steps, one,
          ValueRange{body.getArgument(2), body.getArgument(3), body.getArgument(4), rows},
          [&](OpBuilder &n, Location l, Value i, ValueRange carried) {
            Value score = tensor::ExtractSliceOp::create(
                n, l, RankedTensorType::get({H}, n.getF32Type()), scores,
                ArrayRef<OpFoldResult>{i, n.getIndexAttr(0)},
                ArrayRef<OpFoldResult>{n.getIndexAttr(1), n.getIndexAttr(H)},
                ArrayRef<OpFoldResult>{n.getIndexAttr(1), n.getIndexAttr(1)});
            auto rowType = RankedTensorType::get({H, V}, n.getF32Type());
            SmallVector<OpFoldResult> rowOffsets = {i, n.getIndexAttr(0), n.getIndexAttr(0)},
                                      rowSizes = {n.getIndexAttr(1), n.getIndexAttr(H),
                                                  n.getIndexAttr(V)},
                                      unit(3, n.getIndexAttr(1));
            Value value =
                tensor::ExtractSliceOp::create(n, l, rowType, vc, rowOffsets, rowSizes, unit);
            auto [top, mine, theirs] = merge(n, l, carried[0], score);
            Value ones = filled(n, l, staticSizes(n, {H}), 1.0);
            Value total = blend(n, l, mine, carried[1], theirs, ones);
            Value weighted = blend(n, l, mine, carried[2], theirs, value);
            Value output = contraction(n, l, {weighted, total},
                                       zeroFilled(n, l, ArrayRef<int64_t>{H, V}), {{0, 1}, {0}},
                                       {0, 1}, 2, {},
                                       [](OpBuilder &g, Location gl, ValueRange in, Value) {
                                         return arith::DivFOp::create(g, gl, in[0], in[1]);
                                       });
            Value written = tensor::InsertSliceOp::create(n, l, output, carried[3], rowOffsets,
                                                          rowSizes, unit);
            scf::YieldOp::create(n, l, ValueRange{top, total, weighted, written});
          });
      YieldOp::create(s, loc, loop.getResult(3));
    }
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, outputs.getResult(0), SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    return geometry.trim(b, loc, flat, op.getOutputs().getType());
  }
};

} // namespace
} // namespace mlir::rec
