//===- RecOps.cpp - Operations of the rec dialect -------------------------===//
//
// Verifiers and custom assembly of the rec operations. The verifiers check
// the ABI-shaped types of rec.model and the slicing relation between a
// recurrence's operands, its step's block arguments and its results, so that
// every later pass can rely on them.
//
//===----------------------------------------------------------------------===//
#include "RecOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/BitVector.h"
#include "mlir/Interfaces/FunctionImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include <cmath>

using namespace mlir;
using namespace mlir::rec;

#include "RecDialect.cpp.inc"

void RecDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "RecOps.cpp.inc"
      >();
}

/// `type` with its first `n` axes removed.
static RankedTensorType dropLeading(RankedTensorType type, unsigned n) {
  return RankedTensorType::get(type.getShape().drop_front(n), type.getElementType());
}

/// Checks that `type` is an f32 tensor whose first `numDynamic` axes are
/// dynamic (batch, time) and whose other axes are static.
static LogicalResult checkAbiType(Operation *op, Type type, unsigned numDynamic,
                                  const Twine &what) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.getElementType().isF32())
    return op->emitOpError() << what << " must be a ranked f32 tensor, got " << type;
  if (tensor.getRank() < numDynamic)
    return op->emitOpError() << what << " must have rank at least " << numDynamic << ", got "
                             << type;
  for (int64_t i = 0; i < tensor.getRank(); ++i) {
    bool dynamic = tensor.isDynamicDim(i);
    if (dynamic != (i < numDynamic))
      return op->emitOpError() << what << " must have "
                               << (numDynamic == 2   ? "dynamic batch and time axes"
                                   : numDynamic == 1 ? "a dynamic batch axis"
                                                     : "a static shape")
                               << " and static other axes, got " << type;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// ModelOp
//===----------------------------------------------------------------------===//

ParseResult ModelOp::parse(OpAsmParser &parser, OperationState &result) {
  auto buildFuncType = [](Builder &builder, ArrayRef<Type> argTypes, ArrayRef<Type> results,
                          function_interface_impl::VariadicFlag,
                          std::string &) { return builder.getFunctionType(argTypes, results); };
  return function_interface_impl::parseFunctionOp(
      parser, result, /*allowVariadic=*/false, getFunctionTypeAttrName(result.name),
      buildFuncType, getArgAttrsAttrName(result.name), getResAttrsAttrName(result.name));
}

void ModelOp::print(OpAsmPrinter &p) {
  function_interface_impl::printFunctionOp(p, *this, /*isVariadic=*/false,
                                           getFunctionTypeAttrName(), getArgAttrsAttrName(),
                                           getResAttrsAttrName());
}

/// The declared name of entry argument `arg` of a model: its input, param or
/// state name (initial states get an `_init` suffix), or "" if unknown.
static std::string modelArgumentName(ModelOp model, unsigned arg) {
  if (arg == 0)
    return "B";
  if (arg == 1)
    return "T";
  arg -= ModelOp::kNumSizeArgs;
  unsigned nIn = model.getNumInputs(), nParam = model.getNumParams();
  auto nameAt = [](ArrayAttr names, unsigned i) -> std::string {
    if (i >= names.size())
      return "";
    return cast<StringAttr>(names[i]).getValue().str();
  };
  if (arg < nIn)
    return nameAt(model.getInputNames(), arg);
  if (arg < nIn + nParam)
    return nameAt(model.getParamNames(), arg - nIn);
  unsigned nState = model.getNumStates(), nOut = model.getNumOutputs();
  auto suffixed = [](std::string prefix, std::string name, StringRef suffix) {
    return name.empty() ? name : prefix + name + suffix.str();
  };
  arg -= nIn + nParam;
  if (arg < nState)
    return suffixed("", nameAt(model.getStateNames(), arg), "_init");
  // A backward model's tape and cotangents.
  arg -= nState;
  if (model.getModelKind() != ModelKind::Backward)
    return "";
  if (arg < nState)
    return suffixed("", nameAt(model.getStateNames(), arg), "_tape");
  arg -= nState;
  if (arg < model.getNumSavedProjections())
    return "projection" + std::to_string(arg) + "_tape";
  arg -= model.getNumSavedProjections();
  if (arg < nOut)
    return suffixed("d_", nameAt(model.getOutputNames(), arg), "");
  return suffixed("d_", nameAt(model.getStateNames(), arg - nOut), "_final");
}

void ModelOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  if (region.empty())
    return;
  for (BlockArgument arg : region.front().getArguments()) {
    std::string name = modelArgumentName(*this, arg.getArgNumber());
    if (!name.empty())
      setNameFn(arg, name);
  }
}

