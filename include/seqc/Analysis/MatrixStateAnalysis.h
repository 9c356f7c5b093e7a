//===- MatrixStateAnalysis.h - Matrix states the chunked form takes ----===//
//
// Recognises, in a rec.recurrence, a matrix state updated by a decayed outer
// product and read only through a contraction with a query:
//
//   S' = D * S + A * B      A, B broadcasts of step values, D free of states
//   r  = sum over the key axis of q * S'
//
// linear attention (no D), RetNet, Mamba-2 and the mLSTM (D the same for
// every key of a head), GLA (D per key row); and the delta rule, where what
// is added reads the old state, S' = D * S + k (v - c * S^T w)^T (DeltaNet,
// Gated DeltaNet). The key axis is the one the
// read contracts; the value axis the one along which the factor that varies
// with the key does not vary; every other axis is a head axis. The
// chunked form (rec-to-chunked), --emit forms and its tests read this one
// match, so the decision and the rewrite cannot disagree.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_ANALYSIS_MATRIXSTATEANALYSIS_H
#define SEQC_ANALYSIS_MATRIXSTATEANALYSIS_H

#include "RecOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <string>

namespace seqc {

/// How the decay D varies over a head's state.
enum class ChunkDecay {
  None,     // S' = S + A * B (linear attention)
  PerHead,  // one value per head, every key alike (RetNet, Mamba-2, mLSTM)
  PerKey,   // one value per key row of a head (GLA)
};

struct MatrixStateMatch {
  bool matched = false;
  /// Why the state is not such a matrix state ("" when it is).
  std::string whyNot;
  unsigned state = 0;
  /// The full-shape factors of the outer product: `keyFactor` varies along
  /// the key axis, `valueFactor` along the value axis.
  mlir::Value keyFactor, valueFactor;
  /// The full-shape decay, or null (ChunkDecay::None).
  mlir::Value decay;
  ChunkDecay decayKind = ChunkDecay::None;
  /// The one contraction that reads the new state, and its query operand.
  mlir::linalg::LinalgOp read;
  mlir::OpOperand *query = nullptr;
  /// Axes of the state.
  int64_t keyAxis = -1, valueAxis = -1;
  llvm::SmallVector<int64_t> headAxes;

  /// The delta rule, S' = D * S + k (v - c * S^T w)^T (DeltaNet with D = c
  /// = 1, Gated DeltaNet with D = c = the gate), D and c one value per
  /// head. Then `keyFactors` are the full-shape factors of k (their
  /// product; `keyFactor` is null), `valueFactor` the broadcast of
  /// v - c * S^T w, `correction` the contraction S^T w of the old state,
  /// `correctionKey` its operand w, `correctionScale` c in the shape of the
  /// correction (null for 1), `deltaValues` v, and `valueScale` a per-head
  /// b when the factor is b * (v - c * S^T w) (null for 1; it joins k).
  bool deltaRule = false;
  llvm::SmallVector<mlir::Value> keyFactors;
  mlir::linalg::LinalgOp correction;
  mlir::OpOperand *correctionKey = nullptr;
  mlir::Value correctionScale, deltaValues, valueScale;

  /// "decayed outer product, decay per head; key axis 1, value axis 2".
  std::string describe() const;
};

/// The match for state `index` of `op`.
MatrixStateMatch matchMatrixState(mlir::rec::RecurrenceOp op, unsigned index);

/// Whether `--form auto` takes the chunked form for the matrix states of `op`
/// (on the CPU): at least one state matches, every other state is
/// elementwise-affine (scanned beside them), and the step holds no
/// attention. Otherwise auto leaves the cell to its other rules.
bool autoChunksMatrixStates(mlir::rec::RecurrenceOp op);

/// The chunk length `--form auto` gives a matrix state: its larger head
/// axis (key or value) rounded up to a power of two, from 16 to `cap`. A
/// chunk's matmuls then cost about what the sequential steps they replace
/// do, while running near matmul speed (docs/benchmarks.md measures the
/// rule).
int64_t autoChunkSize(mlir::rec::RecurrenceOp op, const MatrixStateMatch &match, int64_t cap);

/// Under `--form auto`, calls shorter than this many chunks run the
/// sequential recurrence: with fewer chunks the chunked path's fixed costs
/// (its buffers, its passes over the sequences) are not repaid
/// (docs/benchmarks.md: even at 2 to 4 chunks, on the CPU).
constexpr int64_t kAutoChunkMinChunks = 8;

} // namespace seqc

#endif // SEQC_ANALYSIS_MATRIXSTATEANALYSIS_H
