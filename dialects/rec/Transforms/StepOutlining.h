//===- StepOutlining.h - Moving parts of a step into their own recurrence -===//
//
// What rec-outline-stateless and rec-to-scan share: computing some state-free values of a
// step for all steps at once, as a new stateless recurrence over the same
// inputs.
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

} // namespace mlir::rec

#endif // REC_TRANSFORMS_STEPOUTLINING_H
