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
// the CPU lowering (seqc-tile-contractions) runs those that are
// multiply-adds with one input contiguous along the output's last axis as
// register-tiled matmuls, so the expansions are written in that shape.
//
// rec.chunked_delta takes the same shape, its step solving the chunk's
// corrections by forward substitution first (DeltaChunk);
// rec.chunked_attention becomes a parallel loop over query chunks, or three
// recurrences over chunks for a fixed query (ChunkedAttentionExpansion.cpp).
//
//===----------------------------------------------------------------------===//
#include "ChunkExpansion.h"
#include "Passes.h"
#include "ScalarReductions.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::rec {
#define GEN_PASS_DEF_RECEXPANDCHUNKED
#include "Passes.h.inc"

namespace {

/// A static slice of `source` of `sizes` at `offsets`, typed `shape` (unit
/// axes dropped).
Value staticSlice(OpBuilder &b, Location loc, Value source, ArrayRef<int64_t> shape,
                  ArrayRef<OpFoldResult> offsets, ArrayRef<int64_t> sizes) {
  SmallVector<OpFoldResult> sizeAttrs;
  for (int64_t size : sizes)
    sizeAttrs.push_back(b.getIndexAttr(size));
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, b.getF32Type()), source, offsets, sizeAttrs,
      SmallVector<OpFoldResult>(sizes.size(), b.getIndexAttr(1)));
}

/// The step of rec.chunked's recurrence over chunks: one chunk of decayed
/// outer products (the formulas of the file's header).
class OuterProductChunk {
public:
  OuterProductChunk(OpBuilder &s, Location loc, Block &body, int64_t C, int64_t H, int64_t K,
                    int64_t V)
      : s(s), loc(loc), C(C), H(H), K(K), V(V), state(body.getArgument(0)),
        q(body.getArgument(1)), k(body.getArgument(2)), v(body.getArgument(3)),
        g(body.getArgument(4)) {}

  void build() {
    // b[i, h, k] = sum_{j <= i} g[j, h, k], and b[C-1, h, k].
    cumulative = inclusiveSum(s, loc, g);
    last = staticSlice(s, loc, cumulative, {H, K},
                       {s.getIndexAttr(C - 1), s.getIndexAttr(0), s.getIndexAttr(0)}, {1, H, K});
    Value reads = readsOf(scores());
    YieldOp::create(s, loc, ValueRange{nextState(), reads});
  }

private:
  /// A[h, i, j]: when the chunk's decays are mild (every key's total log
  /// decay b[C-1] >= -kFactorisedLimit), as (q exp(b)) (k exp(-b))^T:
  /// exp(-b[j]) <= exp(kFactorisedLimit) cannot overflow, the products are
  /// as precise as the exact form's, and it takes 2 C exps per key instead
  /// of C^2. Otherwise the exact form, one exp per (i, j, key).
  Value scores() {
    Value mildest = minimumOfAll(s, loc, last);
    Value mild = arith::CmpFOp::create(
        s, loc, arith::CmpFPredicate::OGE, mildest,
        arith::ConstantOp::create(s, loc, s.getF32FloatAttr(-kFactorisedLimit)));
    auto scoresType = RankedTensorType::get({H, C, C}, s.getF32Type());
    auto choice = scf::IfOp::create(s, loc, TypeRange{scoresType}, mild, /*withElseRegion=*/true);
    OpBuilder f = OpBuilder::atBlockBegin(choice.thenBlock());
    scf::YieldOp::create(f, loc, factorisedScores(f));
    OpBuilder e = OpBuilder::atBlockBegin(choice.elseBlock());
    scf::YieldOp::create(e, loc, exactScores(e));
    return choice.getResult(0);
  }