ArrayRef<Type> ModelOp::getTapeTypes() {
  unsigned nState = getNumStates(), nTape = nState + getNumSavedProjections();
  switch (getModelKind()) {
  case ModelKind::Forward:
    return {};
  case ModelKind::ForwardTape:
    return getResultTypes().take_back(nTape);
  case ModelKind::Backward:
    return getArgumentTypes()
        .drop_front(kNumSizeArgs + getNumInputs() + getNumParams() + nState)
        .take_front(nTape);
  }
  llvm_unreachable("model kind");
}

LogicalResult ModelOp::verify() {
  unsigned nIn = getNumInputs(), nParam = getNumParams(), nState = getNumStates(),
           nOut = getNumOutputs();
  ModelKind kind = getModelKind();
  bool backward = kind == ModelKind::Backward;
  // The tape travels as arguments of the backward and as results of the
  // models that write it.
  unsigned nTape = nState + getNumSavedProjections();
  unsigned tapeArgs = backward ? nTape : 0;
  unsigned cotangentArgs = backward ? nOut + nState : 0;
  unsigned expectedResults = backward                       ? nIn + nParam + nState
                             : kind == ModelKind::ForwardTape ? nOut + nState + nTape
                                                              : nOut + nState;
  ArrayRef<Type> args = getArgumentTypes(), results = getResultTypes();
  if (args.size() != kNumSizeArgs + nIn + nParam + nState + tapeArgs + cotangentArgs)
    return emitOpError() << "has " << args.size() << " arguments but expects 2 sizes (B, T), "
                         << nIn << " inputs, " << nParam << " params and " << nState
                         << " states" << (backward ? ", the tape and the cotangents" : "");
  if (!args[0].isIndex() || !args[1].isIndex())
    return emitOpError() << "needs the batch size and the length (index) as its first two "
                            "arguments";
  args = args.drop_front(kNumSizeArgs);
  if (results.size() != expectedResults)
    return emitOpError() << "has " << results.size() << " results but its kind and names "
                         << "call for " << expectedResults;
  if (getStateInit().size() != nState)
    return emitOpError() << "has " << getStateInit().size() << " initial values for "
                         << nState << " states";
  auto name = [](ArrayAttr names, unsigned i) {
    return cast<StringAttr>(names[i]).getValue();
  };
  for (unsigned i = 0; i < nIn; ++i)
    if (failed(checkAbiType(*this, args[i], 2, "input '" + name(getInputNames(), i) + "'")))
      return failure();
  for (unsigned i = 0; i < nParam; ++i)
    if (failed(checkAbiType(*this, args[nIn + i], 0,
                            "param '" + name(getParamNames(), i) + "'")))
      return failure();
  for (unsigned i = 0; i < nState; ++i)
    if (failed(checkAbiType(*this, args[nIn + nParam + i], 1,
                            "state '" + name(getStateNames(), i) + "'")))
      return failure();
  if (backward) {
    // Gradients are typed as what they are the gradients of.
    for (unsigned i = 0; i < nIn + nParam + nState; ++i)
      if (results[i] != args[i])
        return emitOpError() << "gradient " << i << " has type " << results[i]
                             << " but what it is the gradient of has type " << args[i];
    return success();
  }
  for (unsigned i = 0; i < nState; ++i)
    if (results[nOut + i] != args[nIn + nParam + i])
      return emitOpError() << "final state '" << name(getStateNames(), i) << "' has type "
                           << results[nOut + i] << " but its initial state has type "
                           << args[nIn + nParam + i];
  for (unsigned i = 0; i < nOut; ++i)
    if (failed(checkAbiType(*this, results[i], 2, "output '" + name(getOutputNames(), i) + "'")))
      return failure();
  return success();
}

LogicalResult ReturnOp::verify() {
  auto model = cast<ModelOp>((*this)->getParentOp());
  ArrayRef<Type> expected = model.getResultTypes();
  if (getOperands().size() != expected.size())
    return emitOpError() << "returns " << getOperands().size() << " values but the model has "
                         << expected.size() << " results";
  for (auto [i, value, type] : llvm::enumerate(getOperands(), expected))
    if (value.getType() != type)
      return emitOpError() << "operand " << i << " has type " << value.getType()
                           << " but the model's result " << i << " has type " << type;
  return success();
}

//===----------------------------------------------------------------------===//
// RecurrenceOp
//===----------------------------------------------------------------------===//

