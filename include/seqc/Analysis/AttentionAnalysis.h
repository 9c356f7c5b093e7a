//===- AttentionAnalysis.h - Attention the chunked form takes -----------===//
//
// Decides whether a step's rec.attention can leave its recurrence for a
// rec.chunked_attention: the kernel computes every step's output at once, so
// the query, key and value of every step must be known before it runs, that
// is depend on no state and on the output of no attention that cannot be
// chunked itself. A query that depends
// on nothing of the step at all (a learned query) makes the attention a
// prefix scan. rec-to-chunked, --emit forms and their tests read this one
// match, so the decision and the rewrite cannot disagree.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_ANALYSIS_ATTENTIONANALYSIS_H
#define SEQC_ANALYSIS_ATTENTIONANALYSIS_H

#include "RecOps.h"

#include <string>

namespace seqc {

struct AttentionMatch {
  bool matched = false;
  /// Why the attention cannot be chunked ("" when it can).
  std::string whyNot;
  /// The query is the same at every step of every row.
  bool fixedQuery = false;

  /// "causal softmax attention, ..." for --emit forms.
  std::string describe(mlir::rec::AttentionOp op, int64_t chunkSize) const;
};

/// The match for `op`, which must be in the step of a rec.recurrence.
AttentionMatch matchAttention(mlir::rec::AttentionOp op);

} // namespace seqc

#endif // SEQC_ANALYSIS_ATTENTIONANALYSIS_H