  Value factorisedScores(OpBuilder &f) {
    // q exp(b) as [C, H, K]; k exp(-b) as [H, K, C] (loops (j, h, k)), so
    // that the scores' column j is contiguous in it, as the matmul tiles of
    // the CPU lowering read it.
    auto scaled = [&](Value x, bool negate, ArrayRef<int64_t> shape, ArrayRef<unsigned> dims) {
      return contraction(f, loc, {x, cumulative}, zeroFilled(f, loc, shape),
                         {{0, 1, 2}, {0, 1, 2}}, dims, 3, {},
                         [&](OpBuilder &n, Location l, ValueRange in, Value) {
                           Value e = negate ? Value(arith::NegFOp::create(n, l, in[1])) : in[1];
                           return mulF(n, l, in[0], expF(n, l, e));
                         });
    };
    Value qs = scaled(q, false, {C, H, K}, {0, 1, 2});
    Value ksTransposed = scaled(k, true, {H, K, C}, {1, 2, 0});
    // loops (h, i, j, k)
    Value raw = contraction(f, loc, {qs, ksTransposed}, zeroFilled(f, loc, {H, C, C}),
                            {{1, 0, 3}, {0, 3, 2}}, {0, 1, 2}, 4, {3}, multiplyAdd);
    return contraction(f, loc, {raw}, zeroFilled(f, loc, {H, C, C}), {{0, 1, 2}}, {0, 1, 2}, 3,
                       {}, [&](OpBuilder &n, Location l, ValueRange in, Value) {
                         return causal(n, l, 1, 2, in[0]);
                       });
  }

  Value exactScores(OpBuilder &e) {
    // loops (h, i, j, k)
    return contraction(
        e, loc, {q, k, cumulative, cumulative}, zeroFilled(e, loc, {H, C, C}),
        {{1, 0, 3}, {2, 0, 3}, {1, 0, 3}, {2, 0, 3}}, {0, 1, 2}, 4, {3},
        [&](OpBuilder &n, Location l, ValueRange in, Value out) {
          Value decay = expF(n, l, subF(n, l, in[2], in[3]));
          return addF(n, l, out, causal(n, l, 1, 2, mulF(n, l, mulF(n, l, in[0], in[1]), decay)));
        });
  }

  /// Inside the chunk, r[i, h, v] = sum_j A[h, i, j] v[j, h, v]; then from
  /// the state entering the chunk, (q exp(b)) S. The decays are applied to
  /// q first (C x K exps), not inside the contraction with the state
  /// (C x K x V).
  Value readsOf(Value scores) {
    // loops (i, h, j, v)
    Value inside = contraction(s, loc, {scores, v}, zeroFilled(s, loc, {C, H, V}),
                               {{1, 0, 2}, {2, 1, 3}}, {0, 1, 3}, 4, {2}, multiplyAdd);
    // loops (i, h, k) then (i, h, k, v).
    Value queriesDecayed = contraction(
        s, loc, {q, cumulative}, zeroFilled(s, loc, {C, H, K}), {{0, 1, 2}, {0, 1, 2}}, {0, 1, 2},
        3, {}, [&](OpBuilder &n, Location l, ValueRange in, Value) {
          return mulF(n, l, in[0], expF(n, l, in[1]));
        });
    return contraction(s, loc, {queriesDecayed, state}, inside, {{0, 1, 2}, {1, 2, 3}},
                       {0, 1, 3}, 4, {2}, multiplyAdd);
  }

  /// S' = exp(b[C-1]) S + sum_j (k[j] exp(b[C-1] - b[j])) v[j]^T.
  Value nextState() {
    // loops (h, k) then (h, k, v).
    Value lastDecay = contraction(s, loc, {last}, zeroFilled(s, loc, {H, K}), {{0, 1}}, {0, 1}, 2,
                                  {}, [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                    return expF(n, l, in[0]);
                                  });
    Value decayed = contraction(s, loc, {lastDecay, state}, zeroFilled(s, loc, {H, K, V}),
                                {{0, 1}, {0, 1, 2}}, {0, 1, 2}, 3, {},
                                [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                  return mulF(n, l, in[0], in[1]);
                                });
    // loops (j, h, k) then (h, k, j, v).
    Value keysToEnd = contraction(
        s, loc, {k, last, cumulative}, zeroFilled(s, loc, {C, H, K}),
        {{0, 1, 2}, {1, 2}, {0, 1, 2}}, {0, 1, 2}, 3, {},
        [&](OpBuilder &n, Location l, ValueRange in, Value) {
          return mulF(n, l, in[0], expF(n, l, subF(n, l, in[1], in[2])));
        });
    return contraction(s, loc, {keysToEnd, v}, decayed, {{2, 0, 1}, {2, 0, 3}}, {0, 1, 3}, 4,
                       {2}, multiplyAdd);
  }

  OpBuilder &s;
  Location loc;
  int64_t C, H, K, V;
  Value state, q, k, v, g;
  Value cumulative, last;
};

