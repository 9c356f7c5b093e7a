//===- RecOutlineStateless.cpp - A step's state-free part, outlined ------===//
//
// rec-outline-stateless: a value of the step that depends on the step's
// inputs but on no state is the same whether it is computed inside the
// sequential loop or before it, for every (b, t) at once. Computing it before turns per-step work (projections,
// gates) into time-parallel work and leaves the recurrence only what must be
// sequential.
//
//===----------------------------------------------------------------------===//
#include "Passes.h"
#include "StepOutlining.h"

#include "seqc/Analysis/RecurrenceAnalysis.h"

#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::rec {
#define GEN_PASS_DEF_RECOUTLINESTATELESS
#include "Passes.h.inc"

namespace {

/// True when `value` varies with the step: it reaches a step input.
bool dependsOnStepInput(Value value, Block &body, unsigned nState,
                        llvm::DenseMap<Value, bool> &memo) {
  auto it = memo.find(value);
  if (it != memo.end())
    return it->second;
  bool result = false;
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    result = arg.getOwner() == &body && arg.getArgNumber() >= nState;
  } else if (Operation *top = body.findAncestorOpInBlock(*value.getDefiningOp())) {
    memo[value] = false; // a cycle through a region cannot make it vary
    top->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands()) {
        // Values defined inside `top` (its regions' own) say nothing new.
        Operation *def = operand.getDefiningOp();
        Region *region = def ? def->getParentRegion() : operand.getParentRegion();
        if (top->isProperAncestor(region->getParentOp()) || region->getParentOp() == top)
          continue;
        if (dependsOnStepInput(operand, body, nState, memo))
          result = true;
      }
    });
  }
  memo[value] = result;
  return result;
}

struct RecOutlineStatelessPass : impl::RecOutlineStatelessBase<RecOutlineStatelessPass> {
  void runOnOperation() override {
    SmallVector<RecurrenceOp> recurrences;
    getOperation().walk([&](RecurrenceOp op) {
      // An adjoint (a reverse recurrence) too: its recomputed forward step
      // reads the states before each step as inputs, so it is all outlined.
      if (op.getNumStates() > 0 || seqc::RecurrenceAnalysis(op).hasImplicitState())
        recurrences.push_back(op);
    });
    for (RecurrenceOp op : recurrences)
      hoist(op);
  }

  void hoist(RecurrenceOp recurrence) {
    seqc::RecurrenceAnalysis analysis(recurrence);
    Block &body = recurrence.getBody();
    unsigned nState = recurrence.getNumStates();
    llvm::DenseMap<Value, bool> variesMemo;

    // The frontier: state-free op results that vary with the step and that a
    // state-dependent op (or the yield) uses.
    llvm::SetVector<Value> frontier;
    for (Operation &op : body) {
      if (analysis.isStateIndependent(&op) && !isa<YieldOp>(op))
        continue;
      op.walk([&](Operation *nested) {
        for (Value operand : nested->getOperands()) {
          Operation *def = operand.getDefiningOp();
          if (!def || def->getBlock() != &body || !analysis.isStateIndependent(def))
            continue;
          if (dependsOnStepInput(operand, body, nState, variesMemo))
            frontier.insert(operand);
        }
      });
    }
    // An expansion (a broadcast of step data, or computed from one) is
    // recomputed in the step from what it expands: stored for all steps it
    // would cost more memory traffic than its arithmetic. So is a value that
    // is not f32 (a comparison's i1 in an adjoint's max): sequences are f32.
    auto isF32 = [](Value value) {
      return cast<RankedTensorType>(value.getType()).getElementType().isF32();
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (Value value : llvm::to_vector(frontier)) {
        if (!analysis.isExpansion(value) && isF32(value))
          continue;
        frontier.remove(value);
        for (Value operand : value.getDefiningOp()->getOperands()) {
          Operation *def = operand.getDefiningOp();
          if (def && def->getBlock() == &body && analysis.isStateIndependent(def) &&
              dependsOnStepInput(operand, body, nState, variesMemo))
            frontier.insert(operand);
        }
        changed = true;
      }
    }
    if (frontier.empty())
      return;

    OpBuilder builder(recurrence);
    SmallVector<Value> sequences =
        outlineStateFreeValues(builder, recurrence, frontier.getArrayRef());

    // The recurrence reads them as new inputs, after its own.
    SmallVector<Value> inputs(recurrence.getInputs());
    inputs.append(sequences);
    recurrence.getInputsMutable().assign(inputs);
    for (Value value : frontier) {
      BlockArgument arg = body.addArgument(value.getType(), value.getLoc());
      value.replaceUsesWithIf(arg, [&](OpOperand &use) {
        return body.findAncestorOpInBlock(*use.getOwner()) != nullptr;
      });
    }
    // What only the hoisted values needed is dead now.
    IRRewriter rewriter(builder);
    (void)runRegionDCE(rewriter, recurrence->getRegions());
  }
};

} // namespace
} // namespace mlir::rec
