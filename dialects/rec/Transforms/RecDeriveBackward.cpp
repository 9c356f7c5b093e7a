//===- RecDeriveBackward.cpp - The models of the backward entry points ----===//
//
// For every model M: M_forward_tape (the forward with the tape: each state
// after each step, or for matrix states the state entering every segment of
// kTapeInterval steps), and M_backward, the vector-Jacobian product
// of the whole call as a reverse-time recurrence whose step is the forward
// step followed by its adjoint (StepAdjoint.cpp). The step's work splits in
// two: what varies with the step runs (forwards, then backwards) in the
// adjoint recurrence; what depends on params alone runs once before it, and
// its cotangents, summed over batch and time, go back through it once after.
//
//===----------------------------------------------------------------------===//
#include "Passes.h"
#include "StepAdjoint.h"
#include "StepOutlining.h"

#include "seqc/Analysis/MatrixStateAnalysis.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::rec {
#define GEN_PASS_DEF_RECDERIVEBACKWARD
#include "Passes.h.inc"

namespace {

RankedTensorType withLeading(Type type, ArrayRef<int64_t> leading) {
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(leading);
  llvm::append_range(shape, tensor.getShape());
  return RankedTensorType::get(shape, tensor.getElementType());
}

constexpr int64_t kDyn = ShapedType::kDynamic;

/// The tape of a state of type [B, shape...]: [B, T, shape...].
RankedTensorType tapeType(Type stateType) {
  auto type = cast<RankedTensorType>(stateType);
  SmallVector<int64_t> shape{kDyn, kDyn};
  llvm::append_range(shape, type.getShape().drop_front());
  return RankedTensorType::get(shape, type.getElementType());
}

Value zeroTensor(OpBuilder &b, Location loc, Type type, ValueRange dynamicSizes) {
  auto tensor = cast<RankedTensorType>(type);
  Value empty = tensor::EmptyOp::create(b, loc, tensor.getShape(), tensor.getElementType(),
                                        dynamicSizes);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// The one recurrence of a model straight from the front end, whose
/// results rec.return returns as they are; null otherwise, with `why`.
RecurrenceOp soleRecurrence(ModelOp model, std::string &why) {
  auto recurrences = llvm::to_vector(model.getBody().getOps<RecurrenceOp>());
  if (recurrences.size() != 1) {
    why = "the model is not one recurrence";
    return nullptr;
  }
  RecurrenceOp recurrence = recurrences.front();
  Block &body = model.getBody().front();
  ValueRange inits = body.getArguments().drop_front(ModelOp::kNumSizeArgs + model.getNumInputs() +
                                                    model.getNumParams());
  auto ret = cast<ReturnOp>(body.getTerminator());
  bool shaped = recurrence.getInits() == inits && !recurrence.getReverse();
  for (auto [i, operand] : llvm::enumerate(ret.getOperands()))
    shaped &= operand.getDefiningOp() == recurrence.getOperation() &&
              (i < model.getNumOutputs() ||
               operand == recurrence.getResult(i - model.getNumOutputs()));
  if (!shaped) {
    why = "the model's recurrence is not in the front end's form";
    return nullptr;
  }
  bool attention = recurrence.getBody()
                       .walk([](AttentionOp) { return WalkResult::interrupt(); })
                       .wasInterrupted();
  if (attention) {
    why = "attention has no gradient rule yet";
    return nullptr;
  }
  return recurrence;
}

/// A copy of `model` named `name`, of `kind`, with `resultTypes` (and the
/// model's tape interval).
ModelOp cloneModel(OpBuilder &b, ModelOp model, StringRef name, ModelKind kind,
                   TypeRange argTypes, TypeRange resultTypes) {
  auto copy = ModelOp::create(
      b, model.getLoc(), b.getStringAttr(name),
      TypeAttr::get(b.getFunctionType(argTypes, resultTypes)), ArrayAttr(), ArrayAttr(),
      model.getInputNames(), model.getParamNames(), model.getStateNames(),
      model.getOutputNames(), model.getStateInitAttr(), model.getDimsAttr(),
      ModelKindAttr::get(b.getContext(), kind), model.getTapeIntervalAttr(),
      model.getSavedProjectionsAttr());
  return copy;
}

/// Steps between two saved states of a model whose states are saved every
/// so many steps: a multiple of the chunked form's chunk size, so that the
/// tape's segments hold whole chunks. At T = 4096 it is 16 states instead
/// of 4096, and the backward's recomputed segment is 256 states.
constexpr int64_t kTapeInterval = 256;

/// Whether the tape saves a state every kTapeInterval steps rather than
/// every step: for the matrix states that the chunked form takes (outer
/// products, the delta rule), B * T of which would be far more than the
/// call's inputs and outputs, and more than their chunked forward ever
/// holds. Other states are vectors (or a scan's, which its form stores for
/// every step anyway, and whose backward is a scan only with them).
bool savesEveryInterval(RecurrenceOp recurrence) {
  for (unsigned i = 0; i < recurrence.getNumStates(); ++i)
    if (seqc::matchMatrixState(recurrence, i).matched)
      return true;
  return false;
}

/// The step's projections of its inputs by params (`W @ x`: a contraction
/// of a step input with a value from outside the step), which the tape
/// saves for the backward instead of it recomputing them: the forward's
/// forms compute them for all steps at once anyway, and recomputed they
/// are a third of a cell like minGRU's backward. Only for models whose
/// tape has a state for every step (a matrix state's tape is kept to a
/// state per segment, and projections would outweigh it) and some state.
SmallVector<Operation *> projectionsToSave(RecurrenceOp recurrence) {
  SmallVector<Operation *> saved;
  if (recurrence.getNumStates() == 0 || savesEveryInterval(recurrence))
    return saved;
  Block &step = recurrence.getBody();
  unsigned nState = recurrence.getNumStates();
  auto isStepInput = [&](Value value) {
    auto arg = dyn_cast<BlockArgument>(value);
    return arg && arg.getOwner() == &step && arg.getArgNumber() >= nState;
  };
  for (Operation &op : step.without_terminator()) {
    auto linalgOp = dyn_cast<linalg::LinalgOp>(&op);
    if (!linalgOp || linalgOp.getNumReductionLoops() == 0 || linalgOp.getNumDpsInputs() != 2 ||
        op.getNumResults() != 1)
      continue;
    Value lhs = linalgOp.getDpsInputs()[0], rhs = linalgOp.getDpsInputs()[1];
    auto outside = [&](Value value) { return value.getParentRegion() != &recurrence.getStep(); };
    if ((isStepInput(lhs) && outside(rhs)) || (isStepInput(rhs) && outside(lhs)))
      saved.push_back(&op);
  }
  return saved;
}

/// Work done before a segment's copy of the recurrence: it may replace the
/// segment's inputs (sliced from the recurrence's) and returns the new
/// values of the loop's extra carried values.
using SegmentPrologue = function_ref<SmallVector<Value>(
    OpBuilder &b, Value segment, Value count, ValueRange states,
    SmallVectorImpl<Value> &inputs, ValueRange extras)>;

/// Replaces `recurrence` by a loop over segments of `interval` steps (last
/// to first for a reverse recurrence), each running a copy of it on its
/// steps: the states are carried from segment to segment, the output
/// sequences written a segment at a time, and `extraInits` carried for the
/// prologue. Returns the loop: the recurrence's results, then the extras.
scf::ForOp runInSegments(OpBuilder &b, RecurrenceOp recurrence, int64_t interval,
                         ValueRange extraInits, SegmentPrologue prologue) {
  Location loc = recurrence.getLoc();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(recurrence);
  Value batch = recurrence.getBatch(), length = recurrence.getLength();
  unsigned nState = recurrence.getNumStates();
  unsigned nOut = recurrence.getNumResults() - nState;
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value width = arith::ConstantIndexOp::create(b, loc, interval);
  Value segments = arith::CeilDivUIOp::create(b, loc, length, width);
  SmallVector<Value> carried(recurrence.getInits());
  for (Value output : recurrence.getResults().drop_front(nState)) {
    auto type = cast<RankedTensorType>(output.getType());
    carried.push_back(tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                              ValueRange{batch, length}));
  }
  llvm::append_range(carried, extraInits);
  auto loop = scf::ForOp::create(
      b, loc, zero, segments, one, carried,
      [&](OpBuilder &b, Location loc, Value iteration, ValueRange args) {
        Value segment = recurrence.getReverse()
                            ? arith::SubIOp::create(
                                  b, loc, arith::SubIOp::create(b, loc, segments, one), iteration)
                            : iteration;
        Value start = arith::MulIOp::create(b, loc, segment, width);
        Value count = arith::MinUIOp::create(b, loc, width,
                                             arith::SubIOp::create(b, loc, length, start));
        ValueRange states = args.take_front(nState);
        SmallVector<Value> inputs;
        for (Value input : recurrence.getInputs())
          inputs.push_back(sliceSteps(b, loc, input, batch, start, count));
        SmallVector<Value> extras =
            prologue(b, segment, count, states, inputs, args.drop_front(nState + nOut));
        auto part = RecurrenceOp::create(b, loc, recurrence.getResultTypes(), batch, count,
                                         states, inputs);
        part.setReverse(recurrence.getReverse());
        part.getStep().takeBody(recurrence.getStep());
        SmallVector<Value> yielded(part.getResults().take_front(nState));
        for (unsigned j = 0; j < nOut; ++j)
          yielded.push_back(insertSteps(b, loc, part.getResult(nState + j),
                                        args[nState + j], batch, start, count));
        llvm::append_range(yielded, extras);
        scf::YieldOp::create(b, loc, yielded);
      });
  recurrence.replaceAllUsesWith(loop.getResults().take_front(recurrence.getNumResults()));
  recurrence.erase();
  return loop;
}

/// M_forward_tape: the forward whose recurrence also yields every new state
/// as a sequence, or with a tape interval, runs a segment at a time and
/// saves the state entering each.
void buildTapeModel(OpBuilder &b, ModelOp model, RecurrenceOp recurrence,
                    ArrayRef<Operation *> projections) {
  Location loc = model.getLoc();
  unsigned nState = model.getNumStates();
  SmallVector<Type> tapeTypes;
  for (Value init : recurrence.getInits())
    tapeTypes.push_back(tapeType(init.getType()));
  for (Operation *projection : projections)
    tapeTypes.push_back(sequenceType(projection->getResult(0).getType()));
  SmallVector<Type> resultTypes(model.getResultTypes());
  llvm::append_range(resultTypes, tapeTypes);
  ModelOp copy = cloneModel(b, model, (model.getSymName() + "_forward_tape").str(),
                            ModelKind::ForwardTape, model.getArgumentTypes(), resultTypes);
  IRMapping mapping;
  model.getBody().cloneInto(&copy.getBody(), mapping);
  auto cloned = cast<RecurrenceOp>(mapping.lookup(recurrence.getOperation()));
  auto ret = cast<ReturnOp>(copy.getBody().front().getTerminator());
  if (std::optional<uint64_t> interval = model.getTapeInterval()) {
    OpBuilder before(cloned);
    Value batch = cloned.getBatch();
    Value segments = arith::CeilDivUIOp::create(
        before, loc, cloned.getLength(), arith::ConstantIndexOp::create(before, loc, *interval));
    SmallVector<Value> tapes;
    for (Type type : tapeTypes)
      tapes.push_back(tensor::EmptyOp::create(before, loc, cast<RankedTensorType>(type).getShape(),
                                              before.getF32Type(), ValueRange{batch, segments}));
    auto save = [&](OpBuilder &b, Value segment, Value, ValueRange states,
                    SmallVectorImpl<Value> &, ValueRange saved) {
      SmallVector<Value> updated;
      for (auto [state, tape] : llvm::zip(states, saved))
        updated.push_back(insertStep(b, loc, state, tape, batch, segment));
      return updated;
    };
    scf::ForOp loop = runInSegments(before, cloned, *interval, tapes, save);
    SmallVector<Value> returned(ret.getOperands());
    llvm::append_range(returned, loop.getResults().take_back(nState));
    ret->setOperands(returned);
    return;
  }
  OpBuilder inner(cloned);
  SmallVector<Type> types(cloned.getResultTypes());
  llvm::append_range(types, tapeTypes);
  auto extended = RecurrenceOp::create(inner, loc, types, cloned.getBatch(), cloned.getLength(),
                                       cloned.getInits(), cloned.getInputs());
  extended.getStep().takeBody(cloned.getStep());
  auto yield = cast<YieldOp>(extended.getBody().getTerminator());
  SmallVector<Value> yielded(yield.getOperands());
  llvm::append_range(yielded, yield.getOperands().take_front(nState));
  for (Operation *projection : projections)
    yielded.push_back(mapping.lookup(projection->getResult(0)));
  yield->setOperands(yielded);
  cloned.replaceAllUsesWith(extended.getResults().take_front(cloned.getNumResults()));
  cloned.erase();
  SmallVector<Value> returned(ret.getOperands());
  llvm::append_range(returned, extended.getResults().take_back(tapeTypes.size()));
  ret->setOperands(returned);
}

/// What the adjoint of one model is built from: the forward step split
/// into the work that varies with the step and the work on params alone,
/// and which values a cotangent must reach.
struct StepSplit {
  SmallVector<Operation *> invariantOps, varyingOps;
  DenseSet<Value> varying, paramDependent;

