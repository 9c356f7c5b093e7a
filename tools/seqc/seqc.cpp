//===- seqc.cpp - The seqc driver -----------------------------------------===//
//
// `seqc FILE [options]` compiles; `seqc run FILE` interprets; `seqc check FILE`
// compares a compiled kernel with the interpreter (language.md section 5).
// The command line is parsed by hand rather than with llvm::cl so that --help
// lists only seqc's own options and a bad flag is exactly one line of error.
// Output is assembled in memory and written only when everything succeeded,
// so a failing run never leaves a partial file behind.
//
//===----------------------------------------------------------------------===//
#include "RecOps.h"
#include "seqc/Frontend/Diagnostics.h"
#include "seqc/Frontend/Interpreter.h"
#include "seqc/Frontend/MLIRGen.h"
#include "seqc/Frontend/Parser.h"
#include "seqc/Frontend/Sema.h"

#include "seqc/Target/CPUTarget.h"
#include "seqc/Target/GPUTarget.h"
#include "seqc/Target/Header.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/Program.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <dlfcn.h>
#include <optional>
#include <utility>

using namespace seqc;

namespace {

constexpr const char *kUsage = R"(seqc: compile .seq recurrence models into CPU and GPU kernels

USAGE
  seqc FILE.seq [options]                 compile
  seqc run FILE.seq [--model M] [--B n] [--T n] [--seed n] [-o DIR]
                                          evaluate with the float64 reference interpreter
  seqc check FILE.seq --model M [--form F] [--target T] [--B n] [--T n] [--seed n]
                                          compare the compiled kernel with the interpreter

COMPILE OPTIONS
  -o FILE            write the output here ('-' = stdout, the default for text)
  --model NAME       the model to compile (default: the only one, or all for files)
  --emit KIND        ast | rec | forms | lowered | llvm | asm | obj | ptx | header
  --target T         cpu (default) | nvptx
  --gpu-arch SM      sm_80 (default) | sm_86 | sm_89 | sm_90
  --form F           auto (default) | sequential | scan | chunk | newton
  --chunk-size N     chunk length of the chunkwise form (default 64)
  --newton-max-iters N  linear solves before the Newton form gives up and runs
                     the recurrence sequentially (default 10)
  --newton-tol X     the largest residual |h - f(h)| / (1 + |f(h)|) taken as
                     converged (default 1e-5)
  --newton-jacobian exact|diagonal
                     diagonal: only the Jacobian's diagonal (quasi-DEER):
                     cheaper iterations, slower convergence (default exact)
  --newton-guess step|zero
                     first guess: one step from the initial state at every t
                     (default), or zeros
  -DNAME=VALUE       override a dim's default (also -D NAME=VALUE)
  -O0 -O1 -O2 -O3    optimisation level (default -O3)
  -v                 say what the compiler decided, on stderr: the dims and
                     declarations it resolved and the form of every state;
                     with seqc check, also what the kernel decided at run
                     time (scan splits, Newton iterations)
  --help, --version

RUN OPTIONS
  --B n, --T n       batch size and sequence length (defaults 2 and 16)
  --seed n           seed of the test data drawn from the `~` annotations (default 0)
  -o DIR             also write every input, param, output and final state as
                     DIR/NAME.npy (final states as final_NAME.npy), float64

Implemented so far: the sequential, scan, Newton and chunk forms for the CPU
(--emit ast|rec|forms|lowered|llvm|asm|obj|header, `seqc run`, `seqc
check`) and for the GPU (--target nvptx: --emit ptx, the default; obj, asm,
llvm and lowered for the host side M_forward_cuda(stream, B, T, device
pointers...), which links with libseqc_cuda and -lcuda; header). `seqc
check --target nvptx` needs a GPU. The chunk form takes matrix states
updated by decayed outer products (linear attention, RetNet, Mamba-2, GLA,
mLSTM) or by the delta rule (DeltaNet, Gated DeltaNet), and attention whose
query, key and value read no state (tiled online softmax; a prefix scan for
a learned query); asking for it where it does not apply is an error that
says why, not a silent fallback. CPU kernels return 0, or 1 when
B < 0 or T < 0, 2 when B*T > 0 and an input, param or output is NULL, or 3
when the kernel cannot allocate its working memory (it never aborts);
SEQC_NUM_THREADS caps their threads. A scan splits over batch rows and
channel blocks, and over time only where the runtime's cost model, from the
streaming bandwidth it measures once per process, says that pays;
SEQC_SCAN_SPLIT=none|phases[:N]|chained[:N] forces a choice, SEQC_BANDWIDTH=
ONE,ALL (GB/s) skips the measurement, SEQC_VERBOSE=1 prints each choice,
each Newton solve's iterations, and each chunk-form fallback to the
sequential loop (a negative decay) (seqc check -v sets it).
Kernels keep freed buffers of 1 MiB or more for their next call, up to
SEQC_CACHE_MB (default 256; 0 keeps none). M_forward_cuda returns the same
codes, 3 when device memory runs out, and 4 when a CUDA driver call fails
(seqc_cuda_last_error() says which).
--form auto takes the scan where a state allows it, except where the scan's
coefficients would be broadcasts of smaller step data (Mamba's decay): those
stream over time, which reads less memory. For a nonlinear state with a
diagonal or block-diagonal Jacobian it compiles the Newton form too, and a
call runs it when T >= 4096 and there are at least 32 threads per batch row
(for the GPU: T >= 256 and 32 resident GPU threads per row; sequential
otherwise; a dense Jacobian stays sequential); -v says which. The Newton form
runs the recurrence sequentially when it has not converged. --form auto takes
the chunk form for attention, and on the CPU for the matrix states of a cell
whose other states are elementwise-affine: in chunks of the larger head axis
(a power of two from 16 to --chunk-size), for calls with T >= 8 chunks
(sequential otherwise).
`seqc check` also checks the ABI's behaviours (error codes,
T = 0, NULL initial and final states, two calls equal to one).
)";

