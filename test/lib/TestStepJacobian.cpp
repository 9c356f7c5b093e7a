//===- TestStepJacobian.cpp - The Jacobian analysis, as remarks -----------===//
//
// test-step-jacobian prints, for every rec.recurrence with states, the
// structure analyseStepJacobian finds (and how each new state depends on each
// old one), or why the step cannot be differentiated, as remarks that lit
// checks with -verify-diagnostics.
//
//===----------------------------------------------------------------------===//
#include "seqc/Analysis/StepJacobian.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

namespace {
const char *dependenceName(seqc::ElementDependence dependence) {
  switch (dependence) {
  case seqc::ElementDependence::None:
    return "none";
  case seqc::ElementDependence::Elementwise:
    return "elementwise";
  case seqc::ElementDependence::Any:
    return "any";
  }
  return "?";
}

struct TestStepJacobianPass : PassWrapper<TestStepJacobianPass, OperationPass<>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestStepJacobianPass)
  StringRef getArgument() const final { return "test-step-jacobian"; }
  StringRef getDescription() const final {
    return "Prints the Jacobian structure of every rec.recurrence as remarks";
  }
  void runOnOperation() override {
    getOperation()->walk([&](rec::RecurrenceOp op) {
      if (op.getNumStates() == 0)
        return;
      seqc::JacobianInfo info = seqc::analyseStepJacobian(op.getBody(), op.getNumStates());
      if (!info.differentiable) {
        op.emitRemark() << "not differentiable: " << info.whyNot;
        return;
      }
      std::string matrix;
      for (auto [i, row] : llvm::enumerate(info.dependence)) {
        matrix += i ? "; " : "";
        for (auto [j, entry] : llvm::enumerate(row))
          matrix += std::string(j ? " " : "") + dependenceName(entry);
      }
      op.emitRemark() << "Jacobian " << info.describe() << " [" << matrix << "]";
    });
  }
};
} // namespace

namespace seqc::test {
void registerTestStepJacobianPass() { PassRegistration<TestStepJacobianPass>(); }
} // namespace seqc::test