/// The step region of rec.recurrence and rec.newton, with one block whose
/// arguments are the per-step slices of `inits` and `inputs`.
static void addStepRegion(OperationState &state, ValueRange inits, ValueRange inputs) {
  Region *region = state.addRegion();
  Block *block = new Block();
  region->push_back(block);
  for (Value init : inits)
    block->addArgument(dropLeading(cast<RankedTensorType>(init.getType()), 1), state.location);
  for (Value input : inputs)
    block->addArgument(dropLeading(cast<RankedTensorType>(input.getType()), 2), state.location);
}

void RecurrenceOp::build(OpBuilder &builder, OperationState &state, TypeRange resultTypes,
                         Value batch, Value length, ValueRange inits, ValueRange inputs) {
  state.addOperands({batch, length});
  state.addOperands(inits);
  state.addOperands(inputs);
  state.getOrAddProperties<Properties>().operandSegmentSizes = {
      1, 1, static_cast<int32_t>(inits.size()), static_cast<int32_t>(inputs.size())};
  state.addTypes(resultTypes);
  addStepRegion(state, inits, inputs);
}

/// The declared name behind a recurrence operand, when it is an argument of
/// the enclosing model (as it is straight from the front end).
static std::string operandName(Value operand, bool stripInitSuffix) {
  auto arg = dyn_cast<BlockArgument>(operand);
  if (!arg)
    return "";
  auto model = dyn_cast_or_null<ModelOp>(arg.getOwner()->getParentOp());
  if (!model)
    return "";
  std::string name = modelArgumentName(model, arg.getArgNumber());
  if (stripInitSuffix && StringRef(name).ends_with("_init"))
    name.resize(name.size() - 5);
  return name;
}

/// Names a step's arguments after the model's: `h` for a state, `x_t` for
/// an input's step slice (rec.recurrence and rec.newton).
static void nameStepArguments(Block &body, ValueRange inits, ValueRange inputs,
                              OpAsmSetValueNameFn setNameFn) {
  unsigned nState = inits.size();
  for (unsigned i = 0; i < body.getNumArguments(); ++i) {
    Value operand = i < nState ? inits[i] : inputs[i - nState];
    std::string name = operandName(operand, /*stripInitSuffix=*/true);
    if (!name.empty())
      setNameFn(body.getArgument(i), i < nState ? name : name + "_t");
  }
}

void RecurrenceOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  nameStepArguments(region.front(), getInits(), getInputs(), setNameFn);
}

void RecurrenceOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  // An adjoint's results are cotangents, not the states and outputs whose
  // names its operands carry.
  auto model = (*this)->getParentOfType<ModelOp>();
  if (model && model.getModelKind() == ModelKind::Backward)
    return;
  for (unsigned i = 0; i < getNumStates(); ++i) {
    std::string name = operandName(getInits()[i], /*stripInitSuffix=*/true);
    if (!name.empty())
      setNameFn(getResult(i), name + "_final");
  }
  // Output names live on the model, in the order rec.return takes them; a
  // sequence that is not returned (after rec-outline-stateless or rec-to-scan) keeps a
  // number.
  if (!model)
    return;
  ArrayAttr outputs = model.getOutputNames();
  for (unsigned i = getNumStates(); i < getNumResults(); ++i)
    for (OpOperand &use : getResult(i).getUses())
      if (isa<ReturnOp>(use.getOwner()) && use.getOperandNumber() < outputs.size())
        setNameFn(getResult(i), cast<StringAttr>(outputs[use.getOperandNumber()]).getValue());
}

namespace {
/// An output that yields a step input unchanged is that input's sequence:
/// uses of the result read the input instead. rec-to-scan and rec-outline-stateless leave
/// such pass-throughs, and each would otherwise cost a copy of B x T values.
struct ForwardInputsToOutputs : OpRewritePattern<RecurrenceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RecurrenceOp op, PatternRewriter &rewriter) const override {
    auto yield = cast<YieldOp>(op.getBody().getTerminator());
    unsigned nState = op.getNumStates();
    bool changed = false;
    for (unsigned i = nState; i < op.getNumResults(); ++i) {
      auto arg = dyn_cast<BlockArgument>(yield.getOperand(i));
      if (!arg || arg.getOwner() != &op.getBody() || arg.getArgNumber() < nState)
        continue;
      Value input = op.getInputs()[arg.getArgNumber() - nState];
      Value result = op.getResult(i);
      if (input.getType() != result.getType() || result.use_empty())
        continue;
      rewriter.replaceAllUsesWith(result, input);
      changed = true;
    }
    return success(changed);
  }
};