/// Everything the command line says.
struct Options {
  enum Command { Compile, Run, Check } command = Compile;
  std::string input;
  std::string output; // empty: default
  std::string model;
  std::string emit;
  std::string target = "cpu";
  std::string gpuArch = "sm_80";
  std::string form = "auto";
  int64_t chunkSize = 64;
  int64_t newtonMaxIters = 10;
  double newtonTol = 1e-5;
  std::string newtonJacobian = "exact";
  std::string newtonGuess = "step";
  int optLevel = 3;
  bool verbose = false;
  int64_t B = 2, T = 16;
  uint64_t seed = 0;
  DimOverrides dims;
};

[[noreturn]] void usageError(const llvm::Twine &message) {
  llvm::errs() << "seqc: error: " << message << " (see 'seqc --help')\n";
  std::exit(1);
}

bool parseInt(llvm::StringRef text, int64_t &value, int64_t min, int64_t max) {
  long long v;
  if (text.getAsInteger(10, v) || v < min || v > max)
    return false;
  value = v;
  return true;
}

Options parseCommandLine(int argc, char **argv) {
  Options opts;
  std::vector<llvm::StringRef> args(argv + 1, argv + argc);
  size_t i = 0;
  if (!args.empty() && (args[0] == "run" || args[0] == "check")) {
    opts.command = args[0] == "run" ? Options::Run : Options::Check;
    ++i;
  }
  auto valueOf = [&](llvm::StringRef flag, llvm::StringRef &inlineValue) -> llvm::StringRef {
    if (!inlineValue.empty())
      return inlineValue;
    if (i + 1 >= args.size())
      usageError("flag '" + flag + "' needs a value");
    return args[++i];
  };
  auto oneOf = [](llvm::StringRef flag, llvm::StringRef value,
                  std::initializer_list<llvm::StringRef> allowed) {
    if (llvm::is_contained(allowed, value))
      return value.str();
    std::string list;
    for (llvm::StringRef a : allowed)
      list += (list.empty() ? "" : "|") + a.str();
    usageError("bad value '" + value + "' for " + flag + "; expected " + list);
  };
  for (; i < args.size(); ++i) {
    llvm::StringRef arg = args[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      llvm::outs() << kUsage;
      std::exit(0);
    }
    if (arg == "--version") {
      llvm::outs() << "seqc 0.1 (LLVM/MLIR " << LLVM_VERSION_STRING << ")\n";
      std::exit(0);
    }
    if (arg == "-v" || arg == "--verbose") {
      opts.verbose = true;
      continue;
    }
    if (arg.size() == 3 && arg.starts_with("-O") && arg[2] >= '0' && arg[2] <= '3') {
      opts.optLevel = arg[2] - '0';
      continue;
    }
    if (arg.starts_with("-D")) {
      llvm::StringRef def = arg.drop_front(2);
      if (def.empty()) {
        if (i + 1 >= args.size())
          usageError("flag '-D' needs NAME=VALUE");
        def = args[++i];
      }
      auto [name, value] = def.split('=');
      int64_t v;
      if (name.empty() || !def.contains('='))
        usageError("bad dim override '-D" + def + "'; expected -DNAME=VALUE");
      if (!parseInt(value, v, 1, 1000000000))
        usageError("bad dim override '-D" + def + "'; the value must be an integer >= 1");
      opts.dims[name.str()] = v;
      continue;
    }
    if (arg == "-" || !arg.starts_with("-")) {
      if (!opts.input.empty())
        usageError("more than one input file ('" + opts.input + "' and '" + arg + "')");
      opts.input = arg.str();
      continue;
    }
    // Flags with a value: `--flag value` or `--flag=value`.
    auto [flag, inlineValue] = arg.split('=');
    if (flag == "-o") {
      opts.output = valueOf(flag, inlineValue).str();
    } else if (flag == "--model") {
      opts.model = valueOf(flag, inlineValue).str();
    } else if (flag == "--emit" && opts.command == Options::Compile) {
      opts.emit = oneOf(flag, valueOf(flag, inlineValue),
                        {"ast", "rec", "forms", "lowered", "llvm", "asm", "obj", "ptx", "header"});
    } else if (flag == "--target" && opts.command != Options::Run) {
      opts.target = oneOf(flag, valueOf(flag, inlineValue), {"cpu", "nvptx"});
    } else if (flag == "--gpu-arch") {
      opts.gpuArch = oneOf(flag, valueOf(flag, inlineValue), {"sm_80", "sm_86", "sm_89", "sm_90"});
    } else if (flag == "--form" && opts.command != Options::Run) {
      opts.form = oneOf(flag, valueOf(flag, inlineValue),
                        {"auto", "sequential", "scan", "chunk", "newton"});
    } else if (flag == "--chunk-size" && opts.command != Options::Run) {
      llvm::StringRef v = valueOf(flag, inlineValue);
      if (!parseInt(v, opts.chunkSize, 1, 4096))
        usageError("bad value '" + v + "' for --chunk-size; expected an integer in 1..4096");
    } else if (flag == "--newton-max-iters" && opts.command != Options::Run) {
      llvm::StringRef v = valueOf(flag, inlineValue);
      if (!parseInt(v, opts.newtonMaxIters, 1, 1000000))
        usageError("bad value '" + v + "' for --newton-max-iters; expected an integer >= 1");
    } else if (flag == "--newton-tol" && opts.command != Options::Run) {
      llvm::StringRef v = valueOf(flag, inlineValue);
      if (v.getAsDouble(opts.newtonTol) || !(opts.newtonTol > 0) || !std::isfinite(opts.newtonTol))
        usageError("bad value '" + v + "' for --newton-tol; expected a positive number");
    } else if (flag == "--newton-jacobian" && opts.command != Options::Run) {
      opts.newtonJacobian = oneOf(flag, valueOf(flag, inlineValue), {"exact", "diagonal"});
    } else if (flag == "--newton-guess" && opts.command != Options::Run) {
      opts.newtonGuess = oneOf(flag, valueOf(flag, inlineValue), {"step", "zero"});
    } else if ((flag == "--B" || flag == "--T") && opts.command != Options::Compile) {
      llvm::StringRef v = valueOf(flag, inlineValue);
      if (!parseInt(v, flag == "--B" ? opts.B : opts.T, 0, 100000000))
        usageError("bad value '" + v + "' for " + flag + "; expected an integer >= 0");
    } else if (flag == "--seed" && opts.command != Options::Compile) {
      llvm::StringRef v = valueOf(flag, inlineValue);
      if (v.getAsInteger(10, opts.seed))
        usageError("bad value '" + v + "' for --seed; expected a non-negative integer");
    } else {
      const char *cmd = opts.command == Options::Run     ? "seqc run"
                        : opts.command == Options::Check ? "seqc check"
                                                         : "seqc";
      usageError("unknown flag '" + flag + "' for " + cmd);
    }
  }
  if (opts.input.empty())
    usageError("no input file");
  return opts;
}

