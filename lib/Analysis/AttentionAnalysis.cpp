//===- AttentionAnalysis.cpp - Attention the chunked form takes ---------===//
//
// A walk up the operands of the attention's query, key and value inside the
// step: reaching a state argument, or the result of another attention that
// cannot be chunked, refuses the chunked kernel; reaching no argument of the
// step (and no attention) makes the query fixed.
//
//===----------------------------------------------------------------------===//
#include "seqc/Analysis/AttentionAnalysis.h"

#include "llvm/ADT/SmallPtrSet.h"

using namespace mlir;

namespace seqc {
namespace {

struct StepDependence {
  bool onState = false;
  bool onInput = false;
  bool onAttention = false;
};

StepDependence dependenceOf(rec::RecurrenceOp recurrence, Value root) {
  Block &body = recurrence.getBody();
  StepDependence dependence;
  llvm::SmallPtrSet<Operation *, 16> seen;
  SmallVector<Value> worklist = {root};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      if (arg.getOwner() == &body) {
        if (arg.getArgNumber() < recurrence.getNumStates())
          dependence.onState = true;
        else
          dependence.onInput = true;
      }
      continue;
    }
    Operation *top = body.findAncestorOpInBlock(*value.getDefiningOp());
    if (!top || !seen.insert(top).second)
      continue;
    if (auto attention = dyn_cast<rec::AttentionOp>(top)) {
      // The output of an attention that is chunked too is known for every
      // step before this one runs, as an input is.
      if (matchAttention(attention).matched)
        dependence.onInput = true;
      else
        dependence.onAttention = true;
      continue;
    }
    top->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        worklist.push_back(operand);
    });
  }
  return dependence;
}

} // namespace

AttentionMatch matchAttention(rec::AttentionOp op) {
  auto recurrence = cast<rec::RecurrenceOp>(op->getParentOp());
  AttentionMatch match;
  std::pair<const char *, Value> operands[] = {
      {"query", op.getQ()}, {"key", op.getK()}, {"value", op.getV()}};
  for (auto [what, value] : operands) {
    StepDependence dependence = dependenceOf(recurrence, value);
    if (dependence.onState || dependence.onAttention) {
      match.whyNot = std::string("its attention's ") + what + " depends on " +
                     (dependence.onState ? "a state"
                                         : "the output of an attention that is not chunked") +
                     ", so it is not known for every step before the chunked kernel runs";
      return match;
    }
  }
  match.matched = true;
  StepDependence query = dependenceOf(recurrence, op.getQ());
  match.fixedQuery = !query.onInput;
  return match;
}

std::string AttentionMatch::describe(rec::AttentionOp op, int64_t chunkSize) const {
  std::string text = "causal softmax attention";
  if (auto window = static_cast<int64_t>(op.getWindow()))
    text += " over a window of " + std::to_string(window) + " steps";
  if (fixedQuery && op.getWindow() == 0)
    return text + " with a fixed query: a prefix scan over (max, normaliser, weighted sum) in "
                  "chunks of " + std::to_string(chunkSize) + " steps";
  return text + (fixedQuery ? " with a fixed query" : "") +
         ": online softmax over key chunks (FlashAttention tiling), in query chunks of " +
         std::to_string(chunkSize) + " steps";
}

} // namespace seqc
