//===- FormPlan.cpp - Which form each state takes, and why ----------------===//
//
// planForms reads one RecurrenceAnalysis per recurrence (and the matrix-state,
// attention and Jacobian analyses where a form needs them) and writes one
// StatePlan per state. The passes of buildFormPipeline make the same
// decisions from the same analyses; the plan is what the report shows and
// where a forced form is refused.
//
//===----------------------------------------------------------------------===//
#include "seqc/Compiler/FormPlan.h"

#include "seqc/Analysis/AttentionAnalysis.h"
#include "seqc/Analysis/MatrixStateAnalysis.h"
#include "seqc/Analysis/RecurrenceAnalysis.h"
#include "seqc/Analysis/StepJacobian.h"
#include "seqc/Compiler/Pipelines.h"

using namespace mlir;
using namespace seqc;

namespace {

constexpr llvm::StringLiteral kAttentionHistory = "(attention history)";

/// Whether, and why (not), a recurrence takes the Newton form.
struct NewtonDecision {
  bool applies = false;
  std::string why;
};

NewtonDecision decideNewton(rec::RecurrenceOp op, const RecurrenceAnalysis &analysis,
                            Form form) {
  NewtonDecision decision;
  if (analysis.hasImplicitState()) {
    decision.why = "its step holds attention, whose key/value history no Jacobian covers";
    return decision;
  }
  JacobianInfo info = analyseStepJacobian(op.getBody(), op.getNumStates());
  if (!info.differentiable) {
    decision.why = info.whyNot;
    return decision;
  }
  if (info.structure == rec::JacobianStructure::Dense && info.numElements > kMaxDenseJacobian) {
    decision.why = "its Jacobian is dense with " + std::to_string(info.numElements) +
                   " state elements a side; the Newton form solves dense Jacobians of at most " +
                   std::to_string(kMaxDenseJacobian);
    return decision;
  }
  if (form == Form::Auto && info.structure == rec::JacobianStructure::Dense) {
    decision.why = "its Jacobian is " + info.describe() +
                   ": each Newton step would cost more than the sequential loop "
                   "(--form newton forces it)";
    return decision;
  }
  decision.applies = true;
  decision.why = "Jacobian " + info.describe();
  return decision;
}

/// Appends `part` to a "; "-separated list of reasons.
void appendReason(std::string &reasons, const std::string &part) {
  reasons += (reasons.empty() ? "" : "; ") + part;
}

/// The decisions for one recurrence: which form takes each of its states,
/// from one analysis of its step.
class RecurrencePlanner {
public:
  RecurrencePlanner(rec::ModelOp model, rec::RecurrenceOp op, const FormOptions &options)
      : model(model), op(op), options(options), form(options.form),
        analysis(op, /*chunkedAttentionIsInput=*/options.form == Form::Chunk) {
    decideScan();
    decideChunks();
    if ((form == Form::Newton || (form == Form::Auto && !scannable)) && hasWork)
      newton = decideNewton(op, analysis, form);
  }

  /// The error of a forced form that does not apply, on the model; fails
  /// then. `reported` says whether the model already has one (it gets one
  /// at most).
  LogicalResult checkForcedForm(bool reported) {
    std::optional<std::string> refusal;
    if (form == Form::Scan && !scannable && hasWork)
      refusal = "cannot take the scan form: " + analysis.whyNotScannable();
    else if (form == Form::Chunk && chunked.empty() && chunkedAttentions == 0 && hasWork)
      refusal = "cannot take the chunked form: " + whyNotChunked;
    else if (form == Form::Newton && !newton.applies && hasWork)
      refusal = "cannot take the Newton form: " + newton.why;
    if (!refusal)
      return success();
    if (!reported)
      model.emitError() << "model '" << model.getSymName() << "' " << *refusal;
    return failure();
  }

