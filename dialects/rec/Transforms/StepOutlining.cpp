//===- StepOutlining.cpp - Moving parts of a step into their own recurrence ===//
//
// Clones the backward slice of the wanted values, in step order, into the body
// of a new stateless recurrence. The slice must not reach a state: callers
// pass only values the recurrence analysis found state-free.
//
//===----------------------------------------------------------------------===//
#include "StepOutlining.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::rec {

RankedTensorType sequenceType(Type perStep) {
  auto type = cast<RankedTensorType>(perStep);
  SmallVector<int64_t> shape = {ShapedType::kDynamic, ShapedType::kDynamic};
  shape.append(type.getShape().begin(), type.getShape().end());
  return RankedTensorType::get(shape, type.getElementType());
}

SmallVector<Value> outlineStateFreeValues(OpBuilder &builder, RecurrenceOp recurrence,
                                          ArrayRef<Value> values) {
  Block &body = recurrence.getBody();
  // The top-level ops of the step that the values need.
  llvm::SetVector<Operation *> needed;
  SmallVector<Value> worklist(values.begin(), values.end());
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    Operation *def = value.getDefiningOp();
    if (!def)
      continue;
    Operation *top = body.findAncestorOpInBlock(*def);
    if (!top || !needed.insert(top))
      continue;
    top->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        worklist.push_back(operand);
    });
  }

  SmallVector<Type> resultTypes;
  for (Value value : values)
    resultTypes.push_back(sequenceType(value.getType()));
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(recurrence);
  auto map = RecurrenceOp::create(builder, recurrence.getLoc(), resultTypes,
                                  recurrence.getBatch(), recurrence.getLength(), ValueRange{},
                                  recurrence.getInputs());
  Block &mapBody = map.getBody();
  IRMapping mapping;
  unsigned nState = recurrence.getNumStates();
  for (unsigned i = 0; i < recurrence.getInputs().size(); ++i)
    mapping.map(body.getArgument(nState + i), mapBody.getArgument(i));
  builder.setInsertionPointToStart(&mapBody);
  for (Operation &op : body.without_terminator())
    if (needed.contains(&op))
      builder.clone(op, mapping);
  SmallVector<Value> yielded;
  for (Value value : values)
    yielded.push_back(mapping.lookupOrDefault(value));
  YieldOp::create(builder, recurrence.getLoc(), yielded);
  return SmallVector<Value>(map.getResults());
}

} // namespace mlir::rec