/// Two output sequences of the same yielded value are one: uses of the
/// second read the first (DropDeadOutputs then drops it). The Newton form's
/// evaluations yield a new state that is also an output (y = h) twice.
struct MergeEqualOutputs : OpRewritePattern<RecurrenceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RecurrenceOp op, PatternRewriter &rewriter) const override {
    auto yield = cast<YieldOp>(op.getBody().getTerminator());
    llvm::DenseMap<Value, unsigned> first;
    bool changed = false;
    for (unsigned i = op.getNumStates(); i < op.getNumResults(); ++i) {
      auto [it, inserted] = first.try_emplace(yield.getOperand(i), i);
      if (inserted || op.getResult(i).use_empty())
        continue;
      rewriter.replaceAllUsesWith(op.getResult(i), op.getResult(it->second));
      changed = true;
    }
    return success(changed);
  }
};

/// Output sequences nobody reads are not computed; a recurrence whose results
/// are all unread is erased (its only effects are on its own results).
struct DropDeadOutputs : OpRewritePattern<RecurrenceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RecurrenceOp op, PatternRewriter &rewriter) const override {
    if (op.use_empty()) {
      rewriter.eraseOp(op);
      return success();
    }
    unsigned nState = op.getNumStates();
    auto yield = cast<YieldOp>(op.getBody().getTerminator());
    SmallVector<Value> keptYields(yield.getOperands().take_front(nState));
    SmallVector<Type> keptTypes(op.getResults().take_front(nState).getTypes());
    SmallVector<Value> oldResults(op.getResults().take_front(nState));
    for (unsigned i = nState; i < op.getNumResults(); ++i) {
      if (op.getResult(i).use_empty())
        continue;
      keptYields.push_back(yield.getOperand(i));
      keptTypes.push_back(op.getResult(i).getType());
      oldResults.push_back(op.getResult(i));
    }
    if (keptTypes.size() == op.getNumResults())
      return failure();
    auto replacement = RecurrenceOp::create(rewriter, op.getLoc(), keptTypes, op.getBatch(),
                                            op.getLength(), op.getInits(), op.getInputs());
    replacement.setReverse(op.getReverse());
    rewriter.eraseBlock(&replacement.getBody());
    rewriter.inlineRegionBefore(op.getStep(), replacement.getStep(), replacement.getStep().end());
    rewriter.setInsertionPoint(yield);
    rewriter.replaceOpWithNewOp<YieldOp>(yield, keptYields);
    for (auto [oldResult, newResult] : llvm::zip(oldResults, replacement.getResults()))
      rewriter.replaceAllUsesWith(oldResult, newResult);
    rewriter.eraseOp(op);
    return success();
  }
};

/// Inputs the step does not read are not sliced and not kept alive.
struct DropUnusedInputs : OpRewritePattern<RecurrenceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RecurrenceOp op, PatternRewriter &rewriter) const override {
    unsigned nState = op.getNumStates();
    Block &body = op.getBody();
    SmallVector<Value> keptInputs;
    llvm::BitVector dead(body.getNumArguments());
    for (auto [i, input] : llvm::enumerate(op.getInputs())) {
      if (body.getArgument(nState + i).use_empty())
        dead.set(nState + i);
      else
        keptInputs.push_back(input);
    }
    if (dead.none())
      return failure();
    auto replacement = RecurrenceOp::create(rewriter, op.getLoc(), op.getResultTypes(),
                                            op.getBatch(), op.getLength(), op.getInits(),
                                            keptInputs);
    replacement.setReverse(op.getReverse());
    rewriter.eraseBlock(&replacement.getBody());
    rewriter.inlineRegionBefore(op.getStep(), replacement.getStep(), replacement.getStep().end());
    replacement.getBody().eraseArguments(dead);
    rewriter.replaceOp(op, replacement.getResults());
    return success();
  }
};
} // namespace

void RecurrenceOp::getCanonicalizationPatterns(RewritePatternSet &results, MLIRContext *context) {
  results.add<ForwardInputsToOutputs, MergeEqualOutputs, DropDeadOutputs, DropUnusedInputs>(
      context);
}

LogicalResult RecurrenceOp::verify() {
  for (Value init : getInits())
    if (failed(checkAbiType(*this, init.getType(), 1, "initial state")))
      return failure();
  for (Value input : getInputs())
    if (failed(checkAbiType(*this, input.getType(), 2, "input sequence")))
      return failure();
  return success();
}

