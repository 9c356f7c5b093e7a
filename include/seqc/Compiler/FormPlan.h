//===- FormPlan.h - Which form each state takes, and why ------------------===//
//
// The compiler's form decision in three parts:
//   decide   planForms: one StatePlan per state (and per attention history)
//            from the analyses, or an error where a forced --form does not
//            apply;
//   describe printFormPlan: the --emit forms / -v report;
//   build    buildFormPipeline (Pipelines.h): the passes that rewrite the
//            recurrences into their forms, with the same options.
// The rules of --form auto are the constants below; docs/design.md gives
// the measurements behind each.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_COMPILER_FORMPLAN_H
#define SEQC_COMPILER_FORMPLAN_H

#include "seqc/Compiler/Options.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace seqc {

/// The largest dense Jacobian (in state elements a side) the Newton form
/// solves: each step's solve is an N x N matrix-vector product, and the
/// Jacobian costs N derivative evaluations of the step.
constexpr int64_t kMaxDenseJacobian = 256;
/// Under --form auto, where the Newton form applies, a call runs it only for
/// sequences at least this long and with at least this many threads per
/// batch row; otherwise sequentially. The iteration does several times the
/// sequential loop's work (3 to 30 times on 2 threads at B = 1), so it pays
/// only where the sequential loop, parallel over batch rows alone, leaves
/// most threads idle.
constexpr int64_t kAutoNewtonMinLength = 4096;
constexpr int64_t kAutoNewtonThreadsPerRow = 32;
/// On the GPU the sequential form runs one thread per batch row through all
/// T steps, a few microseconds a step for a cell of 128 channels, while a
/// Newton iteration is about ten kernel launches of a few microseconds
/// each: by T = 256 the sequential loop costs as much as five iterations.
/// The threads per row are counted against the device's resident threads.
/// An estimate, not yet measured on a GPU.
constexpr int64_t kAutoNewtonMinLengthGPU = 256;

inline int64_t autoNewtonMinLength(TargetKind target) {
  return target == TargetKind::Nvptx ? kAutoNewtonMinLengthGPU : kAutoNewtonMinLength;
}

/// What the plan decided for one state, or for the key/value history of
/// one attention.
struct StatePlan {
  std::string model;
  /// The state's name, or "(attention history)".
  std::string state;
  /// Sequential, Scan, Chunk or Newton (never Auto).
  Form form = Form::Sequential;
  std::string why;
  /// The recurrence (or attention) the decision is about.
  mlir::Location loc;
};

struct FormPlan {
  std::vector<StatePlan> states;
};

/// Runs the passes a builder adds on the module the plan is for.
using PipelineRunner = llvm::function_ref<mlir::LogicalResult(
    llvm::function_ref<void(mlir::OpPassManager &)> build)>;

/// Decides the form of every state of every model in `module`. Runs, through
/// `run`, what must change the IR before the analyses read it: the
/// step-invariant work leaves each step, and under --form auto every
/// attention that can be chunked leaves its step. Fails, with an error on
/// the model, where a forced form (--form scan, chunk, newton) does not
/// apply.
mlir::FailureOr<FormPlan> planForms(mlir::ModuleOp module, const FormOptions &options,
                                    PipelineRunner run);

/// The report of --emit forms and -v: one line per state, "PREFIXmodel M:
/// state S: FORM (why)".
void printFormPlan(const FormPlan &plan, llvm::raw_ostream &os, llvm::StringRef prefix);

} // namespace seqc

#endif // SEQC_COMPILER_FORMPLAN_H