  void addTo(FormPlan &plan) {
    for (auto [index, state] : llvm::enumerate(analysis.getStates()))
      plan.states.push_back(planState(index, state));
    // The attention left in the step (under --form auto, what it could not
    // take out).
    for (auto attention : op.getBody().getOps<rec::AttentionOp>())
      plan.states.push_back(planAttention(attention));
  }

private:
  void decideScan() {
    scannable = analysis.isScannable();
    scan = (form == Form::Scan || form == Form::Auto) && scannable;
    if (scan && form == Form::Auto)
      for (unsigned i = 0; i < op.getNumStates(); ++i)
        streamed |= analysis.scanCoefficientsExpand(i);
    scan &= !streamed;
    hasWork = op.getNumStates() > 0 || analysis.hasImplicitState();
  }

  /// --form chunk: the matrix states the chunked form takes; the rest of
  /// the cell is scanned where it can be once they have left. --form auto
  /// takes them too on the CPU, where its rule accepts the cell (chunks
  /// sized to the heads, for calls of at least 8 chunks).
  void decideChunks() {
    autoChunk = form == Form::Auto && options.target == TargetKind::Cpu &&
                autoChunksMatrixStates(op);
    chunking = form == Form::Chunk || autoChunk;
    if (!chunking)
      return;
    for (unsigned i = 0; i < op.getNumStates(); ++i) {
      MatrixStateMatch match = matchMatrixState(op, i);
      if (match.matched) {
        chunked.push_back(match);
        continue;
      }
      appendReason(whyNotChunked, "state '" + analysis.getStates()[i].name + "': " + match.whyNot);
      restScannable &= analysis.getStates()[i].kind == StateKind::ElementwiseAffine;
    }
    for (auto attention : op.getBody().getOps<rec::AttentionOp>()) {
      AttentionMatch match = matchAttention(attention);
      if (match.matched) {
        ++chunkedAttentions;
        continue;
      }
      restScannable = false;
      appendReason(whyNotChunked, match.whyNot);
    }
  }

  StatePlan planState(unsigned index, const StateInfo &state) {
    StatePlan entry{model.getSymName().str(), state.name, Form::Sequential, "", op.getLoc()};
    const MatrixStateMatch *matrix = nullptr;
    for (const MatrixStateMatch &match : chunked)
      if (match.state == index)
        matrix = &match;
    if (chunking && matrix) {
      entry.form = Form::Chunk;
      entry.why = describeChunked(*matrix);
    } else if (chunking) {
      bool scanned = restScannable && state.kind == StateKind::ElementwiseAffine;
      entry.form = scanned ? Form::Scan : Form::Sequential;
      entry.why = "not a matrix state: " + matchMatrixState(op, index).whyNot +
                  (scanned ? "; affine in itself with an elementwise coefficient" : "");
    } else if (scan) {
      entry.form = Form::Scan;
      entry.why = "affine in itself with an elementwise coefficient";
    } else if (newton.applies) {
      entry.form = Form::Newton;
      entry.why = describeNewton();
    } else if (form == Form::Sequential) {
      entry.why = "--form sequential";
    } else if (streamed) {
      entry.why = "scannable, but its coefficients would be broadcasts of smaller step "
                  "data; streaming over time reads less memory (--form scan forces it)";
    } else if (!scannable) {
      entry.why = analysis.whyNotScannable();
      if (!newton.why.empty())
        entry.why += "; no Newton form: " + newton.why;
    }
    return entry;
  }

  std::string describeChunked(const MatrixStateMatch &match) const {
    int64_t size = autoChunk ? autoChunkSize(op, match, options.chunkSize) : options.chunkSize;
    std::string why = match.describe() + ", in chunks of " + std::to_string(size) + " steps";
    if (autoChunk)
      why += " for calls with T >= " + std::to_string(kAutoChunkMinChunks * size) +
             " (sequential otherwise)";
    if (match.decayKind != ChunkDecay::None)
      why += "; sequential for a call with a negative decay";
    return why;
  }

