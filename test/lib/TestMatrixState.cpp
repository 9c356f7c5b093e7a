//===- TestMatrixState.cpp - The matrix-state match, as remarks -----------===//
//
// test-matrix-state prints, for every state of every rec.recurrence, what
// matchMatrixState finds (the decay, the key, value and head axes) or why
// the state is not a matrix state the chunked form takes, as remarks that
// lit checks with -verify-diagnostics.
//
//===----------------------------------------------------------------------===//
#include "seqc/Analysis/MatrixStateAnalysis.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

namespace {
struct TestMatrixStatePass : PassWrapper<TestMatrixStatePass, OperationPass<>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestMatrixStatePass)
  StringRef getArgument() const final { return "test-matrix-state"; }
  StringRef getDescription() const final {
    return "Prints the matrix-state match of every state of every rec.recurrence as remarks";
  }
  void runOnOperation() override {
    getOperation()->walk([&](rec::RecurrenceOp op) {
      for (unsigned i = 0; i < op.getNumStates(); ++i) {
        seqc::MatrixStateMatch match = seqc::matchMatrixState(op, i);
        if (!match.matched) {
          op.emitRemark() << "state " << i << ": not chunked: " << match.whyNot;
          continue;
        }
        std::string heads;
        for (int64_t axis : match.headAxes)
          heads += (heads.empty() ? "" : " ") + std::to_string(axis);
        op.emitRemark() << "state " << i << ": chunked: " << match.describe() << "; key axis "
                        << match.keyAxis << ", value axis " << match.valueAxis << ", heads ["
                        << heads << "]";
      }
    });
  }
};
} // namespace

namespace seqc::test {
void registerTestMatrixStatePass() { PassRegistration<TestMatrixStatePass>(); }
} // namespace seqc::test
