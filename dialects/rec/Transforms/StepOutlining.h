//===- StepOutlining.h - Moving parts of a step into their own recurrence -===//
//
// What rec-outline-stateless, rec-to-scan and rec-derive-backward share:
// computing some state-free values of a step for all steps at once, as a new
// stateless recurrence over the same inputs; sequences of states shifted by a
// step; and slices of sequences along time.
//
//===----------------------------------------------------------------------===//
#ifndef REC_TRANSFORMS_STEPOUTLINING_H
#define REC_TRANSFORMS_STEPOUTLINING_H

#include "RecOps.h"

#include "mlir/IR/Builders.h"

namespace mlir::rec {

/// tensor<?x?x(shape of `perStep`)>: a value of every step of every row.
RankedTensorType sequenceType(Type perStep);

/// Creates, before `recurrence`, a stateless recurrence with the same batch,
/// length and inputs that yields `values` (state-free values of the step,
/// or its input arguments) at every step. Returns its output sequences, one
/// per value.
SmallVector<Value> outlineStateFreeValues(OpBuilder &builder, RecurrenceOp recurrence,
                                          ArrayRef<Value> values);

/// Steps [start, start + count) of a [B, T, ...] sequence.
Value sliceSteps(OpBuilder &b, Location loc, Value sequence, Value batch, OpFoldResult start,
                 OpFoldResult count);

/// `part`, [B, count, ...], written over steps [start, start + count) of
/// `into`.
Value insertSteps(OpBuilder &b, Location loc, Value part, Value into, Value batch,
                  OpFoldResult start, OpFoldResult count);

/// Step `at` of a [B, T, ...] sequence, [B, ...].
Value extractStep(OpBuilder &b, Location loc, Value sequence, Value batch, OpFoldResult at);

/// `state`, [B, ...], written as step `at` of `into`.
Value insertStep(OpBuilder &b, Location loc, Value state, Value into, Value batch,
                 OpFoldResult at);

/// The states before each step, [B, T, ...], from `after`, the states after
/// each step: `init` at t = 0, after[t - 1] from t = 1; for a recurrence
/// running backwards (`reverse`), `init` at t = T-1 and after[t + 1] before.
/// Exactly T long (an op over it and another sequence may take its loop
/// bounds from either).
Value statesBeforeSteps(OpBuilder &b, Location loc, Value batch, Value length, Value init,
                        Value after, bool reverse = false);

} // namespace mlir::rec

#endif // REC_TRANSFORMS_STEPOUTLINING_H