  StepSplit(ModelOp model, RecurrenceOp recurrence) {
    Block &body = recurrence.getBody();
    for (BlockArgument arg : body.getArguments())
      varying.insert(arg);
    Block &modelBody = model.getBody().front();
    for (BlockArgument param : modelBody.getArguments().slice(
             ModelOp::kNumSizeArgs + model.getNumInputs(), model.getNumParams()))
      paramDependent.insert(param);
    auto classify = [&](Operation &op, bool inStep) {
      // A broadcast of param work stays in the step, where its adjoint sums
      // the cotangent back to the smaller shape: yielded per step before
      // the sum, it would cost B x T times the broadcast shape.
      bool broadcastsParams =
          isa<linalg::BroadcastOp>(op) && paramDependent.contains(op.getOperand(0));
      bool isVarying = inStep && (broadcastsParams || llvm::any_of(op.getOperands(), [&](Value v) {
                                    return varying.contains(v);
                                  }));
      bool dependsOnParams = llvm::any_of(
          op.getOperands(), [&](Value v) { return paramDependent.contains(v); });
      for (Value result : op.getResults()) {
        if (isVarying)
          varying.insert(result);
        if (dependsOnParams)
          paramDependent.insert(result);
      }
      (isVarying ? varyingOps : invariantOps).push_back(&op);
    };
    for (Operation &op : modelBody.without_terminator())
      if (&op != recurrence.getOperation())
        classify(op, /*inStep=*/false);
    for (Operation &op : body.without_terminator())
      classify(op, /*inStep=*/true);
  }
};

/// A param gradient's share from one projection: the adjoint yields both
/// factors per step, and one contraction over batch and time sums them.
struct DeferredProjection {
  Value target; // the value outside the step, in the backward model
  linalg::LinalgOp op;
  unsigned input;
  unsigned cotangentOutput, otherOutput;
};

/// An input gradient's share from a projection of the step's input by
/// param work (W^T dy for W @ x): the adjoint yields dy, and one matmul
/// over all steps after it gives the share.
struct DeferredInputCotangent {
  unsigned recurrenceInput;
  linalg::LinalgOp op;
  unsigned input;
  unsigned cotangentOutput;
};



/// The backward model of one forward model.
class BackwardBuilder {
public:
  BackwardBuilder(OpBuilder &b, ModelOp model, RecurrenceOp recurrence,
                  ArrayRef<Operation *> savedProjections)
      : b(b), model(model), recurrence(recurrence), split(model, recurrence),
        savedProjections(savedProjections) {}