/// What rec.recurrence and rec.newton share: the step's arguments are the
/// states and the per-step inputs; it yields the new states, the outputs (one
/// per result after the final states) and then `numExtraYields` values.
static LogicalResult verifyStep(Operation *op, Block &body, ValueRange inits,
                                ValueRange inputs, unsigned numExtraYields) {
  unsigned nState = inits.size(), nInput = inputs.size();
  auto emitOpError = [&]() { return op->emitOpError(); };
  if (body.getNumArguments() != nState + nInput)
    return emitOpError() << "step has " << body.getNumArguments()
                         << " block arguments; expected " << nState << " states and "
                         << nInput << " inputs";
  for (unsigned i = 0; i < nState; ++i) {
    Type expected = dropLeading(cast<RankedTensorType>(inits[i].getType()), 1);
    if (body.getArgument(i).getType() != expected)
      return emitOpError() << "step argument " << i << " (state) has type "
                           << body.getArgument(i).getType() << "; expected " << expected;
  }
  for (unsigned i = 0; i < nInput; ++i) {
    Type expected = dropLeading(cast<RankedTensorType>(inputs[i].getType()), 2);
    if (body.getArgument(nState + i).getType() != expected)
      return emitOpError() << "step argument " << nState + i << " (input) has type "
                           << body.getArgument(nState + i).getType() << "; expected "
                           << expected;
  }
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getOperands().size() < nState)
    return yield.emitOpError() << "yields " << yield.getOperands().size()
                               << " values but the recurrence has " << nState << " states";
  for (unsigned i = 0; i < nState; ++i)
    if (yield.getOperands()[i].getType() != body.getArgument(i).getType())
      return yield.emitOpError() << "yields " << yield.getOperands()[i].getType()
                                 << " for state " << i << " of type "
                                 << body.getArgument(i).getType();
  unsigned numResults = op->getNumResults();
  if (numResults + numExtraYields != yield.getOperands().size()) {
    auto diag = emitOpError() << "has " << numResults << " results but its step yields "
                              << yield.getOperands().size() << " values";
    if (numExtraYields)
      diag << " (expected " << numResults + numExtraYields << ": the states, the outputs and "
           << numExtraYields << " Jacobian parts)";
    return diag;
  }
  for (unsigned i = 0; i < nState; ++i)
    if (op->getResult(i).getType() != inits[i].getType())
      return emitOpError() << "final state " << i << " has type "
                           << op->getResult(i).getType()
                           << " but its initial state has type " << inits[i].getType();
  for (unsigned i = nState; i < numResults; ++i) {
    auto yielded = cast<RankedTensorType>(yield.getOperands()[i].getType());
    SmallVector<int64_t> shape = {ShapedType::kDynamic, ShapedType::kDynamic};
    shape.append(yielded.getShape().begin(), yielded.getShape().end());
    auto expected = RankedTensorType::get(shape, yielded.getElementType());
    if (op->getResult(i).getType() != expected)
      return emitOpError() << "output sequence " << i - nState << " has type "
                           << op->getResult(i).getType() << "; the step yields " << yielded
                           << ", so expected " << expected;
  }
  return success();
}

LogicalResult RecurrenceOp::verifyRegions() {
  return verifyStep(*this, getBody(), getInits(), getInputs(), /*numExtraYields=*/0);
}

//===----------------------------------------------------------------------===//
// NewtonOp
//===----------------------------------------------------------------------===//

#include "RecEnums.cpp.inc"

void NewtonOp::build(OpBuilder &builder, OperationState &state, TypeRange resultTypes,
                     Value batch, Value length, ValueRange inits, ValueRange inputs,
                     JacobianStructure jacobian, int64_t maxIters, double tol) {
  state.addOperands({batch, length});
  state.addOperands(inits);
  state.addOperands(inputs);
  Properties &properties = state.getOrAddProperties<Properties>();
  properties.operandSegmentSizes = {1, 1, static_cast<int32_t>(inits.size()),
                                    static_cast<int32_t>(inputs.size())};
  properties.jacobian = JacobianStructureAttr::get(builder.getContext(), jacobian);
  properties.max_iters = builder.getI64IntegerAttr(maxIters);
  properties.tol = builder.getF64FloatAttr(tol);
  state.addTypes(resultTypes);
  addStepRegion(state, inits, inputs);
}

void NewtonOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  nameStepArguments(region.front(), getInits(), getInputs(), setNameFn);
}

/// The number of elements of a state (its type without the batch axis).
static int64_t stateElements(Value init) {
  return dropLeading(cast<RankedTensorType>(init.getType()), 1).getNumElements();
}

unsigned NewtonOp::getNumJacobianParts() {
  switch (getJacobian()) {
  case JacobianStructure::Diagonal:
    return getNumStates();
  case JacobianStructure::BlockDiagonal:
    return getNumStates() * getNumStates();
  case JacobianStructure::Dense:
    return 1;
  }
  return 0;
}

