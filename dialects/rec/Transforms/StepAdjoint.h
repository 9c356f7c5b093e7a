//===- StepAdjoint.h - Reverse-mode differentiation of step IR ------------===//
//
// The vector-Jacobian products of the ops a step holds, for the backward
// entry points (rec-derive-backward): given the cotangents of some values,
// the cotangents of what they were computed from, one rule per op, written
// as IR after the ops. The same rules run on a step (per step, inside the
// adjoint recurrence) and on the work on params alone (once, outside it).
//
//===----------------------------------------------------------------------===//
#ifndef REC_TRANSFORMS_STEPADJOINT_H
#define REC_TRANSFORMS_STEPADJOINT_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

#include <functional>
#include <string>

namespace mlir::rec {

/// Reverse-mode differentiation of a list of ops, in order, at a builder's
/// insertion point (after all of them).
class AdjointBuilder {
public:
  /// `receives(v)`: whether the cotangent of `v` is wanted (it flows to an
  /// argument whose gradient is asked for); rules skip the others.
  /// `deferContraction(op, i, cotangent)`: offered every contraction input i
  /// that receives a cotangent, before the rule computes it; returning true
  /// means the caller takes over (the param gradients of projections become
  /// one matmul over all steps instead of an outer product per step).
  AdjointBuilder(OpBuilder &b, std::function<bool(Value)> receives,
                 std::function<bool(linalg::LinalgOp, unsigned, Value)> deferContraction)
      : b(b), receives(std::move(receives)), deferContraction(std::move(deferContraction)) {}

  /// Adds `cotangent` to the cotangent of `value` (when it receives one).
  void seed(Value value, Value cotangent);

  /// Runs the rules of `ops` (in program order; they are visited last to
  /// first). Fails, with `error` naming the op, where an op on the way has
  /// no rule.
  LogicalResult run(ArrayRef<Operation *> ops, std::string &error);

  /// The cotangent of `value`, null when nothing flowed to it.
  Value cotangent(Value value) const { return cotangents.lookup(value); }

  /// Whether `op` has a reverse-mode rule (ops without one may still appear
  /// where no cotangent reaches them).
  static bool hasRule(Operation *op);

private:
  LogicalResult differentiate(Operation *op, Value resultCotangent);
  LogicalResult differentiateArith(Operation *op, Value dy);
  LogicalResult differentiateMath(Operation *op, Value dy);
  LogicalResult differentiateShape(Operation *op, Value dy);
  LogicalResult differentiateLinalg(linalg::LinalgOp op, Value dy);

  OpBuilder &b;
  std::function<bool(Value)> receives;
  std::function<bool(linalg::LinalgOp, unsigned, Value)> deferContraction;
  DenseMap<Value, Value> cotangents;
};

/// Which operands of contractionInputCotangent carry `axes` leading axes
/// more than in `op` (the steps: batch and time, or both flattened into
/// one): a param gradient's factors and not its result (the axes are
/// summed), or an input gradient's cotangent and result (they are
/// parallel).
struct LeadingStepAxis {
  bool cotangent = false, other = false, result = false;
  unsigned axes = 1;
};

/// The cotangent of contraction input `i` of `op` as a linalg.generic over
/// the same loops (and the leading step axis first, where `leading` has
/// it): `resultCotangent` contracted with the other input, summed over
/// every loop input i does not index.
Value contractionInputCotangent(OpBuilder &b, Location loc, linalg::LinalgOp op, unsigned i,
                                Value resultCotangent, Value other, LeadingStepAxis leading = {});

/// Whether input `i` of contraction `op` can be given a cotangent by
/// contractionInputCotangent (its indexing map names each loop at most once).
bool hasContractionInputCotangent(linalg::LinalgOp op, unsigned i);

} // namespace mlir::rec

#endif // REC_TRANSFORMS_STEPADJOINT_H
