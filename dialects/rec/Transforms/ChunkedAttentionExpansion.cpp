//===- ChunkedAttentionExpansion.cpp - rec.chunked_attention as loops -----===//
//
// The two expansions of rec.chunked_attention in rec-expand-chunked:
//   - per-step queries (or a fixed one under a window): one parallel
//     iteration per (row, query chunk, head) runs the online softmax of
//     FlashAttention over the key chunks its queries see;
//   - a fixed query without a window: a prefix scan over chunks of the
//     softmax's (max, normaliser, weighted sum), O(T) work instead of O(T^2).
//
//===----------------------------------------------------------------------===//
#include "ChunkExpansion.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <tuple>

namespace mlir::rec {
namespace {

/// Per-step queries: for each query the running max m, the normaliser l and
/// the weighted sum a of values, over the key chunks it sees:
///   s = scale Q K^T (masked: causal, window)   m' = max(m, max_j s)
///   p = exp(s - m')   l' = exp(m - m') l + sum_j p   a' = exp(m - m') a + p V
/// and the output a / l. Padding keys come after every real query, so the
/// causal mask hides them.
class TiledAttention {
public:
  TiledAttention(OpBuilder &b, ChunkedAttentionOp op)
      : b(b), op(op), loc(op.getLoc()), geometry(b, loc, op.getKeys(), op.getChunkSize()),
        C(geometry.C), window(static_cast<int64_t>(op.getWindow())),
        scale(op.getScale().convertToDouble()) {
    auto keysType = cast<RankedTensorType>(op.getKeys().getType());
    H = keysType.getDimSize(2);
    K = keysType.getDimSize(3);
    V = cast<RankedTensorType>(op.getValues().getType()).getDimSize(3);
  }