/// The step of rec.chunked_delta's recurrence over chunks. With b the
/// cumulative log decay of the chunk (inclusive) and p = b - g (before the
/// step), the corrections D = U - W' S0 come from forward substitution of
///   (I + L) U = V,   (I + L) W' = diag(exp(p)) W,
///   L[h, t, i] = exp(p[t] - b[i]) w[t] . k[i]   (i < t),
/// and then
///   r[i]  = exp(b[i]) q[i] S0 + sum_{j <= i} exp(b[i] - b[j]) (q[i] . k[j]) D[j]
///   S'    = exp(b[C-1]) S0 + sum_j exp(b[C-1] - b[j]) k[j] D[j]^T.
/// Every exponent is a sum of log decays over steps in order (<= 0).
class DeltaChunk {
public:
  DeltaChunk(OpBuilder &s, Location loc, Block &body, int64_t C, int64_t H, int64_t K, int64_t V)
      : s(s), loc(loc), C(C), H(H), K(K), V(V), state(body.getArgument(0)),
        q(body.getArgument(1)), k(body.getArgument(2)), w(body.getArgument(3)),
        v(body.getArgument(4)), g(body.getArgument(5)) {}

  void build() {
    decays();
    // The keys as [H, K, C] (loops (i, h, k)): the contractions with them
    // below are matmuls whose column i is then contiguous, as the CPU
    // lowering's tiles read them.
    keysTransposed = contraction(s, loc, {k}, zeroFilled(s, loc, ArrayRef<int64_t>{H, K, C}),
                                 {{0, 1, 2}}, {1, 2, 0}, 3, {},
                                 [](OpBuilder &, Location, ValueRange in, Value) { return in[0]; });
    Value deltas = correctedValues(minusLower());
    Value reads = readsOf(scores(), deltas);
    YieldOp::create(s, loc, ValueRange{nextState(deltas), reads});
  }

private:
  /// The per-head log decays g[i, h] (the same for every key), their
  /// inclusive cumulative sums b, the sums before each step p, and b[C-1].
  void decays() {
    Value perHead = staticSlice(s, loc, g, {C, H},
                                {s.getIndexAttr(0), s.getIndexAttr(0), s.getIndexAttr(0)},
                                {C, H, 1});
    cumulative = inclusiveSum(s, loc, perHead);
    before = contraction(s, loc, {cumulative, perHead},
                         zeroFilled(s, loc, ArrayRef<int64_t>{C, H}), {{0, 1}, {0, 1}}, {0, 1}, 2,
                         {}, [&](OpBuilder &n, Location l, ValueRange in, Value) {
                           return subF(n, l, in[0], in[1]);
                         });
    last = staticSlice(s, loc, cumulative, {H}, {s.getIndexAttr(C - 1), s.getIndexAttr(0)},
                       {1, H});
  }

  /// -L[h, t, i] = -exp(p[t] - b[i]) w[t] . k[i] for i < t: negated, the
  /// substitution and D below are multiply-adds, which the CPU lowering
  /// runs as register-tiled matmuls (it takes no other body).
  Value minusLower() {
    // loops (h, t, i, k)
    Value overlaps =
        contraction(s, loc, {w, keysTransposed}, zeroFilled(s, loc, ArrayRef<int64_t>{H, C, C}),
                    {{1, 0, 3}, {0, 3, 2}}, {0, 1, 2}, 4, {3}, multiplyAdd);
    return contraction(
        s, loc, {overlaps, before, cumulative}, zeroFilled(s, loc, ArrayRef<int64_t>{H, C, C}),
        {{0, 1, 2}, {1, 0}, {2, 0}}, {0, 1, 2}, 3, {},
        [&](OpBuilder &n, Location l, ValueRange in, Value) -> Value {
          Value t = linalg::IndexOp::create(n, l, 1), i = linalg::IndexOp::create(n, l, 2);
          Value earlier = arith::CmpIOp::create(n, l, arith::CmpIPredicate::ult, i, t);
          Value scaled = mulF(n, l, in[0], expF(n, l, subF(n, l, in[1], in[2])));
          return arith::SelectOp::create(n, l, earlier, arith::NegFOp::create(n, l, scaled),
                                         arith::ConstantOp::create(n, l, n.getF32FloatAttr(0)));
        });
  }