LogicalResult NewtonOp::verifyRegions() {
  if (getNumStates() == 0)
    return emitOpError() << "needs at least one state";
  if (getTol().convertToDouble() < 0 || std::isnan(getTol().convertToDouble()))
    return emitOpError() << "needs a tolerance of 0 or more, got "
                         << getTol().convertToDouble();
  if (failed(verifyStep(*this, getBody(), getInits(), getInputs(), getNumJacobianParts())))
    return failure();
  auto yield = cast<YieldOp>(getBody().getTerminator());
  ValueRange parts = yield.getOperands().drop_front(getNumResults());
  Block &body = getBody();
  unsigned nState = getNumStates();
  switch (getJacobian()) {
  case JacobianStructure::Diagonal:
    for (unsigned i = 0; i < nState; ++i)
      if (parts[i].getType() != body.getArgument(i).getType())
        return emitOpError() << "yields " << parts[i].getType() << " as the Jacobian of state "
                             << i << "; a diagonal Jacobian has the state's type "
                             << body.getArgument(i).getType();
    break;
  case JacobianStructure::BlockDiagonal:
    for (unsigned i = 0; i < nState; ++i)
      if (body.getArgument(i).getType() != body.getArgument(0).getType())
        return emitOpError() << "has a block-diagonal Jacobian, which needs states of one "
                                "type, but state "
                             << i << " has type " << body.getArgument(i).getType()
                             << " and state 0 " << body.getArgument(0).getType();
    for (auto [index, part] : llvm::enumerate(parts))
      if (part.getType() != body.getArgument(0).getType())
        return emitOpError() << "yields " << part.getType() << " as Jacobian block entry "
                             << index << "; expected the states' type "
                             << body.getArgument(0).getType();
    break;
  case JacobianStructure::Dense: {
    int64_t n = 0;
    for (Value init : getInits())
      n += stateElements(init);
    auto expected = RankedTensorType::get({n, n}, Float32Type::get(getContext()));
    if (parts[0].getType() != expected)
      return emitOpError() << "yields " << parts[0].getType()
                           << " as the dense Jacobian; the states have " << n
                           << " elements in all, so expected " << expected;
    break;
  }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// ChunkedOp
//===----------------------------------------------------------------------===//

void ChunkedOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getReads(), "reads");
  setNameFn(getFinalState(), "final_state");
}

/// What rec.chunked and rec.chunked_delta both need: canonical rank-4 f32
/// operands whose sizes agree, with static heads, key and value sizes.
static LogicalResult verifyChunkedOperands(Operation *op, RankedTensorType keys,
                                           RankedTensorType values, RankedTensorType init) {
  for (RankedTensorType type : {keys, values, init}) {
    if (type.getRank() != 4)
      return op->emitOpError() << "needs rank-4 operands ([B, T, H, K], [B, T, H, V], "
                                  "[B, H, K, V]), got "
                               << type;
    if (!type.getElementType().isF32())
      return op->emitOpError() << "needs f32 operands, got " << type;
  }
  // Sizes that must agree where both are static: (what, size, other size).
  auto agree = [](int64_t a, int64_t b) {
    return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
  };
  struct Pair {
    const char *what;
    int64_t a, b;
  };
  for (Pair pair : {Pair{"batch sizes", keys.getDimSize(0), values.getDimSize(0)},
                    Pair{"batch sizes", keys.getDimSize(0), init.getDimSize(0)},
                    Pair{"lengths", keys.getDimSize(1), values.getDimSize(1)},
                    Pair{"heads", keys.getDimSize(2), values.getDimSize(2)},
                    Pair{"heads", keys.getDimSize(2), init.getDimSize(1)},
                    Pair{"key sizes", keys.getDimSize(3), init.getDimSize(2)},
                    Pair{"value sizes", values.getDimSize(3), init.getDimSize(3)}})
    if (!agree(pair.a, pair.b))
      return op->emitOpError() << "needs operands whose " << pair.what << " agree, got " << keys
                               << ", " << values << " and init " << init;
  if (ShapedType::isDynamic(keys.getDimSize(2)) || ShapedType::isDynamic(keys.getDimSize(3)) ||
      ShapedType::isDynamic(values.getDimSize(3)))
    return op->emitOpError() << "needs static heads, key and value sizes";
  return success();
}

LogicalResult ChunkedOp::verify() {
  return verifyChunkedOperands(*this, cast<RankedTensorType>(getKeys().getType()),
                               cast<RankedTensorType>(getValues().getType()),
                               cast<RankedTensorType>(getInit().getType()));
}

//===----------------------------------------------------------------------===//
// ChunkedDeltaOp
//===----------------------------------------------------------------------===//

void ChunkedDeltaOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getReads(), "reads");
  setNameFn(getFinalState(), "final_state");
}

LogicalResult ChunkedDeltaOp::verify() {
  return verifyChunkedOperands(*this, cast<RankedTensorType>(getKeys().getType()),
                               cast<RankedTensorType>(getValues().getType()),
                               cast<RankedTensorType>(getInit().getType()));
}

/// What rec.attention and rec.chunked_attention both need of their
/// attributes: a finite scale, and a window that is a count (0: unbounded).
static LogicalResult verifyAttentionAttributes(Operation *op, APFloat scale, uint64_t window) {
  if (!std::isfinite(scale.convertToDouble()))
    return op->emitOpError() << "needs a finite scale";
  // I64Attr reads back as uint64_t; the window is meant as a signed count.
  if (static_cast<int64_t>(window) < 0)
    return op->emitOpError() << "needs window >= 0 (0 = unbounded), got "
                             << static_cast<int64_t>(window);
  return success();
}

//===----------------------------------------------------------------------===//
// ChunkedAttentionOp
//===----------------------------------------------------------------------===//

LogicalResult ChunkedAttentionOp::verify() {
  auto queries = cast<RankedTensorType>(getQueries().getType());
  auto keys = cast<RankedTensorType>(getKeys().getType());
  auto values = cast<RankedTensorType>(getValues().getType());
  if (keys.getRank() != 4 || values.getRank() != 4)
    return emitOpError() << "needs rank-4 keys and values ([B, T, H, K], [B, T, H, V]), got "
                         << keys << " and " << values;
  for (RankedTensorType type : {queries, keys, values})
    if (!type.getElementType().isF32())
      return emitOpError() << "needs f32 operands, got " << type;
  if (queries.getRank() == 2) {
    if (queries.getShape() != keys.getShape().drop_front(2))
      return emitOpError() << "needs a fixed query [H, K] matching the keys, got " << queries
                           << " and " << keys;
  } else if (queries != keys) {
    return emitOpError() << "needs queries typed as the keys or one fixed query [H, K], got "
                         << queries << " and " << keys;
  }
  auto agree = [](int64_t a, int64_t b) {
    return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
  };
  for (unsigned d = 0; d < 3; ++d)
    if (!agree(keys.getDimSize(d), values.getDimSize(d)))
      return emitOpError() << "needs keys and values whose batch, length and heads agree, got "
                           << keys << " and " << values;
  if (ShapedType::isDynamic(keys.getDimSize(2)) || ShapedType::isDynamic(keys.getDimSize(3)) ||
      ShapedType::isDynamic(values.getDimSize(3)))
    return emitOpError() << "needs static heads, key and value sizes";
  return verifyAttentionAttributes(*this, getScale(), getWindow());
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  auto q = cast<RankedTensorType>(getQ().getType());
  auto k = cast<RankedTensorType>(getK().getType());
  auto v = cast<RankedTensorType>(getV().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (q.getRank() < 1)
    return emitOpError() << "needs q, k, v of rank at least 1";
  if (q != k)
    return emitOpError() << "needs q and k of the same type, got " << q << " and " << k;
  if (v.getRank() != q.getRank() || q.getShape().drop_back() != v.getShape().drop_back())
    return emitOpError() << "needs v with the same leading axes as q, got " << q << " and "
                         << v;
  if (!q.hasStaticShape() || !v.hasStaticShape())
    return emitOpError() << "needs static shapes";
  SmallVector<int64_t> expected(q.getShape());
  expected.back() = v.getShape().back();
  if (result.getShape() != ArrayRef<int64_t>(expected) ||
      result.getElementType() != v.getElementType())
    return emitOpError() << "result type " << result << " does not match v " << v;
  return verifyAttentionAttributes(*this, getScale(), getWindow());
}

//===----------------------------------------------------------------------===//
// ScanOp
//===----------------------------------------------------------------------===//

void ScanOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getStates(), "states");
  setNameFn(getFinalState(), "final");
}

LogicalResult ScanOp::verify() {
  auto seq = cast<RankedTensorType>(getCoefficients().getType());
  if (seq.getRank() < 2)
    return emitOpError() << "needs coefficient sequences of rank at least 2 (batch, time), got "
                         << seq;
  if (!seq.getElementType().isF32())
    return emitOpError() << "needs f32 sequences, got " << seq;
  Type expected = RankedTensorType::get(
      [&] {
        SmallVector<int64_t> shape = {seq.getDimSize(0)};
        shape.append(seq.getShape().begin() + 2, seq.getShape().end());
        return shape;
      }(),
      seq.getElementType());
  if (getInit().getType() != expected)
    return emitOpError() << "initial state has type " << getInit().getType()
                         << "; the sequences " << seq << " need " << expected;
  return success();
}

