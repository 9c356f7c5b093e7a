//===- RecToScan.cpp - Elementwise-affine recurrences as parallel scans ---===//
//
// h = a * h + b, with a and b free of every state, is an associative scan over
// the pairs (a, b). The recurrence splits into three parts, two of them
// time-parallel: the pairs for every step, the scans, and the outputs computed
// from the updated states.
//
//===----------------------------------------------------------------------===//
#include "Passes.h"
#include "StepOutlining.h"

#include "seqc/Analysis/RecurrenceAnalysis.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::rec {
#define GEN_PASS_DEF_RECTOSCAN
#include "Passes.h.inc"

namespace {

struct RecToScanPass : impl::RecToScanBase<RecToScanPass> {
  using RecToScanBase::RecToScanBase;
  void runOnOperation() override {
    SmallVector<RecurrenceOp> recurrences;
    // Adjoints (reverse recurrences) too: a reverse rec.scan reads time
    // backwards, where scanning copies reversed in time cost more than the
    // loop (design.md).
    getOperation().walk([&](RecurrenceOp op) { recurrences.push_back(op); });
    for (RecurrenceOp op : recurrences) {
      seqc::RecurrenceAnalysis analysis(op);
      if (analysis.isScannable() && !(streamingWhenExpanding && expands(analysis, op)))
        rewrite(op, analysis);
    }
  }

  static bool expands(const seqc::RecurrenceAnalysis &analysis, RecurrenceOp op) {
    for (unsigned i = 0; i < op.getNumStates(); ++i)
      if (analysis.scanCoefficientsExpand(i))
        return true;
    return false;
  }

  void rewrite(RecurrenceOp recurrence, const seqc::RecurrenceAnalysis &analysis) {
    Block &body = recurrence.getBody();
    unsigned nState = recurrence.getNumStates();
    auto yield = cast<YieldOp>(body.getTerminator());
    Location loc = recurrence.getLoc();

    // The coefficient and offset of every state, written into the step, then
    // computed for all steps by a stateless recurrence.
    OpBuilder builder(yield);
    SmallVector<Value> pairs;
    for (unsigned i = 0; i < nState; ++i) {
      seqc::AffineParts parts = analysis.buildAffineParts(builder, i);
      pairs.push_back(parts.coefficient);
      pairs.push_back(parts.offset);
    }
    SmallVector<Value> pairSequences = outlineStateFreeValues(builder, recurrence, pairs);

    builder.setInsertionPoint(recurrence);
    Value length = recurrence.getLength();
    SmallVector<Value> stateSequences, finals;
    for (unsigned i = 0; i < nState; ++i) {
      auto scan = ScanOp::create(builder, loc, pairSequences[2 * i], pairSequences[2 * i + 1],
                                 recurrence.getInits()[i], recurrence.getReverse());
      stateSequences.push_back(scan.getStates());
      finals.push_back(scan.getFinalState());
    }

    // The outputs, from the inputs and the updated states.
    SmallVector<Value> outputs(yield.getOperands().drop_front(nState));
    SmallVector<Value> newResults(finals);
    if (!outputs.empty()) {
      SmallVector<Value> inputs(recurrence.getInputs());
      inputs.append(stateSequences);
      // Outputs that read a state before its update read it shifted by a
      // step (an adjoint's outputs all do).
      bool readsOld = analysis.outputsReadOldState();
      if (readsOld)
        for (unsigned i = 0; i < nState; ++i)
          inputs.push_back(statesBeforeSteps(builder, loc, recurrence.getBatch(), length,
                                             recurrence.getInits()[i], stateSequences[i],
                                             recurrence.getReverse()));
      SmallVector<Type> types;
      for (Value output : outputs)
        types.push_back(sequenceType(output.getType()));
      auto post = RecurrenceOp::create(builder, loc, types, recurrence.getBatch(),
                                       recurrence.getLength(), ValueRange{}, inputs);
      Block &postBody = post.getBody();
      unsigned nInput = recurrence.getInputs().size();
      IRMapping mapping;
      for (unsigned i = 0; i < nInput; ++i)
        mapping.map(body.getArgument(nState + i), postBody.getArgument(i));
      llvm::DenseMap<Value, Value> updatedState;
      for (unsigned i = 0; i < nState; ++i) {
        updatedState[yield.getOperand(i)] = postBody.getArgument(nInput + i);
        // Without outputs reading it, only the update reads the old state,
        // and it is dead here: mapping it to the new one keeps the clones
        // valid until the dead-code elimination below.
        mapping.map(body.getArgument(i),
                    postBody.getArgument(nInput + (readsOld ? nState : 0) + i));
      }
      OpBuilder postBuilder = OpBuilder::atBlockBegin(&postBody);
      for (Operation &op : body.without_terminator()) {
        postBuilder.clone(op, mapping);
        for (Value result : op.getResults())
          if (Value state = updatedState.lookup(result))
            mapping.map(result, state);
      }
      SmallVector<Value> yielded;
      for (Value output : outputs) {
        Value state = updatedState.lookup(output);
        yielded.push_back(state ? state : mapping.lookupOrDefault(output));
      }
      YieldOp::create(postBuilder, loc, yielded);
      IRRewriter rewriter(postBuilder);
      (void)runRegionDCE(rewriter, post->getRegions());
      newResults.append(post.getResults().begin(), post.getResults().end());
    }
    recurrence.replaceAllUsesWith(newResults);
    recurrence.erase();
  }
};

} // namespace
} // namespace mlir::rec