  Value build() {
    Value queries = op.getQueries();
    if (op.hasFixedQuery()) {
      Value empty = tensor::EmptyOp::create(
          b, loc, ArrayRef<OpFoldResult>{geometry.batch, geometry.length, b.getIndexAttr(H),
                                         b.getIndexAttr(K)},
          b.getF32Type());
      queries = linalg::BroadcastOp::create(b, loc, queries, empty, ArrayRef<int64_t>{0, 1})
                    .getResult()[0];
    }
    q = geometry.pad(b, loc, queries);
    k = geometry.pad(b, loc, op.getKeys());
    v = geometry.pad(b, loc, op.getValues());
    Value out = tensor::EmptyOp::create(
        b, loc, ArrayRef<OpFoldResult>{geometry.batch, geometry.padded, b.getIndexAttr(H),
                                       b.getIndexAttr(V)},
        b.getF32Type());
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{geometry.batch, geometry.chunks, b.getIndexAttr(H)},
        ValueRange{out}, std::nullopt);
    OpBuilder f = OpBuilder::atBlockBegin(forall.getBody());
    row = forall.getInductionVars()[0];
    head = forall.getInductionVars()[2];
    Value outputs = queryChunk(f, forall.getInductionVars()[1]);
    OpBuilder terminator = OpBuilder::atBlockEnd(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(
        terminator, loc, outputs, forall.getRegionIterArgs()[0],
        ArrayRef<OpFoldResult>{row, first, head, f.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{f.getIndexAttr(1), f.getIndexAttr(C), f.getIndexAttr(1),
                               f.getIndexAttr(V)},
        SmallVector<OpFoldResult>(4, f.getIndexAttr(1)));
    return geometry.trim(b, loc, forall.getResult(0), op.getOutputs().getType());
  }

private:
  /// The outputs of query chunk `chunk` of (row, head), [C, V].
  Value queryChunk(OpBuilder &f, Value chunk) {
    steps = arith::ConstantIndexOp::create(f, loc, C);
    Value one = arith::ConstantIndexOp::create(f, loc, 1);
    first = arith::MulIOp::create(f, loc, chunk, steps);
    Q = rowsOf(f, loc, q, row, first, head, C);
    // The key chunks the query chunk sees: from the one holding the first
    // query's window start to its own.
    Value begin = arith::ConstantIndexOp::create(f, loc, 0);
    if (window > 0) {
      Value start = arith::SubIOp::create(f, loc, arith::AddIOp::create(f, loc, first, one),
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
          scf::YieldOp::create(n, l, keyChunkStep(n, l, keyChunk, carried));
        });
    return contraction(f, loc, {keyLoop.getResult(2), keyLoop.getResult(1)},
                       zeroFilled(f, loc, ArrayRef<int64_t>{C, V}), {{0, 1}, {0}}, {0, 1}, 2, {},
                       [&](OpBuilder &g, Location gl, ValueRange in, Value) {
                         return arith::DivFOp::create(g, gl, in[0], in[1]);
                       });
  }

  /// Whether key j of the key chunk at `keyFirst` is visible to query i
  /// (loops 0 and 1 of the enclosing generic): not after it and, with a
  /// window, fewer than `window` steps before it.
  Value visible(OpBuilder &g, Location gl, Value keyFirst) {
    Value i = linalg::IndexOp::create(g, gl, 0), j = linalg::IndexOp::create(g, gl, 1);
    Value query = arith::AddIOp::create(g, gl, first, i);
    Value key = arith::AddIOp::create(g, gl, keyFirst, j);
    Value seen = arith::CmpIOp::create(g, gl, arith::CmpIPredicate::ule, key, query);
    if (window == 0)
      return seen;
    Value reach =
        arith::AddIOp::create(g, gl, key, arith::ConstantIndexOp::create(g, gl, window));
    Value inside = arith::CmpIOp::create(g, gl, arith::CmpIPredicate::ugt, reach, query);
    return arith::AndIOp::create(g, gl, seen, inside);
  }

  /// The masked, scaled scores of the query chunk against one key chunk.
  Value scoresOf(OpBuilder &n, Location l, Value Kc, Value keyFirst) {
    // loops (i, j, k)
    Value raw = contraction(n, l, {Q, Kc}, zeroFilled(n, l, ArrayRef<int64_t>{C, C}),
                            {{0, 2}, {1, 2}}, {0, 1}, 3, {2}, multiplyAdd);
    return contraction(n, l, {raw}, zeroFilled(n, l, ArrayRef<int64_t>{C, C}), {{0, 1}}, {0, 1},
                       2, {}, [&](OpBuilder &g, Location gl, ValueRange in, Value) -> Value {
                         Value scaled = mulF(g, gl, in[0], f32Constant(g, gl, scale));
                         return arith::SelectOp::create(g, gl, visible(g, gl, keyFirst), scaled,
                                                        f32Constant(g, gl, kLowest));
                       });
  }

  /// One key chunk of the online softmax: (m, l, a) -> (m', l', a').
  SmallVector<Value> keyChunkStep(OpBuilder &n, Location l, Value keyChunk, ValueRange carried) {
    Value m = carried[0], sum = carried[1], acc = carried[2];
    Value keyFirst = arith::MulIOp::create(n, l, keyChunk, steps);
    Value Kc = rowsOf(n, l, k, row, keyFirst, head, C);
    Value Vc = rowsOf(n, l, v, row, keyFirst, head, C);
    Value scores = scoresOf(n, l, Kc, keyFirst);
    Value next = contraction(n, l, {scores}, m, {{0, 1}}, {0}, 2, {1},
                             [&](OpBuilder &g, Location gl, ValueRange in, Value o) {
                               return arith::MaximumFOp::create(g, gl, o, in[0]);
                             });
    Value weights = contraction(
        n, l, {scores, next}, zeroFilled(n, l, ArrayRef<int64_t>{C, C}), {{0, 1}, {0}}, {0, 1},
        2, {}, [&](OpBuilder &g, Location gl, ValueRange in, Value) -> Value {
          Value e = expF(g, gl, subF(g, gl, in[0], in[1]));
          return arith::SelectOp::create(g, gl, visible(g, gl, keyFirst), e,
                                         f32Constant(g, gl, 0.0));
        });
    Value rescale = contraction(n, l, {m, next}, zeroFilled(n, l, ArrayRef<int64_t>{C}),
                                {{0}, {0}}, {0}, 1, {},
                                [&](OpBuilder &g, Location gl, ValueRange in, Value) {
                                  return expF(g, gl, subF(g, gl, in[0], in[1]));
                                });
    Value sumScaled = contraction(n, l, {rescale, sum}, zeroFilled(n, l, ArrayRef<int64_t>{C}),
                                  {{0}, {0}}, {0}, 1, {},
                                  [&](OpBuilder &g, Location gl, ValueRange in, Value) {
                                    return mulF(g, gl, in[0], in[1]);
                                  });
    Value sumNext = contraction(n, l, {weights}, sumScaled, {{0, 1}}, {0}, 2, {1},
                                [&](OpBuilder &g, Location gl, ValueRange in, Value o) {
                                  return addF(g, gl, o, in[0]);
                                });
    Value accScaled = contraction(n, l, {rescale, acc}, zeroFilled(n, l, ArrayRef<int64_t>{C, V}),
                                  {{0}, {0, 1}}, {0, 1}, 2, {},
                                  [&](OpBuilder &g, Location gl, ValueRange in, Value) {
                                    return mulF(g, gl, in[0], in[1]);
                                  });
    // loops (i, j, v)
    Value accNext = contraction(n, l, {weights, Vc}, accScaled, {{0, 1}, {1, 2}}, {0, 2}, 3, {1},
                                multiplyAdd);
    return {next, sumNext, accNext};
  }

  OpBuilder &b;
  ChunkedAttentionOp op;
  Location loc;
  ChunkGeometry geometry;
  int64_t C, window;
  double scale;
  int64_t H = 0, K = 0, V = 0;
  Value q, k, v;
  // Inside the parallel loop.
  Value row, head, steps, first, Q;
};

/// A fixed query q without a window: o[t] is the prefix over i <= t of
/// (max, normaliser, weighted sum) of the scores s[i] = scale q . k[i],
/// combined as (m, l, a) + (m', l', a') = (M, e^(m-M) l + e^(m'-M) l',
/// e^(m-M) a + e^(m'-M) a'), M = max(m, m'), which is associative. Three
/// recurrences over chunks: every chunk's summary (parallel), the carry
/// entering each chunk (in order, one combine per chunk), and each chunk's
/// own prefix from its carry (parallel).
class AttentionPrefixScan {
public:
  AttentionPrefixScan(OpBuilder &b, ChunkedAttentionOp op)
      : b(b), op(op), loc(op.getLoc()), geometry(b, loc, op.getKeys(), op.getChunkSize()),
        C(geometry.C), scale(op.getScale().convertToDouble()) {
    H = cast<RankedTensorType>(op.getKeys().getType()).getDimSize(2);
    V = cast<RankedTensorType>(op.getValues().getType()).getDimSize(3);
  }

