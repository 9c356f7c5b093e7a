//===- KernelCheck.cpp - seqc check ---------------------------------------===//
//
// The kernel is compiled by the compiler library exactly as `seqc FILE
// --emit obj` would, linked and loaded (KernelLibrary), called on data drawn
// from the model's `~` annotations (KernelCall) and compared with the
// float64 interpreter on the same data; then each ABI behaviour of
// language.md section 5 is checked on the same kernel.
//
//===----------------------------------------------------------------------===//
#include "seqc/Check/KernelCheck.h"

#include "seqc/Check/KernelCall.h"
#include "seqc/Check/KernelLibrary.h"
#include "seqc/Compiler/Compiler.h"
#include "seqc/Frontend/Interpreter.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

using namespace seqc;

namespace {

/// Compares every output and final state of `actual` (skipping NULL ones)
/// with the reference: max abs error / (1 + max |reference|) within `limit`,
/// NaN counting as infinitely wrong. Prints one line per array when
/// `verbose`.
bool compareWithReference(const Model &model, const KernelBuffers &actual,
                          const ModelResult &reference, double limit, bool verbose) {
  bool pass = true;
  auto compare = [&](llvm::StringRef role, llvm::StringRef name, const std::vector<float> &got,
                     const Array &expected) {
    if (got.empty())
      return;
    double maxError = 0, maxReference = 0;
    for (size_t i = 0; i < expected.data.size(); ++i) {
      double error = std::fabs(double(got[i]) - expected.data[i]);
      if (!(error <= maxError))
        maxError = std::isnan(error) ? INFINITY : error;
      maxReference = std::max(maxReference, std::fabs(expected.data[i]));
    }
    double relative = maxError / (1 + maxReference);
    bool ok = relative <= limit;
    pass &= ok;
    if (verbose)
      llvm::outs() << llvm::format(
          "  %-6s %-12s max abs error %.3e, / (1 + max|ref| %.3g) = %.3e %s\n", role.str().c_str(),
          name.str().c_str(), maxError, maxReference, relative, ok ? "ok" : "TOO LARGE");
  };
  for (size_t i = 0; i < model.outputs.size(); ++i)
    compare("output", model.outputs[i].name, actual.outputs[i], reference.outputs[i]);
  for (size_t i = 0; i < model.states.size(); ++i)
    compare("final", model.states[i].name, actual.finals[i], reference.finalStates[i]);
  return pass;
}

bool usesAttention(const Expr &e) {
  if (e.kind == Expr::Call && e.name == "attention")
    return true;
  for (const ExprPtr &arg : e.args)
    if (usesAttention(*arg))
      return true;
  for (const KeywordArg &kw : e.kwargs)
    if (kw.value && usesAttention(*kw.value))
      return true;
  return false;
}

/// Steps [begin, end) of an array laid out [B, T, rest...].
std::vector<float> timeSlice(const std::vector<float> &array, int64_t B, int64_t T,
                             int64_t begin, int64_t end) {
  size_t rest = B * T == 0 ? 0 : array.size() / size_t(B * T);
  std::vector<float> slice;
  slice.reserve(size_t(B * (end - begin)) * rest);
  for (int64_t b = 0; b < B; ++b)
    slice.insert(slice.end(), array.begin() + (b * T + begin) * rest,
                 array.begin() + (b * T + end) * rest);
  return slice;
}

/// The ABI behaviours of language.md section 5, each checked on the loaded
/// kernel and reported on one line.
class AbiChecks {
public:
  AbiChecks(const KernelCaller &kernel, const ModelData &data, const ModelResult &reference,
            const KernelBuffers &full, double limit)
      : kernel(kernel), model(kernel.model), data(data), reference(reference), full(full),
        limit(limit), B(data.B), T(data.T) {}

  bool run() {
    checkErrorCodes();
    checkEmptySequence();
    if (!model.states.empty())
      checkNullStates();
    if (!model.states.empty() && B > 0 && T >= 2)
      checkTwoCalls();
    return pass;
  }

private:
  KernelBuffers fresh() const { return KernelBuffers::fromData(data, reference); }