  std::string describeNewton() const {
    std::string iterations =
        std::string(options.newtonQuasi ? "; its diagonal only (quasi-DEER)" : "") +
        "; sequential when not converged after " + std::to_string(options.newtonMaxIters) +
        " iterations";
    if (form == Form::Newton)
      return newton.why + iterations;
    bool gpu = options.target == TargetKind::Nvptx;
    return newton.why + "; for T >= " + std::to_string(autoNewtonMinLength(options.target)) +
           " with at least " + std::to_string(kAutoNewtonThreadsPerRow) +
           (gpu ? " resident GPU threads" : " threads") + " per batch row, sequential otherwise" +
           iterations;
  }

  StatePlan planAttention(rec::AttentionOp attention) {
    AttentionMatch match = matchAttention(attention);
    StatePlan entry{model.getSymName().str(), kAttentionHistory.str(), Form::Sequential, "",
                    attention.getLoc()};
    if (form == Form::Chunk && match.matched) {
      entry.form = Form::Chunk;
      entry.why = match.describe(attention, options.chunkSize);
    } else if (match.matched) {
      entry.why = "--form " + formName(form).str() +
                  " runs attention step by step (--form chunk and auto chunk it)";
    } else {
      entry.why = match.whyNot;
    }
    return entry;
  }

  rec::ModelOp model;
  rec::RecurrenceOp op;
  const FormOptions &options;
  Form form;
  RecurrenceAnalysis analysis;

  bool scannable = false, scan = false, streamed = false, hasWork = false;
  bool autoChunk = false, chunking = false, restScannable = true;
  SmallVector<MatrixStateMatch, 2> chunked;
  unsigned chunkedAttentions = 0;
  std::string whyNotChunked;
  NewtonDecision newton;
};

/// Under --form auto, every attention the chunked kernels take (they do the
/// sequential loop's work, tiled and in parallel): decided before
/// rec-to-chunked{attention-only} takes them out of their steps.
void planAutoAttention(ModuleOp module, const FormOptions &options, FormPlan &plan) {
  for (auto model : module.getOps<rec::ModelOp>())
    model.walk([&](rec::AttentionOp attention) {
      AttentionMatch match = matchAttention(attention);
      if (match.matched)
        plan.states.push_back({model.getSymName().str(), kAttentionHistory.str(), Form::Chunk,
                               match.describe(attention, options.chunkSize),
                               attention.getLoc()});
    });
}

} // namespace

FailureOr<FormPlan> seqc::planForms(ModuleOp module, const FormOptions &options,
                                    PipelineRunner run) {
  FormPlan plan;
  // Step-invariant work leaves the step first, so that the analyses see
  // only what varies with the step.
  if (failed(run(buildFormPreparationPipeline)))
    return failure();
  // --form auto takes every attention it can out of its step first; what
  // is left of each cell is then decided as any other.
  if (options.form == Form::Auto) {
    planAutoAttention(module, options, plan);
    if (failed(run([&](OpPassManager &pm) { buildAutoAttentionPipeline(pm, options); })))
      return failure();
  }
  for (auto model : module.getOps<rec::ModelOp>()) {
    // The plan is the user's models': the models of the backward entry
    // points take their forms from the same passes.
    if (model.getModelKind() != rec::ModelKind::Forward)
      continue;
    bool refused = false;
    model.walk([&](rec::RecurrenceOp op) {
      RecurrencePlanner planner(model, op, options);
      refused |= failed(planner.checkForcedForm(refused));
      planner.addTo(plan);
    });
    if (refused)
      return failure();
  }
  return plan;
}

void seqc::printFormPlan(const FormPlan &plan, llvm::raw_ostream &os, llvm::StringRef prefix) {
  for (const StatePlan &entry : plan.states) {
    os << prefix << "model " << entry.model << ": state " << entry.state << ": "
       << formName(entry.form);
    if (!entry.why.empty())
      os << " (" << entry.why << ")";
    os << "\n";
  }
}
