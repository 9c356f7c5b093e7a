//===- TestFormPlan.cpp - The form plan, as remarks -----------------------===//
//
// test-form-plan runs the compiler's form decision (planForms) on a module
// of rec.model ops, as `seqc --form F` would, and reports each state's form
// and reason as a remark on its recurrence (or attention), which lit checks
// with -verify-diagnostics; a forced form that does not apply is the error
// seqc reports. Like planForms itself, it runs the passes the decision needs
// before the analyses (step-invariant hoisting; under auto, the chunked
// attention), so the module changes as it would in seqc.
//
//===----------------------------------------------------------------------===//
#include "seqc/Compiler/FormPlan.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

namespace {
struct TestFormPlanPass : PassWrapper<TestFormPlanPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestFormPlanPass)
  TestFormPlanPass() = default;
  TestFormPlanPass(const TestFormPlanPass &other) : PassWrapper(other) {}

  StringRef getArgument() const final { return "test-form-plan"; }
  StringRef getDescription() const final {
    return "Reports the form the compiler plans for every state, as remarks";
  }
  void runOnOperation() override {
    seqc::FormOptions options;
    std::optional<seqc::Form> parsed = seqc::parseEnum(seqc::kFormNames, form);
    if (!parsed) {
      getOperation().emitError() << "test-form-plan: unknown form '" << form << "'";
      return signalPassFailure();
    }
    options.form = *parsed;
    options.chunkSize = chunkSize;
    options.target = gpu ? seqc::TargetKind::Nvptx : seqc::TargetKind::Cpu;
    FailureOr<seqc::FormPlan> plan = seqc::planForms(
        getOperation(), options, [&](function_ref<void(OpPassManager &)> build) {
          OpPassManager pm(ModuleOp::getOperationName());
          build(pm);
          return runPipeline(pm, getOperation());
        });
    if (failed(plan))
      return signalPassFailure();
    for (const seqc::StatePlan &state : plan->states)
      emitRemark(state.loc) << "state " << state.state << ": " << seqc::formName(state.form)
                            << " (" << state.why << ")";
  }

  Option<std::string> form{*this, "form", llvm::cl::desc("auto|sequential|scan|chunk|newton"),
                           llvm::cl::init("auto")};
  Option<int64_t> chunkSize{*this, "chunk-size", llvm::cl::desc("--chunk-size"),
                            llvm::cl::init(64)};
  Option<bool> gpu{*this, "gpu", llvm::cl::desc("--target nvptx's rules"),
                   llvm::cl::init(false)};
};
} // namespace

namespace seqc::test {
void registerTestFormPlanPass() { PassRegistration<TestFormPlanPass>(); }
} // namespace seqc::test
