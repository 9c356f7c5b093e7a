//===- GradientCheck.cpp - seqc check --grad ------------------------------===//
//
// M_backward against central finite differences of the float64
// interpreter (language.md section 8): for random cotangents u of the
// outputs and final states and a random direction v over one group of
// arguments (the inputs, the params, the initial states), <u, J v> from the
// kernel's gradients and from (<u, F(x + eps v)> - <u, F(x - eps v)>) /
// (2 eps). Each group has its own direction, so that a wrong gradient in
// one cannot hide behind another. The initial states are drawn near their
// declared values, not at them. Then the ABI of the backward entry
// points: without the tape, NULL gradients and cotangents, T = 0, and two
// pieces equal to one call when the cotangent of the first piece's final
// states is the second's initial-state gradient.
//
//===----------------------------------------------------------------------===//
#include "seqc/Check/GradientCheck.h"

#include "seqc/Check/KernelCall.h"
#include "seqc/Check/KernelLibrary.h"
#include "seqc/Compiler/Compiler.h"
#include "seqc/Frontend/Interpreter.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>

using namespace seqc;

namespace {

using Floats = std::vector<float>;
using Group = std::vector<Floats>;

int error(const llvm::Twine &message) {
  llvm::errs() << "seqc: error: " << message << "\n";
  return 1;
}

Group toFloats(const std::vector<Array> &arrays) {
  Group group;
  for (const Array &a : arrays)
    group.emplace_back(a.data.begin(), a.data.end());
  return group;
}

/// Arrays shaped like `like`, drawn uniformly from [-1, 1].
Group randomLike(const Group &like, std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Group group;
  for (const Floats &a : like) {
    Floats drawn(a.size());
    for (float &x : drawn)
      x = uniform(rng);
    group.push_back(std::move(drawn));
  }
  return group;
}

double dot(const Group &a, const Group &b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].size() && j < b[i].size(); ++j)
      sum += double(a[i][j]) * double(b[i][j]);
  return sum;
}

double dot(const Group &u, const std::vector<Array> &arrays) {
  double sum = 0;
  for (size_t i = 0; i < u.size(); ++i)
    for (size_t j = 0; j < u[i].size(); ++j)
      sum += double(u[i][j]) * arrays[i].data[j];
  return sum;
}

/// max |a - b| / (1 + max |b|) over every array of two groups.
double relativeDifference(const Group &a, const Group &b) {
  double maxError = 0, maxReference = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].size(); ++j) {
      double error = std::fabs(double(a[i][j]) - double(b[i][j]));
      if (!(error <= maxError))
        maxError = std::isnan(error) ? INFINITY : error;
      maxReference = std::max(maxReference, std::fabs(double(b[i][j])));
    }
  return maxError / (1 + maxReference);
}

void append(std::vector<void *> &pointers, Group &group) {
  for (Floats &a : group)
    pointers.push_back(a.empty() ? nullptr : a.data());
}

/// The three entry points of section 8, loaded.
struct BackwardKernel {
  int64_t (*tapeBytes)(int64_t, int64_t);
  void *forwardTape, *backward;
  const Model &model;

  /// The arrays of one forward-with-tape and backward call.
  struct Call {
    Group inputs, params, inits, outputs, finals;
    Group outputCotangents, finalCotangents;
    Group inputGradients, paramGradients, initGradients;
    std::vector<char> tape;
  };

  /// M_forward_tape, then M_backward with the tape (or with NULL for
  /// `withTape` false). Returns the first non-zero status.
  int run(int64_t B, int64_t T, Call &c, bool withTape = true) const {
    c.tape.assign(size_t(std::max<int64_t>(tapeBytes(B, T), 1)), 0);
    std::vector<void *> pointers;
    for (Group *g : {&c.inputs, &c.params, &c.inits, &c.outputs, &c.finals})
      append(pointers, *g);
    pointers.push_back(c.tape.data());
    if (int status = callEntryPoint(forwardTape, false, B, T, pointers))
      return status;
    return backwardOnly(B, T, c, withTape);
  }

  int backwardOnly(int64_t B, int64_t T, Call &c, bool withTape) const {
    std::vector<void *> pointers;
    for (Group *g : {&c.inputs, &c.params, &c.inits})
      append(pointers, *g);
    pointers.push_back(withTape ? c.tape.data() : nullptr);
    for (Group *g : {&c.outputCotangents, &c.finalCotangents, &c.inputGradients,
                     &c.paramGradients, &c.initGradients})
      append(pointers, *g);
    return callEntryPoint(backward, false, B, T, pointers);
  }
};