  Value build() {
    SmallVector<Value> chunked = {geometry.inChunks(b, loc, op.getKeys()),
                                  geometry.inChunks(b, loc, op.getValues())};
    RecurrenceOp summaries = summarise(chunked);
    RecurrenceOp carries = carry(summaries);
    RecurrenceOp outputs = prefixes(summaries, chunked[1], carries);
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, outputs.getResult(0), SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    return geometry.trim(b, loc, flat, op.getOutputs().getType());
  }

private:
  RankedTensorType sequenceOf(ArrayRef<int64_t> perStep) const {
    SmallVector<int64_t> shape = {ShapedType::kDynamic, ShapedType::kDynamic};
    shape.append(perStep.begin(), perStep.end());
    return RankedTensorType::get(shape, b.getF32Type());
  }

  static Value expDiff(OpBuilder &g, Location l, Value x, Value y) {
    return expF(g, l, subF(g, l, x, y));
  }

  /// max(m, m') and the two rescales exp(m - M), exp(m' - M), over [H].
  std::tuple<Value, Value, Value> merge(OpBuilder &g, Location l, Value m, Value other) {
    auto over = [&](Value x, Value y, auto body) {
      return contraction(g, l, {x, y}, zeroFilled(g, l, ArrayRef<int64_t>{H}), {{0}, {0}}, {0},
                         1, {}, body);
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
    return {top, mine, theirs};
  }

  /// x * l + y * l' over [H], and x * a + y * a' over [H, V].
  Value blend(OpBuilder &g, Location l, Value x, Value first, Value y, Value second) {
    auto type = cast<RankedTensorType>(first.getType());
    bool matrix = type.getRank() == 2;
    SmallVector<unsigned> all = matrix ? SmallVector<unsigned>{0, 1} : SmallVector<unsigned>{0};
    return contraction(g, l, {x, first, y, second}, zeroFilled(g, l, type.getShape()),
                       {{0}, all, {0}, all}, all, all.size(), {},
                       [&](OpBuilder &n, Location nl, ValueRange in, Value) {
                         return addF(n, nl, mulF(n, nl, in[0], in[1]), mulF(n, nl, in[2], in[3]));
                       });
  }

  /// Every chunk's scores and summary (max, normaliser, weighted sum):
  /// loops (j, h, k) and (j, h, v).
  RecurrenceOp summarise(ValueRange chunked) {
    Value query = op.getQueries();
    auto summaries = RecurrenceOp::create(
        b, loc,
        TypeRange{sequenceOf({C, H}), sequenceOf({H}), sequenceOf({H}), sequenceOf({H, V})},
        geometry.batch, geometry.chunks, ValueRange{}, chunked);
    Block &body = summaries.getBody();
    OpBuilder s = OpBuilder::atBlockBegin(&body);
    Value kc = body.getArgument(0), vc = body.getArgument(1);
    Value scores = contraction(s, loc, {query, kc}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H}),
                               {{1, 2}, {0, 1, 2}}, {0, 1}, 3, {2},
                               [&](OpBuilder &n, Location l, ValueRange in, Value o) {
                                 Value product = mulF(n, l, in[0], in[1]);
                                 return addF(n, l, o, mulF(n, l, product, f32Constant(n, l, scale)));
                               });
    Value top = contraction(s, loc, {scores}, filled(s, loc, staticSizes(s, {H}), kLowest),
                            {{0, 1}}, {1}, 2, {0},
                            [](OpBuilder &n, Location l, ValueRange in, Value o) -> Value {
                              return arith::MaximumFOp::create(n, l, o, in[0]);
                            });
    Value weights = contraction(s, loc, {scores, top}, zeroFilled(s, loc, ArrayRef<int64_t>{C, H}),
                                {{0, 1}, {1}}, {0, 1}, 2, {},
                                [&](OpBuilder &n, Location l, ValueRange in, Value) {
                                  return expDiff(n, l, in[0], in[1]);
                                });
    Value total = contraction(s, loc, {weights}, zeroFilled(s, loc, ArrayRef<int64_t>{H}),
                              {{0, 1}}, {1}, 2, {0},
                              [&](OpBuilder &n, Location l, ValueRange in, Value o) {
                                return addF(n, l, o, in[0]);
                              });
    Value weighted = contraction(s, loc, {weights, vc}, zeroFilled(s, loc, ArrayRef<int64_t>{H, V}),
                                 {{0, 1}, {0, 1, 2}}, {1, 2}, 3, {0}, multiplyAdd);
    YieldOp::create(s, loc, ValueRange{scores, top, total, weighted});
    return summaries;
  }

