//===- TestRecurrenceAnalysis.cpp - The analysis, as remarks ---------------===//
//
// test-recurrence-analysis prints what RecurrenceAnalysis finds for every
// recurrence as remarks, so lit can check it with -verify-diagnostics.
//
//===----------------------------------------------------------------------===//
#include "seqc/Analysis/RecurrenceAnalysis.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

namespace {
struct TestRecurrenceAnalysisPass
    : PassWrapper<TestRecurrenceAnalysisPass, OperationPass<>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestRecurrenceAnalysisPass)
  StringRef getArgument() const final { return "test-recurrence-analysis"; }
  StringRef getDescription() const final {
    return "Prints the recurrence analysis of every rec.recurrence as remarks";
  }
  void runOnOperation() override {
    getOperation()->walk([&](rec::RecurrenceOp op) {
      const auto &analysis = getChildAnalysis<seqc::RecurrenceAnalysis>(op);
      for (const seqc::StateInfo &state : analysis.getStates()) {
        auto remark = op.emitRemark() << "state '" << state.name << "': "
                                      << seqc::stateKindName(state.kind);
        if (!state.reason.empty())
          remark << " (" << state.reason << ")";
      }
      if (analysis.isScannable())
        op.emitRemark() << "scannable";
      else
        op.emitRemark() << "not scannable: " << analysis.whyNotScannable();
      for (Operation &inner : op.getBody().without_terminator())
        if (!analysis.isStateIndependent(&inner))
          inner.emitRemark() << "depends on a state";
    });
  }
};
} // namespace

namespace seqc::test {
void registerTestRecurrenceAnalysisPass() {
  PassRegistration<TestRecurrenceAnalysisPass>();
}
} // namespace seqc::test