  LogicalResult build(std::string &why);

private:
  ModelOp createModel();
  LogicalResult buildAdjointStep(RecurrenceOp adjoint, std::string &why);
  /// The gradients M_backward returns, from the adjoint's results: input
  /// gradients (with the deferred projections), param gradients (the
  /// steps' shares summed, then back through the work on params).
  LogicalResult collectGradients(RecurrenceOp adjoint, SmallVectorImpl<Value> &gradients,
                                 std::string &why);
  Value sumOverSteps(Location loc, Value sequence, Type type);
  /// With a tape interval: the adjoint run a segment at a time, last to
  /// first, each segment's forward states recomputed from the one saved at
  /// its start.
  void recomputeInSegments(RecurrenceOp adjoint, ValueRange tape, int64_t interval);

  OpBuilder &b;
  ModelOp model, backward;
  RecurrenceOp recurrence;
  StepSplit split;
  /// Forward step ops whose values the tape holds for every step.
  ArrayRef<Operation *> savedProjections;
  IRMapping mapping; // forward values to the backward model's
  DenseSet<Value> receiving;
  SmallVector<Value> receivingInOrder;
  unsigned nInputArgs = 0;
  // Results of the adjoint step, past the state cotangents.
  SmallVector<Value> stepOutputs;
  SmallVector<std::pair<unsigned, unsigned>> inputCotangentOutputs; // (model input, output)
  SmallVector<std::pair<Value, unsigned>> directOutputs;          // (outside value, output)
  SmallVector<DeferredProjection> projections;
  SmallVector<DeferredInputCotangent> inputProjections;
};

ModelOp BackwardBuilder::createModel() {
  unsigned nState = model.getNumStates(), nOut = model.getNumOutputs();
  ArrayRef<Type> forwardArgs = model.getArgumentTypes();
  ArrayRef<Type> stateTypes = forwardArgs.take_back(nState);
  SmallVector<Type> argTypes(forwardArgs);
  for (Type type : stateTypes)
    argTypes.push_back(tapeType(type));
  for (Operation *projection : savedProjections)
    argTypes.push_back(sequenceType(projection->getResult(0).getType()));
  llvm::append_range(argTypes, model.getResultTypes().take_front(nOut));
  llvm::append_range(argTypes, stateTypes);
  SmallVector<Type> resultTypes(forwardArgs.drop_front(ModelOp::kNumSizeArgs));
  return cloneModel(b, model, (model.getSymName() + "_backward").str(), ModelKind::Backward,
                    argTypes, resultTypes);
}

Value BackwardBuilder::sumOverSteps(Location loc, Value sequence, Type type) {
  Value init = zeroTensor(b, loc, type, {});
  return linalg::ReduceOp::create(
             b, loc, ValueRange{sequence}, ValueRange{init}, ArrayRef<int64_t>{0, 1},
             [](OpBuilder &b, Location loc, ValueRange args) {
               linalg::YieldOp::create(b, loc,
                                       Value(arith::AddFOp::create(b, loc, args[0], args[1])));
             })
      .getResult(0);
}

LogicalResult BackwardBuilder::build(std::string &why) {
  Location loc = model.getLoc();
  unsigned nIn = model.getNumInputs(), nParam = model.getNumParams(),
           nState = model.getNumStates(), nOut = model.getNumOutputs();
  backward = createModel();
  Block *entry = new Block();
  backward.getBody().push_back(entry);
  for (Type type : backward.getArgumentTypes())
    entry->addArgument(type, loc);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  Block &forwardBody = model.getBody().front();
  unsigned nForwardArgs = forwardBody.getNumArguments();
  for (unsigned i = 0; i < nForwardArgs; ++i)
    mapping.map(forwardBody.getArgument(i), entry->getArgument(i));
  Value batch = entry->getArgument(0), length = entry->getArgument(1);
  ValueRange inits = entry->getArguments().slice(ModelOp::kNumSizeArgs + nIn + nParam, nState);
  unsigned nSaved = savedProjections.size();
  ValueRange tape = entry->getArguments().slice(nForwardArgs, nState);
  ValueRange savedTape = entry->getArguments().slice(nForwardArgs + nState, nSaved);
  ValueRange outputCotangents =
      entry->getArguments().slice(nForwardArgs + nState + nSaved, nOut);
  ValueRange finalCotangents = entry->getArguments().take_back(nState);

  // Work on params alone, once.
  for (Operation *op : split.invariantOps)
    b.clone(*op, mapping);
  // In program order, so that the adjoint's outputs come in a fixed order.
  for (BlockArgument param : forwardBody.getArguments().slice(ModelOp::kNumSizeArgs + nIn, nParam))
    receivingInOrder.push_back(mapping.lookup(param));
  for (Operation *op : split.invariantOps)
    for (Value result : op->getResults())
      if (split.paramDependent.contains(result))
        receivingInOrder.push_back(mapping.lookup(result));
  receiving.insert(receivingInOrder.begin(), receivingInOrder.end());

  // The adjoint recurrence: states are the cotangents of the states; inputs
  // the states before each step, the step's inputs and the cotangents of
  // its output sequences.
  std::optional<uint64_t> interval = model.getTapeInterval();
  SmallVector<Value> adjointInputs;
  for (unsigned i = 0; i < nState; ++i)
    adjointInputs.push_back(
        interval ? tensor::EmptyOp::create(b, loc, cast<RankedTensorType>(tape[i].getType()).getShape(),
                                           b.getF32Type(), ValueRange{batch, length})
                       .getResult()
                 : statesBeforeSteps(b, loc, batch, length, inits[i], tape[i]));
  for (Value input : recurrence.getInputs())
    adjointInputs.push_back(mapping.lookup(input));
  nInputArgs = recurrence.getInputs().size();
  for (Value dy : outputCotangents)
    adjointInputs.push_back(dy);
  llvm::append_range(adjointInputs, savedTape);
  auto adjoint = RecurrenceOp::create(b, loc, TypeRange{}, batch, length, finalCotangents,
                                      adjointInputs);
  adjoint.setReverse(true);
  if (failed(buildAdjointStep(adjoint, why)))
    return failure();

  // Its result types are known now: rebuild it with them.
  SmallVector<Type> resultTypes(finalCotangents.getTypes());
  for (Value output : stepOutputs)
    resultTypes.push_back(withLeading(output.getType(), {kDyn, kDyn}));
  auto typed = RecurrenceOp::create(b, loc, resultTypes, batch, length, finalCotangents,
                                    adjointInputs);
  typed.setReverse(true);
  typed.getStep().takeBody(adjoint.getStep());
  adjoint.erase();

  SmallVector<Value> gradients;
  if (failed(collectGradients(typed, gradients, why)))
    return failure();
  llvm::append_range(gradients, typed.getFinalStates());
  ReturnOp::create(b, loc, gradients);
  if (interval)
    recomputeInSegments(typed, tape, *interval);
  return success();
}

void BackwardBuilder::recomputeInSegments(RecurrenceOp adjoint, ValueRange tape,
                                          int64_t interval) {
  Location loc = adjoint.getLoc();
  unsigned nState = model.getNumStates();
  Value batch = adjoint.getBatch();
  SmallVector<Type> recomputedTypes(recurrence.getInits().getTypes());
  for (Type type : recurrence.getInits().getTypes())
    recomputedTypes.push_back(tapeType(type));
  auto recompute = [&](OpBuilder &b, Value segment, Value count, ValueRange,
                       SmallVectorImpl<Value> &inputs, ValueRange) {
    SmallVector<Value> entering;
    for (Value saved : tape)
      entering.push_back(extractStep(b, loc, saved, batch, segment));
    // The forward step yielding its new states as the outputs.
    ValueRange forwardInputs = ValueRange(inputs).slice(nState, nInputArgs);
    auto states = RecurrenceOp::create(b, loc, recomputedTypes, batch, count, entering,
                                       forwardInputs);
    // Only the values from outside the step: `mapping` also holds the
    // step's own, from building the adjoint step.
    IRMapping outer;
    llvm::SetVector<Value> captured;
    getUsedValuesDefinedAbove(recurrence.getStep(), captured);
    for (Value value : captured)
      outer.map(value, mapping.lookup(value));
    states.getStep().getBlocks().clear();
    recurrence.getStep().cloneInto(&states.getStep(), outer);
    auto yield = cast<YieldOp>(states.getBody().getTerminator());
    SmallVector<Value> newStates(yield.getOperands().take_front(nState));
    yield->setOperands(llvm::to_vector(llvm::concat<Value>(newStates, newStates)));
    for (unsigned i = 0; i < nState; ++i)
      inputs[i] = statesBeforeSteps(b, loc, batch, count, entering[i],
                                    states.getResult(nState + i));
    return SmallVector<Value>();
  };
  runInSegments(b, adjoint, interval, {}, recompute);
}

LogicalResult BackwardBuilder::collectGradients(RecurrenceOp adjoint,
                                                SmallVectorImpl<Value> &gradients,
                                                std::string &why) {
  Location loc = model.getLoc();
  unsigned nIn = model.getNumInputs(), nParam = model.getNumParams(),
           nState = model.getNumStates();
  Block *entry = &backward.getBody().front();
  Block &forwardBody = model.getBody().front();
  Value batch = entry->getArgument(0), length = entry->getArgument(1);
  RecurrenceOp typed = adjoint;
  // Param gradients: the steps' shares summed, then back through the work
  // on params.
  auto outputAt = [&](unsigned index) { return typed.getResult(nState + index); };
  AdjointBuilder outside(
      b, [&](Value v) { return receiving.contains(v); },
      [](linalg::LinalgOp, unsigned, Value) { return false; });
  for (auto [target, index] : directOutputs)
    outside.seed(target, sumOverSteps(loc, outputAt(index), target.getType()));
  // Over (b, t) first: a sum of rank-1 updates into an output that stays
  // in cache. (Flattened into one axis, the register tiles would stream
  // both factors once per output tile: 1.5x slower for minGRU.)
  for (const DeferredProjection &p : projections)
    outside.seed(p.target, contractionInputCotangent(
                               b, loc, p.op, p.input, outputAt(p.cotangentOutput),
                               outputAt(p.otherOutput),
                               {/*cotangent=*/true, /*other=*/true, /*result=*/false,
                                /*axes=*/2}));
  SmallVector<Operation *> outsideOps;
  for (Operation *op : split.invariantOps)
    outsideOps.push_back(mapping.lookup(op));
  if (failed(outside.run(outsideOps, why)))
    return failure();

  auto modelInputOf = [&](unsigned recurrenceInput) -> std::optional<unsigned> {
    auto arg = dyn_cast<BlockArgument>(recurrence.getInputs()[recurrenceInput]);
    if (!arg || arg.getOwner() != &forwardBody)
      return std::nullopt;
    return arg.getArgNumber() - ModelOp::kNumSizeArgs;
  };
  for (unsigned j = 0; j < nIn; ++j) {
    Value total;
    auto add = [&](Value share) {
      total = total ? Value(arith::AddFOp::create(b, loc, total, share)) : share;
    };
    for (auto [modelInput, index] : inputCotangentOutputs)
      if (modelInput == j)
        add(outputAt(index));
    for (DeferredInputCotangent p : inputProjections)
      if (modelInputOf(p.recurrenceInput) == j)
        add(contractionInputCotangent(b, loc, p.op, p.input, outputAt(p.cotangentOutput),
                                      p.op.getDpsInputs()[1 - p.input],
                                      {/*cotangent=*/true, /*other=*/false, /*result=*/true,
                                       /*axes=*/2}));
    gradients.push_back(total ? total
                              : zeroTensor(b, loc, entry->getArgument(2 + j).getType(),
                                           {batch, length}));
  }
  for (unsigned p = 0; p < nParam; ++p) {
    Value param = entry->getArgument(2 + nIn + p);
    Value gradient = outside.cotangent(param);
    gradients.push_back(gradient ? gradient : zeroTensor(b, loc, param.getType(), {}));
  }
  return success();
}

LogicalResult BackwardBuilder::buildAdjointStep(RecurrenceOp adjoint, std::string &why) {
  Location loc = recurrence.getLoc();
  unsigned nState = recurrence.getNumStates();
  Block &forwardStep = recurrence.getBody();
  Block &step = adjoint.getBody();
  ValueRange stateCotangents = step.getArguments().take_front(nState);
  ValueRange statesBefore = step.getArguments().slice(nState, nState);
  ValueRange inputs = step.getArguments().slice(2 * nState, nInputArgs);
  ValueRange outputCotangents =
      step.getArguments().slice(2 * nState + nInputArgs, model.getNumOutputs());
  ValueRange savedValues = step.getArguments().take_back(savedProjections.size());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&step);