/// Writes `text` to `path` ('-' or empty: stdout) only now, all at once.
bool writeOutput(const std::string &path, llvm::StringRef text) {
  if (path.empty() || path == "-") {
    llvm::outs() << text;
    return true;
  }
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    llvm::errs() << path << ": error: cannot write: " << ec.message() << "\n";
    return false;
  }
  out.os() << text;
  out.os().close();
  if (out.os().has_error()) {
    llvm::errs() << path << ": error: cannot write: " << out.os().error().message() << "\n";
    out.os().clear_error();
    return false;
  }
  out.keep();
  return true;
}

void printSummary(llvm::raw_ostream &os, llvm::StringRef kind, const Decl &decl,
                  const Array &array) {
  double sum = 0, maxAbs = 0;
  for (double x : array.data) {
    sum += x;
    maxAbs = std::max(maxAbs, std::fabs(x));
  }
  double mean = array.data.empty() ? 0.0 : sum / static_cast<double>(array.data.size());
  os << llvm::format("  %-6s %-12s %-22s mean % .6e  max|x| %.6e\n", kind.str().c_str(),
                     decl.name.c_str(), shapeToString(array.shape).c_str(), mean, maxAbs);
}

/// The -v report: what the front end resolved for one model.
void describeModel(const Model &model, llvm::raw_ostream &os) {
  os << "seqc: model " << model.name << ":";
  for (const DimDecl &d : model.dims)
    os << " " << d.name << "=" << d.value;
  os << "\n";
  static const char *roles[] = {"input", "param", "state", "output"};
  for (Decl::Role role : {Decl::Input, Decl::Param, Decl::State, Decl::Output})
    for (const Decl &d : model.decls(role))
      os << "seqc:   " << roles[role] << " " << d.name << " " << shapeToString(d.shape) << "\n";
  os << "seqc:   step: " << model.step.size() << " statements\n";
}