  /// The carry entering each chunk: states (m, l, a), outputs their values
  /// before the chunk's summary joins them.
  RecurrenceOp carry(RecurrenceOp summaries) {
    OpFoldResult heads = b.getIndexAttr(H), width = b.getIndexAttr(V);
    SmallVector<Value> start = {filled(b, loc, {geometry.batch, heads}, kLowest),
                                zeroFilled(b, loc, {geometry.batch, heads}),
                                zeroFilled(b, loc, {geometry.batch, heads, width})};
    SmallVector<Type> carryTypes;
    for (Value init : start)
      carryTypes.push_back(init.getType());
    carryTypes.append({sequenceOf({H}), sequenceOf({H}), sequenceOf({H, V})});
    auto carries = RecurrenceOp::create(b, loc, carryTypes, geometry.batch, geometry.chunks, start,
                                        summaries.getResults().drop_front());
    Block &body = carries.getBody();
    OpBuilder s = OpBuilder::atBlockBegin(&body);
    Value m = body.getArgument(0), l = body.getArgument(1), a = body.getArgument(2);
    auto [top, mine, theirs] = merge(s, loc, m, body.getArgument(3));
    Value total = blend(s, loc, mine, l, theirs, body.getArgument(4));
    Value weighted = blend(s, loc, mine, a, theirs, body.getArgument(5));
    YieldOp::create(s, loc, ValueRange{top, total, weighted, m, l, a});
    return carries;
  }

