//===- StepOutlining.cpp - Moving parts of a step into their own recurrence ===//
//
// Clones the backward slice of the wanted values, in step order, into the body
// of a new stateless recurrence. The slice must not reach a state: callers
// pass only values the recurrence analysis found state-free.
//
//===----------------------------------------------------------------------===//
#include "StepOutlining.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
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

namespace {

/// Offsets, sizes and strides of steps [start, start + count) of `type`
/// ([B, T, ...]).
struct StepRange {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  StepRange(OpBuilder &b, RankedTensorType type, Value batch, OpFoldResult start,
            OpFoldResult count)
      : offsets(type.getRank(), b.getIndexAttr(0)), sizes{batch, count},
        strides(type.getRank(), b.getIndexAttr(1)) {
    offsets[1] = start;
    for (int64_t d : type.getShape().drop_front(2))
      sizes.push_back(b.getIndexAttr(d));
  }
};

/// The [B, ...] type of one step of a [B, T, ...] sequence type.
RankedTensorType stepType(RankedTensorType type) {
  SmallVector<int64_t> shape(type.getShape());
  shape.erase(shape.begin() + 1);
  return RankedTensorType::get(shape, type.getElementType());
}

} // namespace

Value sliceSteps(OpBuilder &b, Location loc, Value sequence, Value batch, OpFoldResult start,
                 OpFoldResult count) {
  auto type = cast<RankedTensorType>(sequence.getType());
  StepRange range(b, type, batch, start, count);
  return tensor::ExtractSliceOp::create(b, loc, sequence, range.offsets, range.sizes,
                                        range.strides);
}

Value insertSteps(OpBuilder &b, Location loc, Value part, Value into, Value batch,
                  OpFoldResult start, OpFoldResult count) {
  auto type = cast<RankedTensorType>(into.getType());
  StepRange range(b, type, batch, start, count);
  return tensor::InsertSliceOp::create(b, loc, part, into, range.offsets, range.sizes,
                                       range.strides);
}

Value extractStep(OpBuilder &b, Location loc, Value sequence, Value batch, OpFoldResult at) {
  auto type = cast<RankedTensorType>(sequence.getType());
  StepRange range(b, type, batch, at, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, stepType(type), sequence, range.offsets,
                                        range.sizes, range.strides);
}

Value insertStep(OpBuilder &b, Location loc, Value state, Value into, Value batch,
                 OpFoldResult at) {
  auto type = cast<RankedTensorType>(into.getType());
  StepRange range(b, type, batch, at, b.getIndexAttr(1));
  return tensor::InsertSliceOp::create(b, loc, state, into, range.offsets, range.sizes,
                                       range.strides);
}

Value statesBeforeSteps(OpBuilder &b, Location loc, Value batch, Value length, Value init,
                        Value after, bool reverse) {
  auto type = cast<RankedTensorType>(after.getType());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                        ValueRange{batch, length});
  Value nonEmpty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, length, zero);
  auto select = scf::IfOp::create(b, loc, TypeRange{type}, nonEmpty, true, true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(select.elseBlock());
  scf::YieldOp::create(b, loc, empty);
  b.setInsertionPointToStart(select.thenBlock());
  Value earlier = arith::SubIOp::create(b, loc, length, one);
  Value result = insertStep(b, loc, init, empty, batch,
                            reverse ? OpFoldResult(earlier) : b.getIndexAttr(0));
  // The T-1 states that are some step's predecessor, where they go.
  Value shifted = sliceSteps(b, loc, after, batch, b.getIndexAttr(reverse ? 1 : 0), earlier);
  result = insertSteps(b, loc, shifted, result, batch, b.getIndexAttr(reverse ? 0 : 1), earlier);
  scf::YieldOp::create(b, loc, result);
  return select.getResult(0);
}

} // namespace mlir::rec