/// NaN-filled arrays shaped like `like`: what the kernel does not write
/// shows up.
Group nansLike(const Group &like) {
  Group group;
  for (const Floats &a : like)
    group.emplace_back(a.size(), std::nanf(""));
  return group;
}

class GradientChecks {
public:
  GradientChecks(const BackwardKernel &kernel, const ModelData &data, const ModelResult &reference,
                 double limit, uint64_t seed)
      : kernel(kernel), model(kernel.model), data(data), reference(reference), limit(limit),
        B(data.B), T(data.T), rng(seed * 7919 + 17) {}

  bool run() {
    BackwardKernel::Call full = freshCall();
    int status = kernel.run(B, T, full);
    if (status != 0) {
      report("grad", "kernel", false, "returned " + std::to_string(status));
      return false;
    }
    Group outputs = toFloats(reference.outputs), finals = toFloats(reference.finalStates);
    reportDifference("forward", "M_forward_tape outputs and final states",
                     relativeDifference(full.outputs, outputs) +
                         relativeDifference(full.finals, finals),
                     limit / 10);
    checkDirection("inputs", full.inputGradients, [](ModelData &d) { return &d.inputs; });
    checkDirection("params", full.paramGradients, [](ModelData &d) { return &d.params; });
    checkDirection("inits", full.initGradients, [](ModelData &d) { return &d.initialStates; });
    checkWithoutTape(full);
    checkAbi(full);
    return pass;
  }

private:
  BackwardKernel::Call freshCall() {
    BackwardKernel::Call c;
    c.inputs = toFloats(data.inputs);
    c.params = toFloats(data.params);
    c.inits = toFloats(data.initialStates);
    c.outputs = nansLike(toFloats(reference.outputs));
    c.finals = nansLike(toFloats(reference.finalStates));
    if (cotangentOutputs.empty()) {
      cotangentOutputs = randomLike(c.outputs, rng);
      cotangentFinals = randomLike(c.finals, rng);
    }
    c.outputCotangents = cotangentOutputs;
    c.finalCotangents = cotangentFinals;
    c.inputGradients = nansLike(c.inputs);
    c.paramGradients = nansLike(c.params);
    c.initGradients = nansLike(c.inits);
    return c;
  }

  void report(llvm::StringRef kind, const std::string &what, bool ok, const std::string &detail) {
    pass &= ok;
    llvm::outs() << llvm::format("  %-6s %-58s %s", kind.str().c_str(), what.c_str(),
                                 ok ? "ok" : "FAILED");
    if (!detail.empty())
      llvm::outs() << " (" << detail << ")";
    llvm::outs() << "\n";
  }

  void reportDifference(llvm::StringRef kind, const std::string &what, double difference,
                        double tolerance) {
    report(kind, what, difference <= tolerance,
           llvm::formatv("relative difference {0:e2}", difference).str());
  }

  /// <u, J v> for a random v over one group, from the kernel's gradients
  /// and by central differences of the interpreter.
  void checkDirection(llvm::StringRef name, const Group &gradients,
                      std::function<std::vector<Array> *(ModelData &)> group) {
    ModelData perturbed = data;
    std::vector<Array> &arrays = *group(perturbed);
    if (arrays.empty())
      return;
    for (const Array &a : arrays)
      for (double x : a.data)
        if (!std::isfinite(x)) {
          llvm::outs() << "  grad   " << name << ": skipped (a declared value is not finite)\n";
          return;
        }
    const std::vector<Array> original = arrays;
    Group direction = randomLike(toFloats(arrays), rng);
    double analytic = dot(gradients, direction);
    const double eps = 1e-5;
    auto objective = [&](double sign) -> double {
      for (size_t i = 0; i < arrays.size(); ++i)
        for (size_t j = 0; j < arrays[i].data.size(); ++j)
          arrays[i].data[j] = original[i].data[j] + sign * eps * double(direction[i][j]);
      llvm::Expected<ModelResult> result = interpret(model, perturbed);
      if (!result) {
        llvm::consumeError(result.takeError());
        return NAN;
      }
      return dot(cotangentOutputs, result->outputs) + dot(cotangentFinals, result->finalStates);
    };
    double numeric = (objective(1) - objective(-1)) / (2 * eps);
    double relative = std::fabs(analytic - numeric) / (1 + std::fabs(numeric));
    if (std::isnan(relative))
      relative = INFINITY;
    report("grad", (name + " <u, J v>").str(), relative <= limit,
           llvm::formatv("kernel {0:e6}, finite differences {1:e6}, relative error {2:e2}",
                         analytic, numeric, relative)
               .str());
  }

