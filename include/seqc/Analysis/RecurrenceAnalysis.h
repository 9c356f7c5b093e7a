//===- RecurrenceAnalysis.h - How each state of a recurrence recurs -------===//
//
// The one classification of a rec.recurrence that the rewrites, --emit forms
// and -v all read: for each state, whether its update is affine in itself with
// an elementwise coefficient (the scan form), linear but through contractions
// (the delta rule: the chunked form), or nonlinear (the Newton form); and
// which operations of the step depend on no state at all (what rec-outline-stateless moves
// out). The affine decomposition that proves a state scannable is also what
// rec-to-scan uses to build the coefficient and the offset, so the decision and
// the rewrite cannot disagree.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_ANALYSIS_RECURRENCEANALYSIS_H
#define SEQC_ANALYSIS_RECURRENCEANALYSIS_H

#include "RecOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <optional>
#include <string>

namespace seqc {

enum class StateKind {
  /// h = a * h + b with a, b free of every state: a parallel scan.
  ElementwiseAffine,
  /// Linear in the state, but through contractions (the delta rule).
  Linear,
  /// Anything else, or coupled with another state.
  Nonlinear,
};

const char *stateKindName(StateKind kind);
/// The form that parallelises a state of this kind: scan, chunk or newton.
const char *formForKind(StateKind kind);

struct StateInfo {
  std::string name;
  StateKind kind = StateKind::Nonlinear;
  /// Why the state is not elementwise-affine ("" when it is).
  std::string reason;
};

/// a * state + b, with null meaning 1 for `coefficient` and 0 for `offset`.
struct AffineParts {
  mlir::Value coefficient;
  mlir::Value offset;
};

class RecurrenceAnalysis {
public:
  /// With `chunkedAttentionIsInput`, an attention that the chunked form
  /// takes out of the step (matchAttention) counts as an input of the step,
  /// as it will be once rec-to-chunked has run: the states that read its
  /// output are classified as the rest of the cell will be.
  explicit RecurrenceAnalysis(mlir::Operation *op, bool chunkedAttentionIsInput = false);

  mlir::rec::RecurrenceOp getRecurrence() const { return recurrence; }
  llvm::ArrayRef<StateInfo> getStates() const { return states; }
  /// True when the step holds a rec.attention (one the chunked form does
  /// not take, with `chunkedAttentionIsInput`), whose key/value history is a
  /// state of its own.
  bool hasImplicitState() const { return implicitState; }
  /// True when an output reads a state's value from before the step's update
  /// (rec-to-scan then also hands the outputs the states shifted by a step).
  bool outputsReadOldState() const { return oldStateReadByOutputs; }
  /// True when every state is elementwise-affine and there is no implicit state.
  bool isScannable() const;
  /// Why isScannable() is false ("" when it is true).
  std::string whyNotScannable() const;
  /// True when `op` (in the step) depends on no state, directly or through
  /// its operands.
  bool isStateIndependent(mlir::Operation *op) const { return !stateDependent.contains(op); }
  bool isStateIndependent(mlir::Value value) const;

  /// True when a step value is step-varying data spread over more elements
  /// than it came from: a broadcast of a step value (Mamba's
  /// `delta[:, None]`), or computed elementwise from one. Materialising such a
  /// value for all B x T steps costs more memory traffic than recomputing it
  /// inside the step, so rec-outline-stateless hoists what it is computed from instead,
  /// and the scan form is not chosen when its coefficients are such values.
  bool isExpansion(mlir::Value value) const;

  /// True when the scan form's coefficient and offset for state `index`
  /// would be expansions (see isExpansion).
  bool scanCoefficientsExpand(unsigned index) const;

  /// Writes the IR for the coefficient and offset of state `index`'s update at
  /// the builder's insertion point (inside the step). Only for
  /// ElementwiseAffine states.
  AffineParts buildAffineParts(mlir::OpBuilder &builder, unsigned index) const;

private:
  bool computeIsExpansion(mlir::Value value) const;

  mutable mlir::rec::RecurrenceOp recurrence;
  llvm::SmallVector<StateInfo> states;
  llvm::DenseSet<mlir::Operation *> stateDependent;
  /// isExpansion's answers: a step that reuses a value (v = u * u, repeated)
  /// would otherwise take time exponential in its length.
  mutable llvm::DenseMap<mlir::Value, bool> expansionMemo;
  bool implicitState = false;
  bool oldStateReadByOutputs = false;
};

/// The name of the model-level value a recurrence operand comes from (a state,
/// input or param name), or "" when it has none.
std::string modelNameOf(mlir::Value value);

} // namespace seqc

#endif // SEQC_ANALYSIS_RECURRENCEANALYSIS_H
