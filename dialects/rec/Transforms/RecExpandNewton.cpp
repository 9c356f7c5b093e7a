//===- RecExpandNewton.cpp - The Newton iteration, on tensors -------------===//
//
// rec.newton becomes the iteration of DEER / ParaRNN written with ops the
// targets already lower: stateless rec.recurrence for the evaluations of
// the step at all steps at once, rec.scan (or a short sequential recurrence
// over small matrices) for the linear solves, scf.while for the loop, and
// the original step as a sequential rec.recurrence for the fallback. Only two
// runtime calls (seqc_num_threads, seqc_newton_report) and the host-side
// loop tie it to a target: the CPU runtime provides both, the GPU target
// cannot take it yet (its residual would have to come back from the device).
//
// With H the guess of the state sequence and H_prev = (h0, H[0..T-2]):
//   F = f(H_prev, x), J = df/dh(H_prev, x)          (every step in parallel)
//   residual = max |H - F| / (1 + |F|)
//   H' solves h[t] = J[t] h[t-1] + (F[t] - J[t] H_prev[t]), h[-1] = h0
// The iteration stops when the residual is at most the tolerance; the
// result is then F (and the outputs of that evaluation), which is the step
// applied to the converged sequence.
//
//===----------------------------------------------------------------------===//
#include "Passes.h"
#include "StepDifferentiation.h"
#include "StepOutlining.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::rec {
#define GEN_PASS_DEF_RECEXPANDNEWTON
#include "Passes.h.inc"

namespace {

RankedTensorType withShape(RankedTensorType type, ArrayRef<int64_t> leading) {
  SmallVector<int64_t> shape(leading);
  shape.append(type.getShape().begin(), type.getShape().end());
  return RankedTensorType::get(shape, type.getElementType());
}

class NewtonExpander {
public:
  NewtonExpander(OpBuilder &b, NewtonOp op)
      : b(b), op(op), loc(op.getLoc()), nState(op.getNumStates()),
        nOutput(op.getNumOutputs()), batch(op.getBatch()), length(op.getLength()) {
    for (unsigned i = 0; i < nState; ++i)
      stateTypes.push_back(cast<RankedTensorType>(op.getBody().getArgument(i).getType()));
  }

  void expand() {
    Value minLength = arith::ConstantIndexOp::create(b, loc, op.getMinLength());
    // Newton is tried on sequences long enough, given threads enough.
    Value worthTrying =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, length, minLength);
    if (int64_t perRow = op.getMinThreadsPerRow()) {
      Value wanted = arith::MulIOp::create(
          b, loc, batch, arith::ConstantIndexOp::create(b, loc, perRow));
      Value threads = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                 ThreadCountOp::create(b, loc, b.getI64Type()));
      worthTrying = arith::AndIOp::create(
          b, loc, worthTrying,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, threads, wanted));
    }
    SmallVector<Type> attemptTypes(op.getResultTypes());
    attemptTypes.push_back(b.getI1Type());
    auto attempt = scf::IfOp::create(b, loc, attemptTypes, worthTrying, true, true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(attempt.thenBlock());
      scf::YieldOp::create(b, loc, iterate());
      // Sequences too short to pay: placeholders, never read.
      b.setInsertionPointToStart(attempt.elseBlock());
      SmallVector<Value> placeholders;
      for (Type type : op.getResultTypes())
        placeholders.push_back(empty(cast<RankedTensorType>(type)));
      placeholders.push_back(arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0));
      scf::YieldOp::create(b, loc, placeholders);
    }
    Value solved = attempt.getResults().back();
    auto choose = scf::IfOp::create(b, loc, op.getResultTypes(), solved, true, true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(choose.thenBlock());
      scf::YieldOp::create(b, loc, attempt.getResults().drop_back());
      b.setInsertionPointToStart(choose.elseBlock());
      scf::YieldOp::create(b, loc, sequential());
    }
    op.replaceAllUsesWith(choose.getResults());
    op.erase();
  }