  void checkWithoutTape(const BackwardKernel::Call &full) {
    BackwardKernel::Call c = freshCall();
    int status = kernel.run(B, T, c, /*withTape=*/false);
    double difference = relativeDifference(c.inputGradients, full.inputGradients) +
                        relativeDifference(c.paramGradients, full.paramGradients) +
                        relativeDifference(c.initGradients, full.initGradients);
    report("grad", "without the tape (recomputed): the same gradients",
           status == 0 && difference <= limit / 10,
           status ? "returned " + std::to_string(status)
                  : llvm::formatv("relative difference {0:e2}", difference).str());
  }

  void checkAbi(const BackwardKernel::Call &full);
  void checkPieces(const BackwardKernel::Call &full);

  const BackwardKernel &kernel;
  const Model &model;
  const ModelData &data;
  const ModelResult &reference;
  double limit;
  int64_t B, T;
  std::mt19937_64 rng;
  Group cotangentOutputs, cotangentFinals;
  bool pass = true;
};

void GradientChecks::checkAbi(const BackwardKernel::Call &full) {
  BackwardKernel::Call c = freshCall();
  int status = kernel.run(-1, T, c);
  report("abi", "M_backward with B < 0 returns 1", status == 1,
         "returned " + std::to_string(status));

  // NULL gradients are not wanted; the others are still right.
  c = freshCall();
  for (Group *g : {&c.inputGradients, &c.paramGradients})
    for (Floats &a : *g)
      a.clear();
  status = kernel.run(B, T, c);
  report("abi", "NULL input and param gradients are skipped",
         status == 0 && relativeDifference(c.initGradients, full.initGradients) <= limit / 10,
         status ? "returned " + std::to_string(status) : "");

  // NULL cotangents are zero.
  c = freshCall();
  BackwardKernel::Call zeros = freshCall();
  for (Floats &a : c.outputCotangents)
    a.clear();
  for (Floats &a : zeros.outputCotangents)
    std::fill(a.begin(), a.end(), 0.0f);
  status = kernel.run(B, T, c);
  int zeroStatus = kernel.run(B, T, zeros);
  report("abi", "NULL output cotangents are zeros",
         status == 0 && zeroStatus == 0 &&
             relativeDifference(c.paramGradients, zeros.paramGradients) +
                     relativeDifference(c.initGradients, zeros.initGradients) <=
                 limit / 10,
         "");

  // T = 0: the initial-state gradient is the final-state cotangent, param
  // gradients are written as zeros.
  c = freshCall();
  status = kernel.run(B, 0, c);
  bool ok = status == 0 && c.initGradients == c.finalCotangents;
  for (const Floats &a : c.paramGradients)
    ok &= std::all_of(a.begin(), a.end(), [](float x) { return x == 0.0f; });
  report("abi", "T = 0: init gradient = final cotangent, params 0", ok,
         status ? "returned " + std::to_string(status) : "");
  if (!model.states.empty() && B > 0 && T >= 2)
    checkPieces(full);
}

/// Steps [begin, end) of arrays laid out [B, T, rest...].
Group timeSlice(const Group &arrays, int64_t B, int64_t T, int64_t begin, int64_t end) {
  Group slices;
  for (const Floats &array : arrays) {
    size_t rest = B * T == 0 ? 0 : array.size() / size_t(B * T);
    Floats slice;
    for (int64_t b = 0; b < B; ++b)
      slice.insert(slice.end(), array.begin() + (b * T + begin) * rest,
                   array.begin() + (b * T + end) * rest);
    slices.push_back(std::move(slice));
  }
  return slices;
}