int runInterpreter(const Options &opts, const Model &model) {
  if (llvm::Error err = checkRunSize(model, opts.B, opts.T)) {
    llvm::errs() << opts.input << ": error: " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  ModelData data = drawData(model, opts.B, opts.T, opts.seed);
  llvm::Expected<ModelResult> result = interpret(model, data);
  if (!result) {
    llvm::errs() << opts.input << ": error: " << llvm::toString(result.takeError()) << "\n";
    return 1;
  }
  if (!opts.output.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(opts.output)) {
      llvm::errs() << opts.output << ": error: cannot create directory: " << ec.message() << "\n";
      return 1;
    }
    auto save = [&](llvm::StringRef name, const Array &a) {
      llvm::SmallString<128> path(opts.output);
      llvm::sys::path::append(path, name + ".npy");
      if (llvm::Error err = writeNpy(path, a)) {
        llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
        return false;
      }
      return true;
    };
    bool ok = true;
    for (size_t i = 0; i < model.inputs.size(); ++i)
      ok = ok && save(model.inputs[i].name, data.inputs[i]);
    for (size_t i = 0; i < model.params.size(); ++i)
      ok = ok && save(model.params[i].name, data.params[i]);
    for (size_t i = 0; i < model.outputs.size(); ++i)
      ok = ok && save(model.outputs[i].name, result->outputs[i]);
    for (size_t i = 0; i < model.states.size(); ++i)
      ok = ok && save("final_" + model.states[i].name, result->finalStates[i]);
    if (!ok)
      return 1;
  }
  llvm::raw_ostream &os = llvm::outs();
  os << "model " << model.name << ": B=" << opts.B << " T=" << opts.T << " seed=" << opts.seed
     << " (float64 reference interpreter)\n";
  for (size_t i = 0; i < model.outputs.size(); ++i)
    printSummary(os, "output", model.outputs[i], result->outputs[i]);
  for (size_t i = 0; i < model.states.size(); ++i)
    printSummary(os, "final", model.states[i], result->finalStates[i]);
  return 0;
}

/// A context that knows every dialect and interface the pipeline touches.
void prepareContext(mlir::MLIRContext &context) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  registry.insert<mlir::rec::RecDialect>();
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
  // A diagnostic points at the model's source; a dump of the IR it was
  // emitted on (MLIR's default) means nothing to the model's author.
  context.printOpOnDiagnostic(false);
}

Form formOf(const std::string &name) {
  return llvm::StringSwitch<Form>(name)
      .Case("sequential", Form::Sequential)
      .Case("scan", Form::Scan)
      .Case("chunk", Form::Chunk)
      .Case("newton", Form::Newton)
      .Default(Form::Auto);
}

FormOptions formOptionsOf(const Options &opts) {
  FormOptions options;
  options.form = formOf(opts.form);
  options.newtonMaxIters = opts.newtonMaxIters;
  options.newtonTol = opts.newtonTol;
  options.newtonQuasi = opts.newtonJacobian == "diagonal";
  options.newtonGuess = opts.newtonGuess;
  options.chunkSize = opts.chunkSize;
  options.gpu = opts.target == "nvptx";
  return options;
}

void printForms(const std::vector<FormReport> &report, llvm::raw_ostream &os,
                llvm::StringRef prefix) {
  for (const FormReport &entry : report) {
    os << prefix << "model " << entry.model << ": state " << entry.state << ": " << entry.form;
    if (!entry.why.empty())
      os << " (" << entry.why << ")";
    os << "\n";
  }
}

/// Compiled output of one run of the pipeline, in memory.
struct Compiled {
  std::string text;
  llvm::SmallVector<char, 0> binary;
  bool isBinary = false;
};