  void report(const std::string &what, bool ok, const std::string &detail) {
    pass &= ok;
    llvm::outs() << llvm::format("  abi    %-46s %s", what.c_str(), ok ? "ok" : "FAILED");
    if (!ok)
      llvm::outs() << " (" << detail << ")";
    llvm::outs() << "\n";
  }
  static std::string returned(int status) { return "returned " + std::to_string(status); }
  static std::string why(int status) {
    return status ? returned(status) : std::string("results differ");
  }

  void checkErrorCodes() {
    KernelBuffers b = fresh();
    int status = kernel.call(-1, T, b);
    report("B < 0 returns 1", status == 1, returned(status));
    status = kernel.call(B, -1, b);
    report("T < 0 returns 1", status == 1, returned(status));
    if (B * T == 0)
      return;
    b = fresh();
    bool input = !b.inputs.empty();
    (input ? b.inputs : b.outputs).front().clear();
    status = kernel.call(B, T, b);
    report(input ? "NULL input returns 2" : "NULL output returns 2", status == 2,
           returned(status));
  }

  /// T = 0 writes the final states (equal to the initial ones) and nothing
  /// else. It starts from non-trivial states: the finals of the full call.
  void checkEmptySequence() {
    KernelBuffers b = fresh();
    if (!model.states.empty())
      b.inits = full.finals;
    for (auto &o : b.outputs)
      std::fill(o.begin(), o.end(), 12345.0f);
    int status = kernel.call(B, 0, b);
    bool ok = status == 0 && b.finals == b.inits;
    for (auto &o : b.outputs)
      ok &= std::all_of(o.begin(), o.end(), [](float v) { return v == 12345.0f; });
    report("T = 0: final = initial, outputs untouched", ok, why(status));
  }

  void checkNullStates() {
    KernelBuffers b = fresh();
    for (auto &init : b.inits)
      init.clear();
    int status = kernel.call(B, T, b);
    report("NULL initial states are the declared values",
           status == 0 && compareWithReference(model, b, reference, limit, false), why(status));
    b = fresh();
    for (auto &final : b.finals)
      final.clear();
    status = kernel.call(B, T, b);
    report("NULL final states are skipped",
           status == 0 && compareWithReference(model, b, reference, limit, false), why(status));
  }

  /// Steps [0, T1) then [T1, T), the second call starting from the first's
  /// final states, must give what one call gives.
  void checkTwoCalls() {
    for (const Stmt &s : model.step)
      if (usesAttention(*s.value)) {
        llvm::outs() << "  abi    two calls: skipped (attention's history is not an ABI "
                        "state)\n";
        return;
      }
    int64_t T1 = T / 3 + 1;
    KernelBuffers first = fresh(), second = fresh();
    for (size_t i = 0; i < full.inputs.size(); ++i) {
      first.inputs[i] = timeSlice(full.inputs[i], B, T, 0, T1);
      second.inputs[i] = timeSlice(full.inputs[i], B, T, T1, T);
    }
    for (size_t i = 0; i < full.outputs.size(); ++i) {
      first.outputs[i] = timeSlice(first.outputs[i], B, T, 0, T1);
      second.outputs[i] = timeSlice(second.outputs[i], B, T, T1, T);
    }
    int status = kernel.call(B, T1, first);
    second.inits = first.finals;
    if (status == 0)
      status = kernel.call(B, T - T1, second);
    KernelBuffers joined = fresh();
    joined.finals = second.finals;
    for (size_t i = 0; i < joined.outputs.size(); ++i) {
      std::vector<float> &out = joined.outputs[i];
      size_t rest = out.size() / size_t(B * T);
      for (int64_t b = 0; b < B; ++b) {
        std::copy_n(first.outputs[i].begin() + b * T1 * rest, T1 * rest,
                    out.begin() + b * T * rest);
        std::copy_n(second.outputs[i].begin() + b * (T - T1) * rest, (T - T1) * rest,
                    out.begin() + (b * T + T1) * rest);
      }
    }
    report("two calls (T = " + std::to_string(T1) + " + " + std::to_string(T - T1) +
               ") equal one call",
           status == 0 && compareWithReference(model, joined, reference, limit, false),
           why(status));
  }