  IRMapping local = mapping;
  local.map(forwardStep.getArguments().take_front(nState), statesBefore);
  local.map(forwardStep.getArguments().drop_front(nState), inputs);
  SmallVector<Operation *> varyingOps;
  for (Operation *op : split.varyingOps)
    varyingOps.push_back(b.clone(*op, local));
  DenseSet<Value> inStep;
  for (Value arg : step.getArguments().slice(nState, nState + nInputArgs))
    inStep.insert(arg);
  for (Operation *op : varyingOps)
    for (Value result : op->getResults())
      inStep.insert(result);

  auto addOutput = [&](Value value) {
    stepOutputs.push_back(value);
    return unsigned(stepOutputs.size() - 1);
  };
  // Projections by param work: yield both factors of the param's share,
  // or the cotangent of a projected step input, and contract them later
  // for all steps at once.
  auto defer = [&](linalg::LinalgOp op, unsigned i, Value dy) {
    Value target = op.getDpsInputs()[i], other = op.getDpsInputs()[1 - i];
    if (!hasContractionInputCotangent(op, i))
      return false;
    if (!inStep.contains(target) && inStep.contains(other)) {
      unsigned cotangentOutput = addOutput(dy);
      projections.push_back({target, op, i, cotangentOutput, addOutput(other)});
      return true;
    }
    auto input = llvm::find(inputs, target);
    if (input != inputs.end() && !inStep.contains(other) &&
        other.getParentRegion() != &adjoint.getStep()) {
      inputProjections.push_back({unsigned(input - inputs.begin()), op, i, addOutput(dy)});
      return true;
    }
    return false;
  };
  AdjointBuilder adjointOfStep(
      b, [&](Value v) { return inStep.contains(v) || receiving.contains(v); }, defer);
  auto yield = cast<YieldOp>(forwardStep.getTerminator());
  for (unsigned i = 0; i < nState; ++i)
    adjointOfStep.seed(local.lookupOrDefault(yield.getOperand(i)), stateCotangents[i]);
  for (auto [i, dy] : llvm::enumerate(outputCotangents))
    adjointOfStep.seed(local.lookupOrDefault(yield.getOperand(nState + i)), dy);
  if (failed(adjointOfStep.run(varyingOps, why)))
    return failure();
  // The saved projections replace their recomputation; the rules above
  // read only their operands, so the recomputed ones are left dead.
  for (auto [projection, saved] : llvm::zip(savedProjections, savedValues))
    local.lookup(projection->getResult(0)).replaceAllUsesWith(saved);