  /// D = U + (-W') S0, after solving (I + L) U = V and (I + L) (-W') =
  /// -diag(exp(p)) W by forward substitution.
  Value correctedValues(Value minusL) {
    // Right-hand sides: V, and -diag(exp(p)) W (so that the second solution
    // is -W'); loops (t, h, k).
    Value scaledCorrections = contraction(
        s, loc, {w, before}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H, K}), {{0, 1, 2}, {0, 1}},
        {0, 1, 2}, 3, {}, [&](OpBuilder &n, Location l, ValueRange in, Value) -> Value {
          return arith::NegFOp::create(n, l, mulF(n, l, in[0], expF(n, l, in[1])));
        });
    scf::ForOp substitution = substitute(minusL, {v, scaledCorrections});
    // loops (i, h, k, v).
    return contraction(s, loc, {substitution.getResult(1), state}, substitution.getResult(0),
                       {{0, 1, 2}, {1, 2, 3}}, {0, 1, 3}, 4, {2}, multiplyAdd);
  }

  /// Forward substitution, one row t at a time: X[t] += sum_i -L[h, t, i]
  /// X[i] (L is 0 from i = t on, so the rows not yet solved do not count).
  scf::ForOp substitute(Value minusL, ValueRange rightHandSides) {
    Value zero = arith::ConstantIndexOp::create(s, loc, 0);
    Value one = arith::ConstantIndexOp::create(s, loc, 1);
    Value steps = arith::ConstantIndexOp::create(s, loc, C);
    return scf::ForOp::create(
        s, loc, zero, steps, one, rightHandSides,
        [&](OpBuilder &n, Location l, Value t, ValueRange solved) {
          Value row = staticSlice(n, loc, minusL, {H, C},
                                  {n.getIndexAttr(0), t, n.getIndexAttr(0)}, {H, 1, C});
          SmallVector<Value> next;
          for (auto [x, width] : llvm::zip(solved, std::array<int64_t, 2>{V, K})) {
            Value own = staticSlice(n, loc, x, {H, width},
                                    {t, n.getIndexAttr(0), n.getIndexAttr(0)}, {1, H, width});
            // loops (h, i, x)
            Value updated =
                contraction(n, l, {row, x}, own, {{0, 1}, {1, 0, 2}}, {0, 2}, 3, {1}, multiplyAdd);
            next.push_back(tensor::InsertSliceOp::create(
                n, l, updated, x, ArrayRef<OpFoldResult>{t, n.getIndexAttr(0), n.getIndexAttr(0)},
                ArrayRef<OpFoldResult>{n.getIndexAttr(1), n.getIndexAttr(H),
                                       n.getIndexAttr(width)},
                SmallVector<OpFoldResult>(3, n.getIndexAttr(1))));
          }
          scf::YieldOp::create(n, l, next);
        });
  }

  /// A[h, i, j] = exp(b[i] - b[j]) q[i] . k[j] for j <= i; loops (h, i, j, k).
  Value scores() {
    Value raw = contraction(s, loc, {q, keysTransposed},
                            zeroFilled(s, loc, ArrayRef<int64_t>{H, C, C}), {{1, 0, 3}, {0, 3, 2}},
                            {0, 1, 2}, 4, {3}, multiplyAdd);
    return contraction(s, loc, {raw, cumulative, cumulative},
                       zeroFilled(s, loc, ArrayRef<int64_t>{H, C, C}),
                       {{0, 1, 2}, {1, 0}, {2, 0}}, {0, 1, 2}, 3, {},
                       [&](OpBuilder &n, Location l, ValueRange in, Value) {
                         Value decay = expF(n, l, subF(n, l, in[1], in[2]));
                         return causal(n, l, 1, 2, mulF(n, l, in[0], decay));
                       });
  }

  /// r[i] = sum_j A[h, i, j] D[j] + (exp(b[i]) q[i]) S0.
  Value readsOf(Value scores, Value deltas) {
    // loops (i, h, j, v) ...
    Value inside =
        contraction(s, loc, {scores, deltas}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H, V}),
                    {{1, 0, 2}, {2, 1, 3}}, {0, 1, 3}, 4, {2}, multiplyAdd);
    // ... then (i, h, k), then (i, h, k, v).
    Value queriesDecayed = contraction(
        s, loc, {q, cumulative}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H, K}),
        {{0, 1, 2}, {0, 1}}, {0, 1, 2}, 3, {},
        [&](OpBuilder &n, Location l, ValueRange in, Value) {
          return mulF(n, l, in[0], expF(n, l, in[1]));
        });
    return contraction(s, loc, {queriesDecayed, state}, inside, {{0, 1, 2}, {1, 2, 3}},
                       {0, 1, 3}, 4, {2}, multiplyAdd);
  }

  /// S' = exp(b[C-1]) S0 + sum_j (exp(b[C-1] - b[j]) k[j]) D[j]^T; loops
  /// (h, k, v), then (j, h, k), then (h, k, j, v).
  Value nextState(Value deltas) {
    Value decayed =
        contraction(s, loc, {last, state}, zeroFilled(s, loc, ArrayRef<int64_t>{H, K, V}),
                    {{0}, {0, 1, 2}}, {0, 1, 2}, 3, {},
                    [&](OpBuilder &n, Location l, ValueRange in, Value) {
                      return mulF(n, l, expF(n, l, in[0]), in[1]);
                    });
    Value keysToEnd = contraction(
        s, loc, {k, last, cumulative}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H, K}),
        {{0, 1, 2}, {1}, {0, 1}}, {0, 1, 2}, 3, {},
        [&](OpBuilder &n, Location l, ValueRange in, Value) {
          return mulF(n, l, in[0], expF(n, l, subF(n, l, in[1], in[2])));
        });
    return contraction(s, loc, {keysToEnd, deltas}, decayed, {{2, 0, 1}, {2, 0, 3}}, {0, 1, 3},
                       4, {2}, multiplyAdd);
  }

  OpBuilder &s;
  Location loc;
  int64_t C, H, K, V;
  Value state, q, k, w, v, g;
  Value cumulative, before, last, keysTransposed;
};

