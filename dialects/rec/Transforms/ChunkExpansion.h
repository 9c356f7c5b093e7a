//===- ChunkExpansion.h - Building blocks of the chunked expansions -------===//
//
// What the expansions of rec-expand-chunked share (RecExpandChunked.cpp for
// rec.chunked and rec.chunked_delta, ChunkedAttentionExpansion.cpp for
// rec.chunked_attention): sequences viewed as whole chunks, the recurrence
// over chunks, and the contractions (linalg.generic ops) a chunk's step is
// written with.
//
//===----------------------------------------------------------------------===//
#ifndef REC_TRANSFORMS_CHUNKEXPANSION_H
#define REC_TRANSFORMS_CHUNKEXPANSION_H

#include "RecOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"

namespace mlir::rec {

/// The largest magnitude of a chunk's total log decay for which the scores
/// are computed factorised: exp(40) ~ 2e17 leaves room for q and k up to
/// about 1e10 before a product overflows.
constexpr double kFactorisedLimit = 40.0;

/// The smallest finite f32: the running max before any score, so that
/// exp(m - m') is 0 or 1, never NaN.
constexpr float kLowest = -3.4028234663852886e38f;

/// The scalar arithmetic of contraction bodies.
inline Value addF(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, x, y);
}
inline Value subF(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::SubFOp::create(b, loc, x, y);
}
inline Value mulF(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MulFOp::create(b, loc, x, y);
}
inline Value expF(OpBuilder &b, Location loc, Value x) { return math::ExpOp::create(b, loc, x); }
/// out + in[0] in[1]: the body of a matmul.
inline Value multiplyAdd(OpBuilder &b, Location loc, ValueRange in, Value out) {
  return addF(b, loc, out, mulF(b, loc, in[0], in[1]));
}

Value f32Constant(OpBuilder &b, Location loc, double value);
Value zeroFilled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes);
Value zeroFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape);
Value filled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes, double value);
SmallVector<OpFoldResult> staticSizes(OpBuilder &b, ArrayRef<int64_t> shape);

/// A linalg.generic over `loops` loops with the given maps (inputs, then the
/// one init) and iterators (`reductions` names the reduction loops).
Value contraction(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                  ArrayRef<SmallVector<unsigned>> inputDims, ArrayRef<unsigned> initDims,
                  unsigned loops, ArrayRef<unsigned> reductions,
                  function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body);

/// sum_{j <= i} x[j] for every i, along the leading axis of a static [C, ...]
/// tensor.
Value inclusiveSum(OpBuilder &b, Location loc, Value x);

/// select(j <= i, value, 0) for loops i and j of the enclosing generic.
Value causal(OpBuilder &b, Location loc, unsigned i, unsigned j, Value value);

/// The sizes and shape of a whole-chunk view of a [B, T, H, X] sequence.
struct ChunkGeometry {
  int64_t C;
  Value batch, length, chunks, padded;

  ChunkGeometry(OpBuilder &b, Location loc, Value sequence, int64_t chunkSize);
  /// [B, T, H, X] -> [B, padded T, H, X], zero after T: the sequence
  /// itself when T is a multiple of C (a copy of it, serial and as large as
  /// the sequence, otherwise).
  Value pad(OpBuilder &b, Location loc, Value sequence) const;
  /// [B, T, H, X] -> zero-padded [B, T/C, C, H, X].
  Value inChunks(OpBuilder &b, Location loc, Value sequence) const;
  /// [B, padded T, H, X] -> [B, T, H, X] typed as `type`.
  Value trim(OpBuilder &b, Location loc, Value padded, Type type) const;
};

/// rows [start, start + count) of head `head` of batch row `row` of a
/// [B, T, H, X] tensor, as [count, X].
Value rowsOf(OpBuilder &b, Location loc, Value sequence, Value row, Value start, Value head,
             int64_t count);

/// A rec.recurrence over the chunks of `sequences` ([B, T, H, X], zero-
/// padded to whole chunks), carrying `init` ([B, H, K, V]) and yielding
/// [C, H, V] reads per chunk, with an empty step for the caller to fill.
RecurrenceOp chunkRecurrence(OpBuilder &b, Location loc, const ChunkGeometry &geometry,
                             Value init, ArrayRef<Value> sequences, int64_t V);

/// `reads` and `finalState` from a chunkRecurrence's results: the reads
/// [B, T/C, C, H, V] as [B, T, H, V], trimmed back to T steps.
void replaceByChunks(OpBuilder &b, Location loc, const ChunkGeometry &geometry,
                     RecurrenceOp recurrence, Value reads, Value finalState);

/// rec.chunked_attention with per-step queries (or a fixed one under a
/// window) as a tiled online softmax; returns the outputs.
Value expandTiledAttention(OpBuilder &b, ChunkedAttentionOp op);
/// rec.chunked_attention with a fixed query and no window as a prefix scan
/// over chunks; returns the outputs.
Value expandAttentionPrefixScan(OpBuilder &b, ChunkedAttentionOp op);

} // namespace mlir::rec

#endif // REC_TRANSFORMS_CHUNKEXPANSION_H