  SmallVector<Value> yielded;
  for (Value state : statesBefore) {
    Value cotangent = adjointOfStep.cotangent(state);
    if (!cotangent)
      cotangent = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(cast<RankedTensorType>(state.getType()),
                                         b.getF32FloatAttr(0.0)));
    yielded.push_back(cotangent);
  }
  Block &modelBody = model.getBody().front();
  for (auto [i, input] : llvm::enumerate(recurrence.getInputs()))
    if (Value cotangent = adjointOfStep.cotangent(inputs[i]))
      if (auto arg = dyn_cast<BlockArgument>(input); arg && arg.getOwner() == &modelBody)
        inputCotangentOutputs.push_back(
            {arg.getArgNumber() - ModelOp::kNumSizeArgs, addOutput(cotangent)});
  // Shares of values outside the step (params, work on params).
  for (Value outsideValue : receivingInOrder)
    if (Value cotangent = adjointOfStep.cotangent(outsideValue))
      directOutputs.push_back({outsideValue, addOutput(cotangent)});
  llvm::append_range(yielded, stepOutputs);
  YieldOp::create(b, loc, yielded);
  return success();
}

struct RecDeriveBackwardPass : impl::RecDeriveBackwardBase<RecDeriveBackwardPass> {
  void runOnOperation() override {
    SmallVector<ModelOp> models;
    for (auto model : getOperation().getOps<ModelOp>())
      if (model.getModelKind() == ModelKind::Forward && !model->hasAttr("rec.no_backward"))
        models.push_back(model);
    for (ModelOp model : models) {
      std::string why;
      RecurrenceOp recurrence = soleRecurrence(model, why);
      OpBuilder b(model->getContext());
      b.setInsertionPointAfter(model);
      if (recurrence) {
        if (savesEveryInterval(recurrence))
          model.setTapeInterval(kTapeInterval);
        SmallVector<Operation *> projections = projectionsToSave(recurrence);
        if (!projections.empty())
          model.setSavedProjections(projections.size());
        BackwardBuilder builder(b, model, recurrence, projections);
        if (succeeded(builder.build(why))) {
          b.setInsertionPointAfter(model);
          buildTapeModel(b, model, recurrence, projections);
          continue;
        }
        // A half-built backward model is removed.
        if (auto built = SymbolTable::lookupSymbolIn(
                getOperation(), (model.getSymName() + "_backward").str()))
          built->erase();
      }
      model.removeTapeIntervalAttr();
      model.removeSavedProjectionsAttr();
      model->setAttr("rec.no_backward", b.getStringAttr(why));
    }
  }
};

} // namespace
} // namespace mlir::rec