/// The sizes H, K and V of a chunked op's [B, T, H, K] keys and [B, T, H, V]
/// values.
std::tuple<int64_t, int64_t, int64_t> headSizes(Value keys, Value values) {
  auto keysType = cast<RankedTensorType>(keys.getType());
  auto valuesType = cast<RankedTensorType>(values.getType());
  return {keysType.getDimSize(2), keysType.getDimSize(3), valuesType.getDimSize(3)};
}

void expandOuterProducts(ChunkedOp op) {
  Location loc = op.getLoc();
  OpBuilder b(op);
  auto [H, K, V] = headSizes(op.getKeys(), op.getValues());
  ChunkGeometry geometry(b, loc, op.getKeys(), op.getChunkSize());
  RecurrenceOp recurrence =
      chunkRecurrence(b, loc, geometry, op.getInit(),
                      {op.getQueries(), op.getKeys(), op.getValues(), op.getLogDecays()}, V);
  Block &body = recurrence.getBody();
  OpBuilder s = OpBuilder::atBlockBegin(&body);
  OuterProductChunk(s, loc, body, geometry.C, H, K, V).build();
  replaceByChunks(b, loc, geometry, recurrence, op.getReads(), op.getFinalState());
}

void expandDeltaRule(ChunkedDeltaOp op) {
  Location loc = op.getLoc();
  OpBuilder b(op);
  auto [H, K, V] = headSizes(op.getKeys(), op.getValues());
  ChunkGeometry geometry(b, loc, op.getKeys(), op.getChunkSize());
  RecurrenceOp recurrence = chunkRecurrence(b, loc, geometry, op.getInit(),
                                            {op.getQueries(), op.getKeys(), op.getCorrectionKeys(),
                                             op.getValues(), op.getLogDecays()},
                                            V);
  Block &body = recurrence.getBody();
  OpBuilder s = OpBuilder::atBlockBegin(&body);
  DeltaChunk(s, loc, body, geometry.C, H, K, V).build();
  replaceByChunks(b, loc, geometry, recurrence, op.getReads(), op.getFinalState());
}

struct RecExpandChunkedPass : impl::RecExpandChunkedBase<RecExpandChunkedPass> {
  void runOnOperation() override {
    SmallVector<ChunkedOp> ops;
    getOperation()->walk([&](ChunkedOp op) { ops.push_back(op); });
    for (ChunkedOp op : ops) {
      expandOuterProducts(op);
      op.erase();
    }
    SmallVector<ChunkedDeltaOp> deltas;
    getOperation()->walk([&](ChunkedDeltaOp op) { deltas.push_back(op); });
    for (ChunkedDeltaOp op : deltas) {
      expandDeltaRule(op);
      op.erase();
    }
    SmallVector<ChunkedAttentionOp> attentions;
    getOperation()->walk([&](ChunkedAttentionOp op) { attentions.push_back(op); });
    for (ChunkedAttentionOp op : attentions) {
      OpBuilder b(op);
      Value outputs = op.hasFixedQuery() && op.getWindow() == 0
                          ? expandAttentionPrefixScan(b, op)
                          : expandTiledAttention(b, op);
      op.getOutputs().replaceAllUsesWith(outputs);
      op.erase();
    }
  }
};

} // namespace
} // namespace mlir::rec