/// Runs the compiler from the checked models to `emit`. Diagnostics go to
/// stderr; returns false on any error.
bool runCompiler(const Options &opts, const std::vector<const Model *> &models,
                 llvm::SourceMgr &sourceMgr, const std::string &emit, Compiled &result) {
  mlir::MLIRContext context;
  prepareContext(context);
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  mlir::OwningOpRef<mlir::ModuleOp> ir = mlirGen(context, models, sourceMgr, opts.input);
  if (mlir::failed(mlir::verify(*ir))) {
    llvm::errs() << opts.input << ": error: internal error: the generated rec IR does not "
                                  "verify (please report this with the model)\n";
    return false;
  }
  llvm::raw_string_ostream os(result.text);
  if (emit == "rec") {
    ir->print(os);
    return true;
  }
  bool cuda = opts.target == "nvptx";
  if (emit == "header") {
    emitHeader(*ir, llvm::sys::path::stem(opts.input),
               cuda ? HeaderKind::CudaKernels : HeaderKind::CpuKernels, os);
    return true;
  }
  std::vector<FormReport> report;
  std::string error;
  if (mlir::failed(applyForms(*ir, formOptionsOf(opts), report, error))) {
    if (!error.empty())
      llvm::errs() << "seqc: error: " << error << "\n";
    return false;
  }
  if (opts.verbose)
    printForms(report, llvm::errs(), "seqc: ");
  if (emit == "forms") {
    printForms(report, os, "// ");
    ir->print(os);
    return true;
  }
  std::string ptx;
  if (cuda ? mlir::failed(lowerToGPU(*ir, opts.gpuArch, opts.optLevel, ptx, error))
           : mlir::failed(lowerToLLVMDialect(*ir))) {
    if (!error.empty())
      llvm::errs() << "seqc: error: " << error << "\n";
    llvm::errs() << opts.input << ": error: internal error: lowering failed (please report "
                                  "this with the model)\n";
    return false;
  }
  if (emit == "ptx") {
    os << ptx;
    return true;
  }
  if (emit == "lowered") {
    ir->print(os);
    return true;
  }
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> module =
      translateToLLVMIR(*ir, llvmContext, opts.optLevel, error,
                        cuda ? HostCode::CudaLauncher : HostCode::CpuKernel);
  if (!module) {
    llvm::errs() << "seqc: error: " << error << "\n";
    return false;
  }
  if (emit == "llvm") {
    module->print(os, nullptr);
    return true;
  }
  llvm::raw_svector_ostream binary(result.binary);
  result.isBinary = emit == "obj";
  if (!emitMachineCode(*module, binary, emit == "asm", opts.optLevel, error)) {
    llvm::errs() << "seqc: error: " << error << "\n";
    return false;
  }
  if (!result.isBinary)
    result.text.assign(result.binary.begin(), result.binary.end());
  return true;
}

int compile(const Options &opts, const std::vector<const Model *> &models,
            llvm::SourceMgr &sourceMgr) {
  std::string emit = opts.emit.empty() ? (opts.target == "nvptx" ? "ptx" : "obj") : opts.emit;
  if (emit == "ast") {
    std::string text;
    llvm::raw_string_ostream os(text);
    printModels(models, os);
    return writeOutput(opts.output, text) ? 0 : 1;
  }
  if (emit == "ptx" && opts.target != "nvptx") {
    llvm::errs() << "seqc: error: --emit ptx needs --target nvptx\n";
    return 1;
  }
  Compiled result;
  if (!runCompiler(opts, models, sourceMgr, emit, result))
    return 1;
  if (!result.isBinary)
    return writeOutput(opts.output, result.text) ? 0 : 1;
  // An object file never goes to a terminal: by default FILE.o beside the cwd.
  std::string path = opts.output;
  if (path.empty())
    path = (llvm::sys::path::stem(opts.input) + ".o").str();
  return writeOutput(path, llvm::StringRef(result.binary.data(), result.binary.size())) ? 0 : 1;
}

//===----------------------------------------------------------------------===//
// seqc check
//===----------------------------------------------------------------------===//

template <size_t... I>
int callKernel(void *symbol, int64_t B, int64_t T, void **args, std::index_sequence<I...>) {
  using Kernel = int (*)(int64_t, int64_t, decltype((void)I, static_cast<void *>(nullptr))...);
  return reinterpret_cast<Kernel>(symbol)(B, T, args[I]...);
}

/// M_forward_cuda(stream, B, T, device pointers...); a CUdeviceptr travels
/// like a pointer in the C ABI of the platforms CUDA runs on.
template <size_t... I>
int callCudaKernel(void *symbol, int64_t B, int64_t T, void **args, std::index_sequence<I...>) {
  using Kernel =
      int (*)(void *, int64_t, int64_t, decltype((void)I, static_cast<void *>(nullptr))...);
  return reinterpret_cast<Kernel>(symbol)(nullptr, B, T, args[I]...);
}

/// Calls M_forward(B, T, args[0..n)) (or M_forward_cuda on the default
/// stream) with exactly n pointer arguments.
template <size_t N>
int dispatchKernel(void *symbol, bool cuda, int64_t B, int64_t T, void **args, size_t n) {
  if (n == N)
    return cuda ? callCudaKernel(symbol, B, T, args, std::make_index_sequence<N>{})
                : callKernel(symbol, B, T, args, std::make_index_sequence<N>{});
  if constexpr (N > 0)
    return dispatchKernel<N - 1>(symbol, cuda, B, T, args, n);
  return -1;
}

/// The few CUDA driver functions `seqc check --target nvptx` needs, from
/// libcuda.so.1 at run time: seqc itself must start on machines without a
/// GPU.
struct CudaDriver {
  using Ptr = unsigned long long;
  int (*init)(unsigned);
  int (*deviceGet)(int *, int);
  int (*primaryCtxRetain)(void **, int);
  int (*ctxSetCurrent)(void *);
  int (*memAlloc)(Ptr *, size_t);
  int (*memFree)(Ptr);
  int (*memcpyHtoD)(Ptr, const void *, size_t);
  int (*memcpyDtoH)(void *, Ptr, size_t);
  int (*ctxSynchronize)();

