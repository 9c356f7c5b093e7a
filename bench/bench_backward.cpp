//===- bench_backward.cpp - Forward and backward of the same model --------===//
//
// `make bench`'s gradient figures: for each (example, form, B, T) on the
// command line, the model is compiled as `seqc --form F` would, linked and
// loaded (the seqc check harness), and M_forward, M_forward_tape and
// M_backward (with the tape) are timed in one run, interleaved; the ratio
// backward / forward is the measure. Generic over models: the
// arrays come from the interpreter's test-data drawing and are passed by
// the check harness's variadic call.
//
//===----------------------------------------------------------------------===//
#include "bench_util.h"

#include "seqc/Check/KernelCall.h"
#include "seqc/Check/KernelLibrary.h"
#include "seqc/Compiler/Compiler.h"
#include "seqc/Frontend/Diagnostics.h"
#include "seqc/Frontend/Interpreter.h"
#include "seqc/Frontend/Parser.h"
#include "seqc/Frontend/Sema.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

using namespace seqc;

namespace {

using Group = std::vector<std::vector<float>>;

Group arrays(const std::vector<Array> &from) {
  Group group;
  for (const Array &a : from)
    group.emplace_back(a.data.begin(), a.data.end());
  return group;
}

/// Arrays of `count` elements per row of `perRow` each ([B, T, ...] or
/// [B, ...] shapes of a model's declarations).
Group zeros(const std::vector<Decl> &decls, int64_t rows) {
  Group group;
  for (const Decl &d : decls) {
    int64_t n = rows;
    for (int64_t e : d.shape)
      n *= e;
    group.emplace_back(size_t(n), 0.0f);
  }
  return group;
}

void append(std::vector<void *> &pointers, Group &group) {
  for (auto &a : group)
    pointers.push_back(a.data());
}

int benchOne(const std::string &path, const std::string &form, int64_t B, int64_t T) {
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!file) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  Diagnostics diags(sourceMgr);
  Module module = parseModule(diags);
  if (!checkModule(module, diags, {}) || module.models.empty())
    return 1;
  const Model &model = module.models.front();
  CompileOptions options;
  options.inputName = path;
  options.forms.form = *parseEnum(kFormNames, form);
  PhaseTimer timer(false);
  mlir::FailureOr<CompiledOutput> object = compileModels({&model}, sourceMgr, options, timer);
  if (failed(object))
    return 1;
  auto library = KernelLibrary::load(model.name, object->bytes(), /*cuda=*/false);
  if (!library) {
    std::fprintf(stderr, "%s\n", llvm::toString(library.takeError()).c_str());
    return 1;
  }
  auto symbol = [&](const std::string &suffix) -> void * {
    auto address = (*library)->lookup(model.name + suffix);
    if (!address) {
      std::fprintf(stderr, "%s\n", llvm::toString(address.takeError()).c_str());
      std::exit(1);
    }
    return *address;
  };
  void *forward = symbol("_forward"), *forwardTape = symbol("_forward_tape"),
       *backward = symbol("_backward");
  auto tapeBytes = reinterpret_cast<int64_t (*)(int64_t, int64_t)>(symbol("_tape_bytes"));

  ModelData data = drawData(model, B, T, /*seed=*/1);
  Group inputs = arrays(data.inputs), params = arrays(data.params),
        inits = arrays(data.initialStates);
  Group outputs = zeros(model.outputs, B * T), finals = zeros(model.states, B);
  Group outputCotangents = outputs, finalCotangents = finals;
  for (auto &a : outputCotangents)
    bench::fill(a, -1, 1, 7);
  for (auto &a : finalCotangents)
    bench::fill(a, -1, 1, 8);
  Group inputGradients = inputs, paramGradients = params, initGradients = inits;
  std::vector<char> tape(size_t(std::max<int64_t>(tapeBytes(B, T), 1)));

  std::vector<void *> forwardArgs;
  for (Group *g : {&inputs, &params, &inits, &outputs, &finals})
    append(forwardArgs, *g);
  std::vector<void *> tapeArgs = forwardArgs;
  tapeArgs.push_back(tape.data());
  std::vector<void *> backwardArgs;
  for (Group *g : {&inputs, &params, &inits})
    append(backwardArgs, *g);
  backwardArgs.push_back(tape.data());
  for (Group *g : {&outputCotangents, &finalCotangents, &inputGradients, &paramGradients,
                   &initGradients})
    append(backwardArgs, *g);

  std::vector<bench::Variant> variants;
  variants.emplace_back("forward", [&] {
    bench::check(callEntryPoint(forward, false, B, T, forwardArgs), "M_forward");
  });
  variants.emplace_back("forward_tape", [&] {
    bench::check(callEntryPoint(forwardTape, false, B, T, tapeArgs), "M_forward_tape");
  });
  variants.emplace_back("backward", [&] {
    bench::check(callEntryPoint(backward, false, B, T, backwardArgs), "M_backward");
  });
  bench::timeAll(variants);
  double f = variants[0].median(), ft = variants[1].median(), bw = variants[2].median();
  int64_t stateFloats = 0;
  for (const Decl &d : model.states) {
    int64_t n = 1;
    for (int64_t e : d.shape)
      n *= e;
    stateFloats += n;
  }
  std::printf("| %s | %s | %lld x %lld | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f |\n",
              model.name.c_str(), form.c_str(), (long long)B, (long long)T, f * 1e3, ft * 1e3,
              bw * 1e3, bw / f, tapeBytes(B, T) / 1048576.0,
              double(B) * T * stateFloats * 4 / 1048576.0);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::printf("### Backward (M_backward with the tape) against the forward, same form\n\n"
              "Median of %d interleaved rounds, all cores. The scan form's adjoint is a "
              "reverse scan; the chunked, Newton and sequential forms' adjoints run "
              "sequentially over time.\n\n",
              bench::rounds());
  std::printf("| model | form | B x T | forward ms | forward_tape ms | backward ms | "
              "backward / forward | tape MiB | B·T·state MiB |\n");
  std::printf("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  // Arguments: FILE FORM B T, repeated.
  for (int i = 1; i + 3 < argc; i += 4)
    if (benchOne(argv[i], argv[i + 1], std::atoll(argv[i + 2]), std::atoll(argv[i + 3])))
      return 1;
  return 0;
}