  const KernelCaller &kernel;
  const Model &model;
  const ModelData &data;
  const ModelResult &reference;
  const KernelBuffers &full;
  double limit;
  int64_t B, T;
  bool pass = true;
};

int error(const llvm::Twine &message) {
  llvm::errs() << "seqc: error: " << message << "\n";
  return 1;
}

/// The compiled, linked and loaded kernel of `model`.
llvm::Expected<std::unique_ptr<KernelLibrary>>
buildKernel(const Model &model, llvm::SourceMgr &sourceMgr, const CompileOptions &compile) {
  CompileOptions options = compile;
  options.emit = EmitKind::Obj;
  PhaseTimer timer(options.timePhases);
  mlir::FailureOr<CompiledOutput> object = compileModels({&model}, sourceMgr, options, timer);
  timer.print(llvm::errs());
  if (failed(object))
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "");
  return KernelLibrary::load(model.name, object->bytes(), compile.target == TargetKind::Nvptx);
}

} // namespace

double seqc::checkTolerance(Form form) {
  return form == Form::Chunk || form == Form::Newton ? 1e-3 : 1e-4;
}

int seqc::checkKernel(const Model &model, llvm::SourceMgr &sourceMgr,
                      const CompileOptions &compile, const RunOptions &run) {
  if (llvm::Error err = checkRunSize(model, run.B, run.T))
    return error(llvm::toString(std::move(err)));
  if (model.inputs.size() + model.params.size() + 2 * model.states.size() +
          model.outputs.size() >
      kMaxKernelArgs)
    return error("'seqc check' handles at most " + llvm::Twine(kMaxKernelArgs) +
                 " arrays per model");
  bool cuda = compile.target == TargetKind::Nvptx;
  CudaDriver driver;
  if (cuda)
    if (llvm::Error err = driver.load())
      return error(llvm::toString(std::move(err)));
  llvm::Expected<std::unique_ptr<KernelLibrary>> library =
      buildKernel(model, sourceMgr, compile);
  if (!library) {
    std::string message = llvm::toString(library.takeError());
    return message.empty() ? 1 : error(message);
  }
  // -v also shows what the kernel decides at run time (how a scan splits,
  // how many iterations the Newton form took): the runtime reads this.
  if (compile.verbose)
    setenv("SEQC_VERBOSE", "1", /*overwrite=*/0);
  std::string entryName = model.name + (cuda ? "_forward_cuda" : "_forward");
  llvm::Expected<void *> entry = (*library)->lookup(entryName);
  if (!entry)
    return error(llvm::toString(entry.takeError()));

  ModelData data = drawData(model, run.B, run.T, run.seed);
  llvm::Expected<ModelResult> reference = interpret(model, data);
  if (!reference)
    return error(llvm::toString(reference.takeError()));
  KernelCaller kernel{*entry, model, cuda ? &driver : nullptr};
  KernelBuffers full = KernelBuffers::fromData(data, *reference);
  int status = kernel.call(run.B, run.T, full);
  llvm::outs() << "model " << model.name << ": form " << formName(compile.forms.form)
               << (cuda ? ", target nvptx (" + compile.gpuArch + ")" : std::string())
               << ", B=" << run.B << " T=" << run.T << " seed=" << run.seed << "\n";
  if (status != 0) {
    llvm::outs() << "kernel returned " << status << "\nFAIL\n";
    return 1;
  }
  double limit = checkTolerance(compile.forms.form);
  bool pass = compareWithReference(model, full, *reference, limit, /*verbose=*/true);
  pass &= AbiChecks(kernel, data, *reference, full, limit).run();
  llvm::outs() << "tolerance " << llvm::format("%.0e", limit) << "\n"
               << (pass ? "PASS" : "FAIL") << "\n";
  return pass ? 0 : 1;
}