  /// Loads the driver and makes device 0's primary context current; on
  /// failure says why in `error`.
  bool load(std::string &error) {
    void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (!library) {
      error = "cannot load the CUDA driver (libcuda.so.1); --target nvptx runs need a GPU";
      return false;
    }
    auto get = [&](auto &slot, const char *name) {
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(dlsym(library, name));
      return slot != nullptr;
    };
    if (!get(init, "cuInit") || !get(deviceGet, "cuDeviceGet") ||
        !get(primaryCtxRetain, "cuDevicePrimaryCtxRetain") ||
        !get(ctxSetCurrent, "cuCtxSetCurrent") || !get(memAlloc, "cuMemAlloc_v2") ||
        !get(memFree, "cuMemFree_v2") || !get(memcpyHtoD, "cuMemcpyHtoD_v2") ||
        !get(memcpyDtoH, "cuMemcpyDtoH_v2") || !get(ctxSynchronize, "cuCtxSynchronize")) {
      error = "the CUDA driver lacks a function seqc needs";
      return false;
    }
    int device = 0;
    void *context = nullptr;
    if (init(0) != 0 || deviceGet(&device, 0) != 0 || primaryCtxRetain(&context, device) != 0 ||
        ctxSetCurrent(context) != 0) {
      error = "no usable CUDA device (cuInit or the primary context failed)";
      return false;
    }
    return true;
  }
};
constexpr size_t kMaxKernelArgs = 64;

double tolerance(const std::string &form) { return form == "chunk" || form == "newton" ? 1e-3 : 1e-4; }

/// The f32 arrays of one kernel call, by ABI role. An empty vector is passed
/// as NULL.
struct KernelBuffers {
  std::vector<std::vector<float>> inputs, params, inits, outputs, finals;

  /// Inputs, params and initial states from `data`; outputs and final states
  /// shaped like `result` and filled with NaN, so that anything the kernel
  /// fails to write shows up as an error.
  static KernelBuffers fromData(const ModelData &data, const ModelResult &result) {
    auto toFloat = [](const Array &a) { return std::vector<float>(a.data.begin(), a.data.end()); };
    auto nans = [](const Array &a) { return std::vector<float>(a.data.size(), std::nanf("")); };
    KernelBuffers b;
    for (const Array &a : data.inputs)
      b.inputs.push_back(toFloat(a));
    for (const Array &a : data.params)
      b.params.push_back(toFloat(a));
    for (const Array &a : data.initialStates)
      b.inits.push_back(toFloat(a));
    for (const Array &a : result.outputs)
      b.outputs.push_back(nans(a));
    for (const Array &a : result.finalStates)
      b.finals.push_back(nans(a));
    return b;
  }
};

/// Calls a loaded M_forward with the pointers of a KernelBuffers; with a
/// CUDA driver, M_forward_cuda on device copies of them (every array is
/// uploaded, outputs too, so that what the kernel leaves alone stays as it
/// was), then waits and downloads the outputs and final states.
struct KernelCaller {
  void *symbol;
  const Model &model;
  const CudaDriver *cuda = nullptr;

  int call(int64_t B, int64_t T, KernelBuffers &buffers) const {
    auto groups = {&buffers.inputs, &buffers.params, &buffers.inits, &buffers.outputs,
                   &buffers.finals};
    std::vector<void *> args;
    if (!cuda) {
      for (auto *group : groups)
        for (std::vector<float> &array : *group)
          args.push_back(array.empty() ? nullptr : array.data());
      return dispatchKernel<kMaxKernelArgs>(symbol, false, B, T, args.data(), args.size());
    }
    std::vector<std::pair<CudaDriver::Ptr, std::vector<float> *>> device;
    for (auto *group : groups)
      for (std::vector<float> &array : *group) {
        CudaDriver::Ptr pointer = 0;
        if (!array.empty() &&
            (cuda->memAlloc(&pointer, array.size() * 4) != 0 ||
             cuda->memcpyHtoD(pointer, array.data(), array.size() * 4) != 0))
          return -1;
        device.push_back({pointer, &array});
        args.push_back(reinterpret_cast<void *>(pointer));
      }
    int status = dispatchKernel<kMaxKernelArgs>(symbol, true, B, T, args.data(), args.size());
    if (cuda->ctxSynchronize() != 0)
      status = status ? status : -1;
    for (auto [pointer, array] : device)
      if (pointer) {
        cuda->memcpyDtoH(array->data(), pointer, array->size() * 4);
        cuda->memFree(pointer);
      }
    return status;
  }
};