private:
  /// tensor.empty of `type`, its dynamic axes (batch, then time) sized B, T.
  Value empty(RankedTensorType type) {
    SmallVector<Value> sizes;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        sizes.push_back(d == 0 ? batch : length);
    return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(), sizes);
  }

  RankedTensorType sequenceOf(unsigned state) {
    return withShape(stateTypes[state], {ShapedType::kDynamic, ShapedType::kDynamic});
  }

  /// Offsets, sizes and unit strides of a [B, T, state...] slice at time
  /// `start` with `count` steps.
  void timeSlice(unsigned state, OpFoldResult start, OpFoldResult count,
                 SmallVector<OpFoldResult> &offsets, SmallVector<OpFoldResult> &sizes,
                 SmallVector<OpFoldResult> &strides) {
    offsets = {b.getIndexAttr(0), start};
    sizes = {batch, count};
    for (int64_t extent : stateTypes[state].getShape()) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(extent));
    }
    strides.assign(offsets.size(), b.getIndexAttr(1));
  }

  /// (h0, H[0..T-2]): the previous state of every step. T >= 1.
  Value shifted(unsigned state, Value sequence) {
    SmallVector<OpFoldResult> offsets, sizes, strides;
    Value result = empty(sequenceOf(state));
    timeSlice(state, b.getIndexAttr(0), b.getIndexAttr(1), offsets, sizes, strides);
    result = tensor::InsertSliceOp::create(b, loc, op.getInits()[state], result, offsets, sizes,
                                           strides);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value lengthLess1 = arith::SubIOp::create(b, loc, length, one);
    timeSlice(state, b.getIndexAttr(0), lengthLess1, offsets, sizes, strides);
    Value prefix = tensor::ExtractSliceOp::create(b, loc, sequence, offsets, sizes, strides);
    timeSlice(state, b.getIndexAttr(1), lengthLess1, offsets, sizes, strides);
    return tensor::InsertSliceOp::create(b, loc, prefix, result, offsets, sizes, strides);
  }

  /// H[:, T-1]. T >= 1.
  Value lastStep(unsigned state, Value sequence) {
    SmallVector<OpFoldResult> offsets, sizes, strides;
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value last = arith::SubIOp::create(b, loc, length, one);
    timeSlice(state, last, b.getIndexAttr(1), offsets, sizes, strides);
    auto type = cast<RankedTensorType>(op.getInits()[state].getType());
    return tensor::ExtractSliceOp::create(b, loc, type, sequence, offsets, sizes, strides);
  }

  /// h0 at every step.
  Value broadcastOverTime(unsigned state) {
    Value init = op.getInits()[state];
    SmallVector<int64_t> dims = {1};
    return linalg::BroadcastOp::create(b, loc, init, empty(sequenceOf(state)), dims)
        .getResult()[0];
  }

  /// Clones the Newton step's ops into `body` (whose arguments stand for the
  /// step's), at `inner`; returns the clones of every yielded value.
  SmallVector<Value> cloneStep(OpBuilder &inner, Block &body) {
    Block &step = op.getBody();
    IRMapping mapping;
    for (unsigned i = 0; i < step.getNumArguments(); ++i)
      mapping.map(step.getArgument(i), body.getArgument(i));
    for (Operation &nested : step.without_terminator())
      inner.clone(nested, mapping);
    SmallVector<Value> yielded;
    for (Value value : step.getTerminator()->getOperands())
      yielded.push_back(mapping.lookupOrDefault(value));
    return yielded;
  }

  /// What one evaluation of the step at all steps gives.
  struct Evaluation {
    SmallVector<Value> newStates, outputs, coefficients;
  };

  /// Evaluates the step at `previous` (one [B, T, ...] sequence per state)
  /// for all steps at once; with `linearise`, also the coefficients of the
  /// linearised recurrence: per structure, diagonal (a_i, b_i), block
  /// (a_ij row-major, then b_i), dense (J, c) with flattened states.
  Evaluation evaluate(ArrayRef<Value> previous, bool linearise) {
    SmallVector<Value> inputs(previous);
    inputs.append(op.getInputs().begin(), op.getInputs().end());
    auto recurrence = RecurrenceOp::create(b, loc, TypeRange{}, batch, length, ValueRange{},
                                           inputs);
    Block &body = recurrence.getBody();
    OpBuilder inner = OpBuilder::atBlockBegin(&body);
    SmallVector<Value> yielded = cloneStep(inner, body);
    ArrayRef<Value> newStates = ArrayRef<Value>(yielded).take_front(nState);
    ArrayRef<Value> parts = ArrayRef<Value>(yielded).drop_front(nState + nOutput);
    SmallVector<Value> results(yielded.begin(), yielded.begin() + nState + nOutput);
    if (linearise) {
      SmallVector<Value> old(body.getArguments().take_front(nState));
      SmallVector<Value> coefficients = linearisation(inner, newStates, old, parts);
      results.append(coefficients);
    }
    YieldOp::create(inner, loc, results);

    // The recurrence was built without results: now that the step is known,
    // rebuild it with one output sequence per yielded value.
    SmallVector<Type> types;
    for (Value value : results)
      types.push_back(sequenceType(value.getType()));
    auto typed = RecurrenceOp::create(b, loc, types, batch, length, ValueRange{}, inputs);
    typed.getStep().takeBody(recurrence.getStep());
    recurrence.erase();

    Evaluation evaluation;
    ResultRange all = typed.getResults();
    evaluation.newStates.assign(all.begin(), all.begin() + nState);
    evaluation.outputs.assign(all.begin() + nState, all.begin() + nState + nOutput);
    evaluation.coefficients.assign(all.begin() + nState + nOutput, all.end());
    return evaluation;
  }

  /// The coefficient and offset of h = J h_old + (f - J h_old), in the step.
  SmallVector<Value> linearisation(OpBuilder &inner, ArrayRef<Value> newStates,
                                   ArrayRef<Value> old, ArrayRef<Value> parts) {
    SmallVector<Value> coefficients;
    switch (op.getJacobian()) {
    case JacobianStructure::Diagonal:
      for (unsigned i = 0; i < nState; ++i) {
        Value predicted = arith::MulFOp::create(inner, loc, parts[i], old[i]);
        coefficients.push_back(parts[i]);
        coefficients.push_back(arith::SubFOp::create(inner, loc, newStates[i], predicted));
      }
      return coefficients;
    case JacobianStructure::BlockDiagonal: {
      coefficients.assign(parts.begin(), parts.end());
      for (unsigned i = 0; i < nState; ++i) {
        Value offset = newStates[i];
        for (unsigned j = 0; j < nState; ++j)
          offset = arith::SubFOp::create(
              inner, loc, offset, arith::MulFOp::create(inner, loc, parts[i * nState + j], old[j]));
        coefficients.push_back(offset);
      }
      return coefficients;
    }
    case JacobianStructure::Dense: {
      Value jacobian = parts[0];
      Value oldFlat = flattenStates(inner, loc, old);
      Value newFlat = flattenStates(inner, loc, newStates);
      auto vectorType = cast<RankedTensorType>(oldFlat.getType());
      Value zero = arith::ConstantOp::create(
          inner, loc, DenseElementsAttr::get(vectorType, inner.getF32FloatAttr(0.0f)));
      Value predicted =
          linalg::MatvecOp::create(inner, loc, ValueRange{jacobian, oldFlat}, ValueRange{zero})
              .getResult(0);
      coefficients.push_back(jacobian);
      coefficients.push_back(arith::SubFOp::create(inner, loc, newFlat, predicted));
      return coefficients;
    }
    }
    return coefficients;
  }

  /// Reassociation between [lead..., shape...] and [lead..., N]: the state's
  /// axes collapse into one; a scalar state's unit axis joins the last
  /// leading axis.
  static SmallVector<ReassociationIndices> trailingReassociation(unsigned lead,
                                                                 int64_t stateRank) {
    SmallVector<ReassociationIndices> groups;
    for (unsigned d = 0; d < lead; ++d)
      groups.push_back({static_cast<int64_t>(d)});
    if (stateRank == 0) {
      groups.back().push_back(lead);
      return groups;
    }
    ReassociationIndices trailing;
    for (int64_t d = 0; d < stateRank; ++d)
      trailing.push_back(lead + d);
    groups.push_back(trailing);
    return groups;
  }

  /// The solution of the linearised recurrence, one sequence per state.
  SmallVector<Value> solve(ArrayRef<Value> coefficients) {
    SmallVector<Value> states;
    switch (op.getJacobian()) {
    case JacobianStructure::Diagonal:
      for (unsigned i = 0; i < nState; ++i)
        states.push_back(ScanOp::create(b, loc, coefficients[2 * i], coefficients[2 * i + 1],
                                        op.getInits()[i])
                             .getStates());
      return states;
    case JacobianStructure::BlockDiagonal:
      return solveBlocks(coefficients);
    case JacobianStructure::Dense:
      return solveDense(coefficients[0], coefficients[1]);
    }
    return states;
  }

  /// h_i = sum_j a_ij h_j + b_i, elementwise over the states' elements:
  /// a sequential recurrence over k x k blocks, parallel over rows and
  /// vectorised over elements.
  SmallVector<Value> solveBlocks(ArrayRef<Value> coefficients) {
    SmallVector<Type> types(op.getInits().getTypes());
    for (unsigned i = 0; i < nState; ++i)
      types.push_back(sequenceOf(i));
    auto recurrence = RecurrenceOp::create(b, loc, types, batch, length, op.getInits(),
                                           coefficients);
    Block &body = recurrence.getBody();
    OpBuilder inner = OpBuilder::atBlockBegin(&body);
    ValueRange old = body.getArguments().take_front(nState);
    ValueRange blocks = body.getArguments().slice(nState, nState * nState);
    ValueRange offsets = body.getArguments().take_back(nState);
    SmallVector<Value> next;
    for (unsigned i = 0; i < nState; ++i) {
      Value sum = offsets[i];
      for (unsigned j = 0; j < nState; ++j)
        sum = arith::AddFOp::create(inner, loc, sum,
                                    arith::MulFOp::create(inner, loc, blocks[i * nState + j],
                                                          old[j]));
      next.push_back(sum);
    }
    SmallVector<Value> yielded(next);
    yielded.append(next);
    YieldOp::create(inner, loc, yielded);
    return SmallVector<Value>(recurrence.getResults().drop_front(nState));
  }

  /// h = J h + c on the flattened states: a sequential recurrence of
  /// matrix-vector products, parallel over rows; then the states cut out.
  SmallVector<Value> solveDense(Value jacobians, Value offsets) {
    // The initial states, flattened and concatenated: [B, N].
    SmallVector<Value> flatInits;
    int64_t n = 0;
    for (unsigned i = 0; i < nState; ++i) {
      auto type = cast<RankedTensorType>(op.getInits()[i].getType());
      int64_t size = stateTypes[i].getNumElements();
      n += size;
      auto flat = RankedTensorType::get({ShapedType::kDynamic, size}, type.getElementType());
      Value init = op.getInits()[i];
      if (stateTypes[i].getRank() == 0)
        flatInits.push_back(tensor::ExpandShapeOp::create(
            b, loc, flat, init, trailingReassociation(1, 0), ArrayRef<OpFoldResult>{batch, b.getIndexAttr(1)}));
      else if (stateTypes[i].getRank() == 1)
        flatInits.push_back(init);
      else
        flatInits.push_back(tensor::CollapseShapeOp::create(
            b, loc, flat, init, trailingReassociation(1, stateTypes[i].getRank())));
    }
    Value init = flatInits.size() == 1 ? flatInits[0]
                                       : Value(tensor::ConcatOp::create(b, loc, 1, flatInits));
    auto flatSequence = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic, n},
                                              b.getF32Type());
    auto recurrence = RecurrenceOp::create(b, loc, TypeRange{init.getType(), flatSequence},
                                           batch, length, ValueRange{init},
                                           ValueRange{jacobians, offsets});
    Block &body = recurrence.getBody();
    OpBuilder inner = OpBuilder::atBlockBegin(&body);
    Value product = linalg::MatvecOp::create(inner, loc, TypeRange{body.getArgument(2).getType()},
                                             ValueRange{body.getArgument(1), body.getArgument(0)},
                                             ValueRange{body.getArgument(2)})
                        .getResult(0);
    YieldOp::create(inner, loc, ValueRange{product, product});
    Value all = recurrence.getResult(1);

    SmallVector<Value> states;
    int64_t offset = 0;
    for (unsigned i = 0; i < nState; ++i) {
      int64_t size = stateTypes[i].getNumElements();
      auto part = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic, size},
                                        b.getF32Type());
      Value slice = tensor::ExtractSliceOp::create(
          b, loc, part, all,
          ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0), b.getIndexAttr(offset)},
          ArrayRef<OpFoldResult>{batch, length, b.getIndexAttr(size)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1), b.getIndexAttr(1)});
      offset += size;
      int64_t rank = stateTypes[i].getRank();
      if (rank == 1) {
        states.push_back(slice);
      } else if (rank == 0) {
        states.push_back(tensor::CollapseShapeOp::create(b, loc, sequenceOf(i), slice,
                                                         trailingReassociation(2, 0)));
      } else {
        SmallVector<OpFoldResult> shape = {batch, length};
        for (int64_t extent : stateTypes[i].getShape())
          shape.push_back(b.getIndexAttr(extent));
        states.push_back(tensor::ExpandShapeOp::create(b, loc, sequenceOf(i), slice,
                                                       trailingReassociation(2, rank), shape));
      }
    }
    return states;
  }

  /// max over the states and their elements of |H - F| / (1 + |F|), as an
  /// f32; NaN when any element is NaN.
  Value residual(ArrayRef<Value> guesses, ArrayRef<Value> evaluated) {
    Value worst;
    for (unsigned i = 0; i < nState; ++i) {
      auto type = cast<RankedTensorType>(guesses[i].getType());
      auto scalar = RankedTensorType::get({}, b.getF32Type());
      Value init = linalg::FillOp::create(
                       b, loc, ValueRange{arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0))},
                       ValueRange{tensor::EmptyOp::create(b, loc, scalar.getShape(),
                                                          scalar.getElementType())})
                       .getResult(0);
      MLIRContext *ctx = b.getContext();
      AffineMap identity = AffineMap::getMultiDimIdentityMap(type.getRank(), ctx);
      AffineMap toScalar = AffineMap::get(type.getRank(), 0, ctx);
      SmallVector<utils::IteratorType> iterators(type.getRank(),
                                                 utils::IteratorType::reduction);
      auto reduction = linalg::GenericOp::create(
          b, loc, TypeRange{scalar}, ValueRange{guesses[i], evaluated[i]}, ValueRange{init},
          ArrayRef<AffineMap>{identity, identity, toScalar}, iterators,
          [&](OpBuilder &nested, Location loc, ValueRange args) {
            Value difference = math::AbsFOp::create(
                nested, loc, arith::SubFOp::create(nested, loc, args[0], args[1]));
            Value one = arith::ConstantOp::create(nested, loc, nested.getF32FloatAttr(1));
            Value scale = arith::AddFOp::create(nested, loc, one,
                                                math::AbsFOp::create(nested, loc, args[1]));
            Value relative = arith::DivFOp::create(nested, loc, difference, scale);
            // maximumf propagates NaN, so a diverged iteration is noticed.
            linalg::YieldOp::create(nested, loc,
                                    Value(arith::MaximumFOp::create(nested, loc, args[2],
                                                                    relative)));
          });
      Value value = tensor::ExtractOp::create(b, loc, reduction.getResult(0), ValueRange{});
      worst = worst ? Value(arith::MaximumFOp::create(b, loc, worst, value)) : value;
    }
    return worst;
  }

  /// Evaluates the step at the guesses' shifted sequences: the new states,
  /// the outputs, the coefficients of the linearised recurrence, then the
  /// residual of the guesses.
  SmallVector<Value> assess(ArrayRef<Value> guesses) {
    SmallVector<Value> previous;
    for (unsigned i = 0; i < nState; ++i)
      previous.push_back(shifted(i, guesses[i]));
    Evaluation evaluation = evaluate(previous, /*linearise=*/true);
    SmallVector<Value> values(evaluation.newStates);
    values.append(evaluation.outputs);
    values.append(evaluation.coefficients);
    values.push_back(residual(guesses, evaluation.newStates));
    return values;
  }

  /// The Newton attempt: the results (final states, outputs) and whether it
  /// converged.
  SmallVector<Value> iterate() {
    // The first guess.
    SmallVector<Value> guess;
    if (op.getGuess() == NewtonGuess::Step) {
      SmallVector<Value> previous;
      for (unsigned i = 0; i < nState; ++i)
        previous.push_back(broadcastOverTime(i));
      guess = evaluate(previous, /*linearise=*/false).newStates;
    } else {
      for (unsigned i = 0; i < nState; ++i) {
        Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
        guess.push_back(
            linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{empty(sequenceOf(i))})
                .getResult(0));
      }
    }

    Value tol = arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(op.getTol().convertToDouble())));
    Value maxIters = arith::ConstantIndexOp::create(b, loc, op.getMaxIters());

    // The loop carries what the last evaluation gave (new states, outputs,
    // coefficients), its residual and the solve count, and tests first: the
    // values it hands on are its own arguments, so bufferization need not
    // copy them, as it would values computed in the condition's region.
    SmallVector<Value> loopInits = assess(guess);
    loopInits.push_back(arith::ConstantIndexOp::create(b, loc, 0));
    unsigned numCoefficients = loopInits.size() - nState - nOutput - 2;
    SmallVector<Type> types;
    for (Value value : loopInits)
      types.push_back(value.getType());
    auto loop = scf::WhileOp::create(
        b, loc, types, loopInits,
        [&](OpBuilder &nested, Location, ValueRange args) {
          Value r = args[args.size() - 2], count = args.back();
          Value above = arith::CmpFOp::create(nested, loc, arith::CmpFPredicate::OGT, r, tol);
          Value more =
              arith::CmpIOp::create(nested, loc, arith::CmpIPredicate::slt, count, maxIters);
          Value again = arith::AndIOp::create(nested, loc, above, more);
          scf::ConditionOp::create(nested, loc, again, args);
        },
        [&](OpBuilder &nested, Location, ValueRange args) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(nested.getInsertionBlock());
          SmallVector<Value> guesses =
              solve(SmallVector<Value>(args.slice(nState + nOutput, numCoefficients)));
          SmallVector<Value> next = assess(guesses);
          Value one = arith::ConstantIndexOp::create(b, loc, 1);
          next.push_back(arith::AddIOp::create(b, loc, args.back(), one));
          scf::YieldOp::create(b, loc, next);
        });
    b.setInsertionPointAfter(loop);

    ValueRange results = loop.getResults();
    ValueRange evaluated = results.take_front(nState);
    ValueRange outputs = results.slice(nState, nOutput);
    Value r = results[results.size() - 2];
    Value iterations = results.back();
    Value converged = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, r, tol);
    NewtonReportOp::create(b, loc, iterations, converged, r);

    SmallVector<Value> attempt;
    for (unsigned i = 0; i < nState; ++i)
      attempt.push_back(lastStep(i, evaluated[i]));
    attempt.append(outputs.begin(), outputs.end());
    attempt.push_back(converged);
    return attempt;
  }

  /// The recurrence run step by step: the fallback.
  SmallVector<Value> sequential() {
    auto recurrence = RecurrenceOp::create(b, loc, op.getResultTypes(), batch, length,
                                           op.getInits(), op.getInputs());
    Block &body = recurrence.getBody();
    OpBuilder inner = OpBuilder::atBlockBegin(&body);
    SmallVector<Value> yielded = cloneStep(inner, body);
    yielded.truncate(nState + nOutput);
    YieldOp::create(inner, loc, yielded);
    IRRewriter rewriter(b);
    (void)runRegionDCE(rewriter, recurrence->getRegions());
    return SmallVector<Value>(recurrence.getResults());
  }

  OpBuilder &b;
  NewtonOp op;
  Location loc;
  unsigned nState, nOutput;
  Value batch, length;
  SmallVector<RankedTensorType> stateTypes;
};

struct RecExpandNewtonPass : impl::RecExpandNewtonBase<RecExpandNewtonPass> {
  void runOnOperation() override {
    SmallVector<NewtonOp> ops;
    getOperation().walk([&](NewtonOp op) { ops.push_back(op); });
    for (NewtonOp op : ops) {
      OpBuilder builder(op);
      NewtonExpander(builder, op).expand();
    }
  }
};

} // namespace
} // namespace mlir::rec