  /// Each chunk's own prefix, step by step from its carry.
  RecurrenceOp prefixes(RecurrenceOp summaries, Value chunkedValues, RecurrenceOp carries) {
    auto outputs = RecurrenceOp::create(
        b, loc, TypeRange{sequenceOf({C, H, V})}, geometry.batch, geometry.chunks, ValueRange{},
        ValueRange{summaries.getResult(0), chunkedValues, carries.getResult(3),
                   carries.getResult(4), carries.getResult(5)});
    Block &body = outputs.getBody();
    OpBuilder s = OpBuilder::atBlockBegin(&body);
    Value zero = arith::ConstantIndexOp::create(s, loc, 0);
    Value one = arith::ConstantIndexOp::create(s, loc, 1);
    Value steps = arith::ConstantIndexOp::create(s, loc, C);
    Value rows = tensor::EmptyOp::create(s, loc, ArrayRef<int64_t>{C, H, V}, s.getF32Type());
    auto loop = scf::ForOp::create(
        s, loc, zero, steps, one,
        ValueRange{body.getArgument(2), body.getArgument(3), body.getArgument(4), rows},
        [&](OpBuilder &n, Location l, Value i, ValueRange carried) {
          scf::YieldOp::create(
              n, l, prefixStep(n, l, i, body.getArgument(0), body.getArgument(1), carried));
        });
    YieldOp::create(s, loc, loop.getResult(3));
    return outputs;
  }

  /// Step i of a chunk's prefix: its score and value join the carry, and
  /// the output a / l is written to row i.
  SmallVector<Value> prefixStep(OpBuilder &n, Location l, Value i, Value scores, Value vc,
                                ValueRange carried) {
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
    Value value = tensor::ExtractSliceOp::create(n, l, rowType, vc, rowOffsets, rowSizes, unit);
    auto [top, mine, theirs] = merge(n, l, carried[0], score);
    Value ones = filled(n, l, staticSizes(n, {H}), 1.0);
    Value total = blend(n, l, mine, carried[1], theirs, ones);
    Value weighted = blend(n, l, mine, carried[2], theirs, value);
    Value output = contraction(n, l, {weighted, total}, zeroFilled(n, l, ArrayRef<int64_t>{H, V}),
                               {{0, 1}, {0}}, {0, 1}, 2, {},
                               [](OpBuilder &g, Location gl, ValueRange in, Value) {
                                 return arith::DivFOp::create(g, gl, in[0], in[1]);
                               });
    Value written =
        tensor::InsertSliceOp::create(n, l, output, carried[3], rowOffsets, rowSizes, unit);
    return {top, total, weighted, written};
  }

  OpBuilder &b;
  ChunkedAttentionOp op;
  Location loc;
  ChunkGeometry geometry;
  int64_t C;
  double scale;
  int64_t H = 0, V = 0;
};

} // namespace

Value expandTiledAttention(OpBuilder &b, ChunkedAttentionOp op) {
  return TiledAttention(b, op).build();
}

Value expandAttentionPrefixScan(OpBuilder &b, ChunkedAttentionOp op) {
  return AttentionPrefixScan(b, op).build();
}

} // namespace mlir::rec
