//===- StepJacobian.h - The derivative of a step by its states ------------===//
//
// What the Newton form needs from a step h' = f(h, x): the structure of its
// Jacobian df/dh (diagonal, block-diagonal, dense), found from the IR, and the
// Jacobian itself, written as IR by forward-mode differentiation of the
// step's arith / math / linalg / tensor ops. Both read the same rules, so a
// structure is only reported for a step the differentiation can handle.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_ANALYSIS_STEPJACOBIAN_H
#define SEQC_ANALYSIS_STEPJACOBIAN_H

#include "RecOps.h"

#include "mlir/IR/Builders.h"

#include <optional>
#include <string>

namespace seqc {

/// How element e of a new state depends on an old state.
enum class ElementDependence {
  /// Not at all (or only through comparisons, whose derivative is zero).
  None,
  /// Only on element e of the old state, through elementwise ops.
  Elementwise,
  /// On other elements too (a contraction, a broadcast, a reshape...).
  Any,
};

struct JacobianInfo {
  /// Every op between the states and the new states has a derivative rule.
  bool differentiable = true;
  /// The first op without one ("" when differentiable).
  std::string whyNot;
  /// dependence[i][j]: how new state i depends on old state j.
  llvm::SmallVector<llvm::SmallVector<ElementDependence>> dependence;
  /// The cheapest structure that holds (when differentiable).
  mlir::rec::JacobianStructure structure = mlir::rec::JacobianStructure::Dense;
  /// The number of state elements in all: the side of the dense Jacobian.
  int64_t numElements = 0;
  /// "diagonal", "block-diagonal (2x2 blocks)", "dense (32x32)".
  std::string describe() const;
};

/// Analyses the step `body` whose first `numStates` arguments are the old
/// states and whose terminator yields the new states first.
JacobianInfo analyseStepJacobian(mlir::Block &body, unsigned numStates);

/// Writes, before `body`'s terminator, the Jacobian of the new states by the
/// old ones in the form rec.newton yields it for `structure` (see its
/// description); with `quasi`, only its diagonal (rec.newton's `diagonal`
/// form, whatever `structure` is). Fails, with `error` set, on an op without
/// a derivative rule.
mlir::FailureOr<llvm::SmallVector<mlir::Value>>
buildStepJacobian(mlir::Block &body, unsigned numStates, mlir::rec::JacobianStructure structure,
                  bool quasi, std::string &error);

/// The states of one step as one vector: each flattened row-major, then
/// concatenated in order (the index space of the dense Jacobian).
mlir::Value flattenStates(mlir::OpBuilder &b, mlir::Location loc,
                          llvm::ArrayRef<mlir::Value> states);

} // namespace seqc

#endif // SEQC_ANALYSIS_STEPJACOBIAN_H
