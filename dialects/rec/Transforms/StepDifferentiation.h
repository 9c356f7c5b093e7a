//===- StepDifferentiation.h - The Jacobian of a step, as IR --------------===//
//
// Forward-mode differentiation of a step region, for rec-to-newton and
// rec-expand-newton: the Jacobian of the new states by the old ones, written
// into the step in the structure seqc/Analysis/StepJacobian.h found, by the
// same derivative rules.
//
//===----------------------------------------------------------------------===//
#ifndef REC_TRANSFORMS_STEPDIFFERENTIATION_H
#define REC_TRANSFORMS_STEPDIFFERENTIATION_H

#include "RecOps.h"

#include "mlir/IR/Builders.h"

#include <string>

namespace mlir::rec {

/// Writes, before `body`'s terminator, the Jacobian of the new states by the
/// old ones in the form rec.newton yields it for `structure` (see its
/// description); with `quasi`, only its diagonal (rec.newton's `diagonal`
/// form, whatever `structure` is). Fails, with `error` set, on an op without
/// a derivative rule.
FailureOr<SmallVector<Value>> buildStepJacobian(Block &body, unsigned numStates,
                                                JacobianStructure structure, bool quasi,
                                                std::string &error);

/// An f32 tensor constant of `type` with every element `value`.
Value splatConstant(OpBuilder &b, Location loc, Type type, double value);

/// The states of one step as one vector: each flattened row-major, then
/// concatenated in order (the index space of the dense Jacobian).
Value flattenStates(OpBuilder &b, Location loc, ArrayRef<Value> states);

} // namespace mlir::rec

#endif // REC_TRANSFORMS_STEPDIFFERENTIATION_H
