//===- StepJacobian.h - The structure of a step's Jacobian ----------------===//
//
// What the Newton form needs to know of a step h' = f(h, x): the structure
// of its Jacobian df/dh (diagonal, block-diagonal, dense), found from the IR
// through one derivative rule per op. The differentiation that writes the
// Jacobian as IR (dialects/rec/Transforms/StepDifferentiation.h) reads the
// same rules, so a structure is only reported for a step it can handle.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_ANALYSIS_STEPJACOBIAN_H
#define SEQC_ANALYSIS_STEPJACOBIAN_H

#include "RecOps.h"

#include "mlir/IR/Builders.h"

#include <optional>
#include <string>

namespace seqc {

/// How an op passes derivatives on.
enum class DerivativeRule {
  /// No derivative flows through it (constants, comparisons, fresh tensors).
  Zero,
  /// Elementwise: element e of the result depends on element e of operands.
  Elementwise,
  /// Linear or bilinear, mixing elements.
  Mixing,
  /// No rule.
  None,
};

/// The rule of `op`.
DerivativeRule derivativeRuleOf(mlir::Operation *op);
/// The operands through which a derivative flows into `op`'s results (a
/// select's condition carries none).
mlir::OperandRange differentiableOperands(mlir::Operation *op);
/// A linalg.reduce that sums one input.
bool isSumReduce(mlir::Operation *op);
/// A linalg op contracting two inputs into one init (matvec, matmul, einsum).
bool isBilinearContraction(mlir::Operation *op);

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

} // namespace seqc

#endif // SEQC_ANALYSIS_STEPJACOBIAN_H