/// The backward of [T1, T) then of [0, T1), the first given the second's
/// initial-state gradient as its final-state cotangent, equals one call.
void GradientChecks::checkPieces(const BackwardKernel::Call &full) {
  int64_t T1 = T / 3 + 1;
  BackwardKernel::Call first = freshCall(), second = freshCall();
  first.inputs = timeSlice(full.inputs, B, T, 0, T1);
  first.outputs = timeSlice(full.outputs, B, T, 0, T1);
  first.outputCotangents = timeSlice(full.outputCotangents, B, T, 0, T1);
  first.inputGradients = timeSlice(full.inputGradients, B, T, 0, T1);
  second.inputs = timeSlice(full.inputs, B, T, T1, T);
  second.outputs = timeSlice(full.outputs, B, T, T1, T);
  second.outputCotangents = timeSlice(full.outputCotangents, B, T, T1, T);
  second.inputGradients = timeSlice(full.inputGradients, B, T, T1, T);
  // The second piece starts where the first ends.
  BackwardKernel::Call probe = first;
  int status = kernel.run(B, T1, probe);
  second.inits = probe.finals;
  if (status == 0)
    status = kernel.run(B, T - T1, second);
  first.finalCotangents = second.initGradients;
  if (status == 0)
    status = kernel.run(B, T1, first);
  Group params = first.paramGradients;
  for (size_t i = 0; i < params.size(); ++i)
    for (size_t j = 0; j < params[i].size(); ++j)
      params[i][j] += second.paramGradients[i][j];
  double difference = relativeDifference(first.initGradients, full.initGradients) +
                      relativeDifference(params, full.paramGradients) +
                      relativeDifference(first.inputGradients,
                                         timeSlice(full.inputGradients, B, T, 0, T1)) +
                      relativeDifference(second.inputGradients,
                                         timeSlice(full.inputGradients, B, T, T1, T));
  report("abi",
         "two pieces (T = " + std::to_string(T1) + " + " + std::to_string(T - T1) +
             ") equal one call",
         status == 0 && difference <= limit / 10,
         status ? "returned " + std::to_string(status)
                : llvm::formatv("relative difference {0:e2}", difference).str());
}

} // namespace

int seqc::checkGradients(const Model &model, llvm::SourceMgr &sourceMgr,
                         const CompileOptions &compile, const RunOptions &run, double limit) {
  if (compile.target == TargetKind::Nvptx)
    return error("'seqc check --grad' runs the CPU kernels only for now (the nvptx target's "
                 "M_backward_cuda is built, but not yet checked on a GPU)");
  size_t arrays = model.inputs.size() + model.params.size() + model.states.size();
  if (2 * arrays + model.outputs.size() + model.states.size() + 1 > kMaxKernelArgs)
    return error("'seqc check --grad' handles at most " + llvm::Twine(kMaxKernelArgs) +
                 " arrays per call");
  CompileOptions options = compile;
  options.emit = EmitKind::Obj;
  options.backward = true;
  PhaseTimer timer(options.timePhases);
  mlir::FailureOr<CompiledOutput> object = compileModels({&model}, sourceMgr, options, timer);
  timer.print(llvm::errs());
  if (failed(object))
    return 1;
  llvm::Expected<std::unique_ptr<KernelLibrary>> library =
      KernelLibrary::load(model.name, object->bytes(), /*cuda=*/false);
  if (!library)
    return error(llvm::toString(library.takeError()));
  if (!object->noBackward.empty())
    return error("model '" + model.name + "' has no backward: " + object->noBackward);
  llvm::Expected<void *> tapeBytes = (*library)->lookup(model.name + "_tape_bytes");
  llvm::Expected<void *> forwardTape = (*library)->lookup(model.name + "_forward_tape");
  llvm::Expected<void *> backward = (*library)->lookup(model.name + "_backward");
  for (llvm::Expected<void *> *symbol : {&tapeBytes, &forwardTape, &backward})
    if (!*symbol)
      return error(llvm::toString(symbol->takeError()));
  if (compile.verbose)
    setenv("SEQC_VERBOSE", "1", /*overwrite=*/0);

  ModelData data = drawData(model, run.B, run.T, run.seed);
  // Initial states a little above their declared values: a declared 0 sits
  // on the kink of relu, max or abs, where the kernel's subgradient and the
  // central difference need not agree. Above, so that normalisers stay
  // positive.
  std::mt19937_64 rng(run.seed + 1);
  std::uniform_real_distribution<double> shift(0.05, 0.25);
  for (Array &init : data.initialStates)
    for (double &x : init.data)
      if (std::isfinite(x))
        x = double(float(x + shift(rng)));
  llvm::Expected<ModelResult> reference = interpret(model, data);
  if (!reference)
    return error(llvm::toString(reference.takeError()));
  BackwardKernel kernel{reinterpret_cast<int64_t (*)(int64_t, int64_t)>(*tapeBytes),
                        *forwardTape, *backward, model};
  llvm::outs() << "model " << model.name << ": gradients, form "
               << formName(compile.forms.form) << ", B=" << run.B << " T=" << run.T
               << " seed=" << run.seed << ", tape " << kernel.tapeBytes(run.B, run.T)
               << " bytes\n";
  bool pass = GradientChecks(kernel, data, *reference, limit, run.seed).run();
  llvm::outs() << "tolerance " << llvm::format("%.0e", limit) << "\n"
               << (pass ? "PASS" : "FAIL") << "\n";
  return pass ? 0 : 1;
}