/// Compares every output and final state of `actual` (skipping NULL ones)
/// with the reference: max abs error / (1 + max |reference|) within `limit`,
/// NaN counting as infinitely wrong. Prints one line per array when `verbose`.
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
/// kernel: error codes, T = 0, NULL initial and final states, and a sequence
/// processed in two calls. `full` holds the inputs and results of the normal
/// call.
bool checkABI(const KernelCaller &kernel, const Options &opts, const ModelData &data,
              const ModelResult &reference, const KernelBuffers &full, double limit) {
  const Model &model = kernel.model;
  int64_t B = opts.B, T = opts.T;
  bool pass = true;
  auto report = [&](const std::string &what, bool ok, const std::string &detail) {
    pass &= ok;
    llvm::outs() << llvm::format("  abi    %-46s %s", what.c_str(), ok ? "ok" : "FAILED");
    if (!ok)
      llvm::outs() << " (" << detail << ")";
    llvm::outs() << "\n";
  };
  auto why = [](int status) {
    return status ? "returned " + std::to_string(status) : std::string("results differ");
  };
  auto fresh = [&] { return KernelBuffers::fromData(data, reference); };

  {
    KernelBuffers b = fresh();
    int status = kernel.call(-1, T, b);
    report("B < 0 returns 1", status == 1, "returned " + std::to_string(status));
    status = kernel.call(B, -1, b);
    report("T < 0 returns 1", status == 1, "returned " + std::to_string(status));
  }
  if (B * T > 0) {
    KernelBuffers b = fresh();
    bool input = !b.inputs.empty();
    (input ? b.inputs : b.outputs).front().clear();
    int status = kernel.call(B, T, b);
    report(input ? "NULL input returns 2" : "NULL output returns 2", status == 2,
           "returned " + std::to_string(status));
  }
  {
    // T = 0 writes the final states (equal to the initial ones) and nothing
    // else. Start from non-trivial states: the finals of the full call.
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
  if (!model.states.empty()) {
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
  if (!model.states.empty() && B > 0 && T >= 2) {
    bool attention = false;
    for (const Stmt &s : model.step)
      attention |= usesAttention(*s.value);
    if (attention) {
      llvm::outs() << "  abi    two calls: skipped (attention's history is not an ABI state)\n";
    } else {
      // Steps [0, T1) then [T1, T), the second call starting from the first's
      // final states, must give what one call gives.
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
        for (int64_t bb = 0; bb < B; ++bb) {
          std::copy_n(first.outputs[i].begin() + bb * T1 * rest, T1 * rest,
                      out.begin() + bb * T * rest);
          std::copy_n(second.outputs[i].begin() + bb * (T - T1) * rest, (T - T1) * rest,
                      out.begin() + (bb * T + T1) * rest);
        }
      }
      report("two calls (T = " + std::to_string(T1) + " + " + std::to_string(T - T1) +
                 ") equal one call",
             status == 0 && compareWithReference(model, joined, reference, limit, false),
             why(status));
    }
  }
  return pass;
}

int checkKernel(const Options &opts, const Model &model, llvm::SourceMgr &sourceMgr) {
  if (llvm::Error err = checkRunSize(model, opts.B, opts.T)) {
    llvm::errs() << "seqc: error: " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  bool cuda = opts.target == "nvptx";
  CudaDriver driver;
  std::string driverError;
  if (cuda && !driver.load(driverError)) {
    llvm::errs() << "seqc: error: " << driverError << "\n";
    return 1;
  }
  Compiled object;
  if (!runCompiler(opts, {&model}, sourceMgr, "obj", object))
    return 1;
  // -v also shows what the kernel decides at run time (how a scan splits,
  // how many iterations the Newton form took): the runtime reads this.
  if (opts.verbose)
    setenv("SEQC_VERBOSE", "1", /*overwrite=*/0);

  // Link a temporary shared library, as a user would: cc -shared M.o.
  llvm::SmallString<128> dir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("seqc-check", dir)) {
    llvm::errs() << "seqc: error: cannot create a temporary directory: " << ec.message() << "\n";
    return 1;
  }
  std::string objectPath = (dir + "/" + model.name + ".o").str();
  std::string libraryPath = (dir + "/lib" + model.name + ".so").str();
  auto cleanup = llvm::scope_exit([&] {
    llvm::sys::fs::remove(objectPath);
    llvm::sys::fs::remove(libraryPath);
    llvm::sys::fs::remove(dir);
  });
  if (!writeOutput(objectPath, llvm::StringRef(object.binary.data(), object.binary.size())))
    return 1;
  llvm::ErrorOr<std::string> cc = llvm::sys::findProgramByName("cc");
  if (!cc)
    cc = llvm::sys::findProgramByName("clang-" + std::to_string(LLVM_VERSION_MAJOR));
  if (!cc) {
    llvm::errs() << "seqc: error: 'seqc check' needs a C compiler ('cc') to link the kernel\n";
    return 1;
  }
  std::string linkError;
  std::vector<llvm::StringRef> linkArgs = {*cc, "-shared", objectPath, "-o", libraryPath};
  // The launcher library sits in lib/ beside the seqc binary's bin/.
  std::string launcherDir, rpath;
  if (cuda) {
    llvm::SmallString<256> dir(llvm::sys::path::parent_path(
        llvm::sys::fs::getMainExecutable(nullptr, reinterpret_cast<void *>(&checkKernel))));
    llvm::sys::path::append(dir, "..", "lib");
    launcherDir = "-L" + dir.str().str();
    rpath = "-Wl,-rpath," + dir.str().str();
    linkArgs.insert(linkArgs.end(), {launcherDir, rpath, "-lseqc_cuda"});
  }
  linkArgs.insert(linkArgs.end(), {"-lm", "-lpthread"});
  int linkStatus =
      llvm::sys::ExecuteAndWait(*cc, linkArgs, std::nullopt, {}, 0, 0, &linkError);
  if (linkStatus != 0) {
    llvm::errs() << "seqc: error: linking the kernel failed" << (linkError.empty() ? "" : ": ")
                 << linkError << "\n";
    return 1;
  }
  void *library = dlopen(libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    llvm::errs() << "seqc: error: cannot load the kernel: " << dlerror() << "\n";
    return 1;
  }
  auto unload = llvm::scope_exit([&] { dlclose(library); });
  std::string entry = model.name + (cuda ? "_forward_cuda" : "_forward");
  void *symbol = dlsym(library, entry.c_str());
  if (!symbol) {
    llvm::errs() << "seqc: error: the kernel has no symbol " << entry << "\n";
    return 1;
  }

  ModelData data = drawData(model, opts.B, opts.T, opts.seed);
  llvm::Expected<ModelResult> reference = interpret(model, data);
  if (!reference) {
    llvm::errs() << "seqc: error: " << llvm::toString(reference.takeError()) << "\n";
    return 1;
  }
  if (model.inputs.size() + model.params.size() + 2 * model.states.size() +
          model.outputs.size() >
      kMaxKernelArgs) {
    llvm::errs() << "seqc: error: 'seqc check' handles at most " << kMaxKernelArgs
                 << " arrays per model\n";
    return 1;
  }
  KernelCaller kernel{symbol, model, cuda ? &driver : nullptr};
  KernelBuffers full = KernelBuffers::fromData(data, *reference);
  int status = kernel.call(opts.B, opts.T, full);
  llvm::outs() << "model " << model.name << ": form " << opts.form
               << (cuda ? ", target nvptx (" + opts.gpuArch + ")" : std::string()) << ", B=" << opts.B
               << " T=" << opts.T << " seed=" << opts.seed << "\n";
  if (status != 0) {
    llvm::outs() << "kernel returned " << status << "\nFAIL\n";
    return 1;
  }
  double limit = tolerance(opts.form);
  bool pass = compareWithReference(model, full, *reference, limit, /*verbose=*/true);
  pass &= checkABI(kernel, opts, data, *reference, full, limit);
  llvm::outs() << "tolerance " << llvm::format("%.0e", limit) << "\n"
               << (pass ? "PASS" : "FAIL") << "\n";
  return pass ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  Options opts = parseCommandLine(argc, argv);

  auto fileOrErr = llvm::MemoryBuffer::getFileOrSTDIN(opts.input, /*IsText=*/true);
  if (std::error_code ec = fileOrErr.getError()) {
    llvm::errs() << opts.input << ": error: cannot read file: " << ec.message() << "\n";
    return 1;
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*fileOrErr), llvm::SMLoc());
  Diagnostics diags(sourceMgr);

  Module module = parseModule(diags);
  checkModule(module, diags, opts.dims);
  // A -D that names no dim of any model is a typo the user wants to hear about.
  for (auto &[name, value] : opts.dims) {
    bool found = false;
    for (const Model &m : module.models)
      for (const DimDecl &d : m.dims)
        found |= d.name == name;
    if (!found && !diags.hadError()) {
      llvm::errs() << opts.input << ": error: -D" << name << "=" << value
                   << ": no model in this file has a dim named '" << name << "'\n";
      return 1;
    }
  }
  if (diags.hadError()) {
    if (diags.errorCount() > Diagnostics::maxErrors)
      llvm::errs() << opts.input << ": " << diags.errorCount() - Diagnostics::maxErrors
                   << " more errors not shown\n";
    return 1;
  }
  if (module.models.empty()) {
    llvm::errs() << opts.input << ":1:1: error: the file defines no model\n";
    return 1;
  }

  // Which models?
  std::vector<const Model *> models;
  if (!opts.model.empty()) {
    const Model *m = module.lookup(opts.model);
    if (!m) {
      std::string names;
      for (const Model &mm : module.models)
        names += (names.empty() ? "" : ", ") + mm.name;
      llvm::errs() << opts.input << ": error: no model named '" << opts.model
                   << "'; the file defines: " << names << "\n";
      return 1;
    }
    models.push_back(m);
  } else if (module.models.size() == 1 || opts.command == Options::Compile) {
    for (const Model &m : module.models)
      models.push_back(&m);
  } else {
    llvm::errs() << opts.input << ": error: the file defines " << module.models.size()
                 << " models; choose one with --model\n";
    return 1;
  }

  if (opts.verbose)
    for (const Model *m : models)
      describeModel(*m, llvm::errs());
  if (opts.command == Options::Run)
    return runInterpreter(opts, *models[0]);
  if (opts.command == Options::Check)
    return checkKernel(opts, *models[0], sourceMgr);
  return compile(opts, models, sourceMgr);
}
