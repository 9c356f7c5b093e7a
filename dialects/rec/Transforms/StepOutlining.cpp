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

Value statesBeforeSteps(OpBuilder &b, Location loc, Value batch, Value length, Value init,
                        Value after) {
  auto type = cast<RankedTensorType>(after.getType());
  int64_t rank = type.getRank();
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
  auto steps = [&](OpFoldResult first, OpFoldResult count) {
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes{batch, count},
        strides(rank, b.getIndexAttr(1));
    offsets[1] = first;
    for (int64_t d : type.getShape().drop_front(2))
      sizes.push_back(b.getIndexAttr(d));
    return std::make_tuple(offsets, sizes, strides);
  };
  Value earlier = arith::SubIOp::create(b, loc, length, one);
  auto [initOffsets, initSizes, initStrides] = steps(b.getIndexAttr(0), b.getIndexAttr(1));
  SmallVector<ReassociationIndices> addTime{{0, 1}};
  for (int64_t d = 2; d < rank; ++d)
    addTime.push_back({d});
  SmallVector<int64_t> initShape(type.getShape());
  initShape[1] = 1;
  Value initStep = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(initShape, type.getElementType()), init, addTime, initSizes);
  Value result =
      tensor::InsertSliceOp::create(b, loc, initStep, empty, initOffsets, initSizes, initStrides);
  auto [fromOffsets, fromSizes, fromStrides] = steps(b.getIndexAttr(0), earlier);
  Value shifted =
      tensor::ExtractSliceOp::create(b, loc, after, fromOffsets, fromSizes, fromStrides);
  auto [toOffsets, toSizes, toStrides] = steps(b.getIndexAttr(1), earlier);
  result =
      tensor::InsertSliceOp::create(b, loc, shifted, result, toOffsets, toSizes, toStrides);
  scf::YieldOp::create(b, loc, result);
  return select.getResult(0);
}

} // namespace mlir::rec