SmallVector<AffineMap> mlir::rec::getProjectionIndexingMaps(MLIRContext *context) {
  AffineExpr batch, time, channel, reduced;
  bindDims(context, batch, time, channel, reduced);
  return {AffineMap::get(4, 0, {batch, time, reduced}, context),
          AffineMap::get(4, 0, {reduced, channel}, context),
          AffineMap::get(4, 0, {batch, time, channel}, context)};
}

//===----------------------------------------------------------------------===//
// LinearScanOp
//===----------------------------------------------------------------------===//

LogicalResult LinearScanOp::verify() {
  auto seq = cast<ShapedType>(getCoefficients().getType());
  bool onTensors = isa<RankedTensorType>(seq);
  for (Value operand : getOperands()) {
    auto type = dyn_cast<ShapedType>(operand.getType());
    if (!type || !type.hasRank() || isa<RankedTensorType>(type) != onTensors ||
        (!onTensors && !isa<MemRefType>(type)))
      return emitOpError() << "needs all operands ranked tensors or all memrefs, got "
                           << operand.getType();
    if (!type.getElementType().isF32())
      return emitOpError() << "needs f32 operands, got " << operand.getType();
  }
  if (seq.getRank() < 2)
    return emitOpError() << "needs coefficient sequences of rank at least 2 (batch, time), got "
                         << seq;
  for (Value sequence : {getOffsets(), getStates()})
    if (cast<ShapedType>(sequence.getType()).getShape() != seq.getShape())
      return emitOpError() << "needs offsets and states shaped as the coefficients " << seq
                           << ", got " << sequence.getType();
  SmallVector<int64_t> stateShape = {seq.getDimSize(0)};
  stateShape.append(seq.getShape().begin() + 2, seq.getShape().end());
  for (Value state : {getInit(), getFinalState()})
    if (cast<ShapedType>(state.getType()).getShape() != ArrayRef<int64_t>(stateShape))
      return emitOpError() << "needs init and final state shaped as the sequences without "
                              "their time axis, got "
                           << state.getType() << " for " << seq;
  if (onTensors) {
    if (getNumResults() != 2 || getResult(0).getType() != getStates().getType() ||
        getResult(1).getType() != getFinalState().getType())
      return emitOpError() << "on tensors returns its two destinations' types";
  } else if (getNumResults() != 0) {
    return emitOpError() << "on memrefs has no results";
  }
  return success();
}

void LinearScanOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects) {
  // On tensors the op is pure; on memrefs it reads its inputs and writes its
  // destinations, entirely (the destinations are never read).
  if (hasPureTensorSemantics())
    return;
  for (OpOperand &operand : getOperation()->getOpOperands()) {
    if (isDpsInit(&operand))
      effects.emplace_back(MemoryEffects::Write::get(), &operand,
                           SideEffects::DefaultResource::get());
    else
      effects.emplace_back(MemoryEffects::Read::get(), &operand,
                           SideEffects::DefaultResource::get());
  }
}

bool LinearScanOp::bufferizesToMemoryRead(OpOperand &operand,
                                          const bufferization::AnalysisState &) {
  // Every element of both destinations is overwritten before it is read.
  return !isDpsInit(&operand);
}

bool LinearScanOp::bufferizesToMemoryWrite(OpOperand &operand,
                                           const bufferization::AnalysisState &) {
  return isDpsInit(&operand);
}

bufferization::AliasingValueList
LinearScanOp::getAliasingValues(OpOperand &operand, const bufferization::AnalysisState &) {
  if (!isDpsInit(&operand))
    return {};
  return {{getTiedOpResult(&operand), bufferization::BufferRelation::Equivalent}};
}

LogicalResult LinearScanOp::bufferize(RewriterBase &rewriter,
                                      const bufferization::BufferizationOptions &options,
                                      bufferization::BufferizationState &state) {
  SmallVector<Value> buffers;
  for (Value operand : getOperands()) {
    FailureOr<Value> buffer = bufferization::getBuffer(rewriter, operand, options, state);
    if (failed(buffer))
      return failure();
    buffers.push_back(*buffer);
  }
  rewriter.setInsertionPoint(*this);
  LinearScanOp::create(rewriter, getLoc(), TypeRange{}, buffers, (*this)->getAttrs());
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, {buffers[3], buffers[4]});
  return success();
}

#define GET_OP_CLASSES
#include "RecOps.cpp.inc"
