//===- RecToNewton.cpp - Nonlinear recurrences in the Newton form ---------===//
//
// A recurrence h[t] = f(h[t-1], x[t]) becomes rec.newton: the same step, now
// also yielding df/dh, which the compiler derives from the step's ops
// (StepDifferentiation.h) in the structure seqc/Analysis/StepJacobian.h
// finds there. How the
// iteration runs is rec-expand-newton's business; this pass only decides
// which recurrences take the form and writes the derivative.
//
//===----------------------------------------------------------------------===//
#include "Passes.h"
#include "StepDifferentiation.h"

#include "seqc/Analysis/RecurrenceAnalysis.h"
#include "seqc/Analysis/StepJacobian.h"

namespace mlir::rec {
#define GEN_PASS_DEF_RECTONEWTON
#include "Passes.h.inc"

namespace {

struct RecToNewtonPass : impl::RecToNewtonBase<RecToNewtonPass> {
  using RecToNewtonBase::RecToNewtonBase;

  void runOnOperation() override {
    std::optional<NewtonGuess> firstGuess = symbolizeNewtonGuess(guess);
    if (!firstGuess) {
      getOperation().emitError() << "rec-to-newton: unknown guess '" << guess
                                 << "' (expected 'step' or 'zero')";
      return signalPassFailure();
    }
    SmallVector<RecurrenceOp> recurrences;
    getOperation().walk([&](RecurrenceOp op) {
      if (!op.getReverse())
        recurrences.push_back(op);
    });
    for (RecurrenceOp op : recurrences) {
      if (op.getNumStates() == 0)
        continue;
      if (op.getBody().walk([](AttentionOp) { return WalkResult::interrupt(); }).wasInterrupted())
        continue;
      if (skipScannable && seqc::RecurrenceAnalysis(op).isScannable())
        continue;
      seqc::JacobianInfo info = seqc::analyseStepJacobian(op.getBody(), op.getNumStates());
      if (!info.differentiable)
        continue;
      if (info.structure == JacobianStructure::Dense &&
          (structuredOnly || info.numElements > maxDense))
        continue;
      if (failed(rewrite(op, info, *firstGuess)))
        return signalPassFailure();
    }
  }

  LogicalResult rewrite(RecurrenceOp op, const seqc::JacobianInfo &info, NewtonGuess firstGuess) {
    OpBuilder builder(op);
    auto newton = NewtonOp::create(builder, op.getLoc(), op.getResultTypes(), op.getBatch(),
                                   op.getLength(), op.getInits(), op.getInputs(),
                                   quasi ? JacobianStructure::Diagonal : info.structure,
                                   maxIters, tol);
    if (quasi)
      newton.setQuasi(true);
    newton.setGuess(firstGuess);
    newton.setMinLength(std::max<int64_t>(1, minLength));
    newton.setMinThreadsPerRow(std::max<int64_t>(0, minThreadsPerRow));
    newton.getStep().takeBody(op.getStep());
    Block &body = newton.getBody();
    std::string error;
    FailureOr<SmallVector<Value>> parts =
        buildStepJacobian(body, newton.getNumStates(), info.structure, quasi, error);
    if (failed(parts))
      return op.emitError() << "cannot differentiate the step: " << error;
    auto yield = cast<YieldOp>(body.getTerminator());
    SmallVector<Value> yielded(yield.getOperands());
    yielded.append(parts->begin(), parts->end());
    OpBuilder atYield(yield);
    YieldOp::create(atYield, yield.getLoc(), yielded);
    yield.erase();
    op.replaceAllUsesWith(newton.getResults());
    op.erase();
    return success();
  }
};

} // namespace
} // namespace mlir::rec
