//===- seqc.cpp - The seqc driver -----------------------------------------===//
//
// `seqc FILE [options]` compiles; `seqc run FILE` interprets; `seqc check
// FILE` compares a compiled kernel with the interpreter (language.md section
// 5). The driver parses the command line into the compiler library's typed
// options, runs the front end, and hands the checked models to the library
// (seqc/Compiler/Compiler.h, seqc/Check/KernelCheck.h). The command line is
// parsed by hand rather than with llvm::cl so that --help lists only seqc's
// own options and a bad flag is exactly one line of error. Output is written
// only when everything succeeded, so a failing run never leaves a partial
// file behind.
//
//===----------------------------------------------------------------------===//
#include "seqc/Check/GradientCheck.h"
#include "seqc/Check/KernelCheck.h"
#include "seqc/Compiler/Compiler.h"
#include "seqc/Frontend/Diagnostics.h"
#include "seqc/Frontend/Parser.h"
#include "seqc/Frontend/Sema.h"
#include "seqc/Target/GPUTarget.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdlib>

using namespace seqc;

namespace {

#include "Usage.inc"

/// Everything the command line says.
struct DriverOptions {
  enum Command { Compile, Run, Check } command = Compile;
  std::string input;
  std::string output; // empty: the default for the emit kind
  std::string model;
  bool emitGiven = false;
  DimOverrides dims;
  CompileOptions compile;
  RunOptions run;
  /// seqc check --grad: the backward entry points instead of the forward.
  bool checkGradients = false;
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

/// The flags of one command line, in order.
class CommandLineParser {
public:
  CommandLineParser(int argc, char **argv) : args(argv + 1, argv + argc) {}

  DriverOptions parse() {
    if (!args.empty() && (args[0] == "run" || args[0] == "check")) {
      opts.command = args[0] == "run" ? DriverOptions::Run : DriverOptions::Check;
      ++i;
    }
    for (; i < args.size(); ++i) {
      llvm::StringRef arg = args[i];
      if (parseSwitch(arg))
        continue;
      if (arg == "-" || !arg.starts_with("-")) {
        if (!opts.input.empty())
          usageError("more than one input file ('" + opts.input + "' and '" + arg + "')");
        opts.input = arg.str();
        continue;
      }
      // Flags with a value: `--flag value` or `--flag=value`.
      auto [flag, inlineValue] = arg.split('=');
      if (!parseValueFlag(flag, inlineValue))
        usageError("unknown flag '" + flag + "' for " + commandName());
    }
    if (opts.input.empty())
      usageError("no input file");
    opts.compile.target = opts.compile.forms.target;
    if (const char *verify = std::getenv("SEQC_VERIFY_EACH"))
      opts.compile.verifyEachPass |= *verify && *verify != '0';
    opts.compile.inputName = opts.input;
    return opts;
  }

private:
  llvm::StringRef commandName() const {
    return opts.command == DriverOptions::Run     ? "seqc run"
           : opts.command == DriverOptions::Check ? "seqc check"
                                                  : "seqc";
  }

  /// Flags without a value: --help, --version, -v, -On, -D.
  bool parseSwitch(llvm::StringRef arg) {
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      llvm::outs() << kUsage;
      std::exit(0);
    }
    if (arg == "--version") {
      llvm::outs() << "seqc 0.1 (LLVM/MLIR " << LLVM_VERSION_STRING << ")\n";
      std::exit(0);
    }
    if (arg == "-v" || arg == "--verbose") {
      opts.compile.verbose = opts.compile.timePhases = true;
      return true;
    }
    if (arg == "--time-phases" && opts.command != DriverOptions::Run) {
      opts.compile.timePhases = true;
      return true;
    }
    if (arg == "--grad" && opts.command == DriverOptions::Check) {
      opts.checkGradients = true;
      return true;
    }
    if (arg == "--no-backward" && opts.command == DriverOptions::Compile) {
      opts.compile.backward = false;
      return true;
    }
    if (arg == "--verify-each" && opts.command != DriverOptions::Run) {
      opts.compile.verifyEachPass = true;
      return true;
    }
    if (arg.size() == 3 && arg.starts_with("-O") && arg[2] >= '0' && arg[2] <= '3') {
      opts.compile.optLevel = arg[2] - '0';
      return true;
    }
    if (!arg.starts_with("-D"))
      return false;
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
    return true;
  }

  llvm::StringRef valueOf(llvm::StringRef flag, llvm::StringRef inlineValue) {
    if (!inlineValue.empty())
      return inlineValue;
    if (i + 1 >= args.size())
      usageError("flag '" + flag + "' needs a value");
    return args[++i];
  }

  template <typename Enum, size_t N>
  Enum oneOf(llvm::StringRef flag, llvm::StringRef value, const EnumName<Enum> (&table)[N]) {
    if (std::optional<Enum> parsed = parseEnum(table, value))
      return *parsed;
    usageError("bad value '" + value + "' for " + flag + "; expected " + enumNames(table));
  }

  void integer(llvm::StringRef flag, llvm::StringRef value, int64_t &out, int64_t min,
               int64_t max, llvm::StringRef expected) {
    if (!parseInt(value, out, min, max))
      usageError("bad value '" + value + "' for " + flag + "; expected " + expected);
  }

  /// Returns false for a flag the command does not take.
  bool parseValueFlag(llvm::StringRef flag, llvm::StringRef inlineValue) {
    bool compiles = opts.command != DriverOptions::Run;
    bool runs = opts.command != DriverOptions::Compile;
    FormOptions &forms = opts.compile.forms;
    if (flag == "-o")
      opts.output = valueOf(flag, inlineValue).str();
    else if (flag == "--model")
      opts.model = valueOf(flag, inlineValue).str();
    else if (flag == "--emit" && opts.command == DriverOptions::Compile) {
      opts.compile.emit = oneOf(flag, valueOf(flag, inlineValue), kEmitKindNames);
      opts.emitGiven = true;
    } else if (flag == "--target" && compiles)
      forms.target = oneOf(flag, valueOf(flag, inlineValue), kTargetKindNames);
    else if (flag == "--gpu-arch")
      opts.compile.gpuArch = gpuArch(flag, valueOf(flag, inlineValue));
    else if (flag == "--form" && compiles)
      forms.form = oneOf(flag, valueOf(flag, inlineValue), kFormNames);
    else if (flag == "--chunk-size" && compiles)
      integer(flag, valueOf(flag, inlineValue), forms.chunkSize, 1, 4096,
              "an integer in 1..4096");
    else if (flag == "--newton-max-iters" && compiles)
      integer(flag, valueOf(flag, inlineValue), forms.newtonMaxIters, 1, 1000000,
              "an integer >= 1");
    else if (flag == "--newton-tol" && compiles)
      forms.newtonTol = positive(flag, valueOf(flag, inlineValue));
    else if (flag == "--newton-jacobian" && compiles)
      forms.newtonQuasi = oneOf(flag, valueOf(flag, inlineValue), kJacobianNames);
    else if (flag == "--newton-guess" && compiles)
      forms.newtonGuess = oneOf(flag, valueOf(flag, inlineValue), kGuessNames);
    else if (flag == "--threads" && compiles) {
      int64_t threads;
      integer(flag, valueOf(flag, inlineValue), threads, 0, 1024, "an integer in 0..1024");
      opts.compile.threads = threads;
    } else if ((flag == "--B" || flag == "--T") && runs)
      integer(flag, valueOf(flag, inlineValue), flag == "--B" ? opts.run.B : opts.run.T, 0,
              100000000, "an integer >= 0");
    else if (flag == "--seed" && runs) {
      llvm::StringRef v = valueOf(flag, inlineValue);
      if (v.getAsInteger(10, opts.run.seed))
        usageError("bad value '" + v + "' for --seed; expected a non-negative integer");
    } else
      return false;
    return true;
  }

  static std::string gpuArch(llvm::StringRef flag, llvm::StringRef value) {
    if (isSupportedGpuArch(value))
      return value.str();
    usageError("bad value '" + value + "' for " + flag + "; expected " +
               llvm::join(supportedGpuArchs(), "|"));
  }

  static double positive(llvm::StringRef flag, llvm::StringRef value) {
    double number;
    if (value.getAsDouble(number) || !(number > 0) || !std::isfinite(number))
      usageError("bad value '" + value + "' for " + flag + "; expected a positive number");
    return number;
  }

  static constexpr EnumName<bool> kJacobianNames[] = {{false, "exact"}, {true, "diagonal"}};
  static constexpr EnumName<mlir::rec::NewtonGuess> kGuessNames[] = {
      {mlir::rec::NewtonGuess::Step, "step"}, {mlir::rec::NewtonGuess::Zero, "zero"}};

  std::vector<llvm::StringRef> args;
  size_t i = 0;
  DriverOptions opts;
};

/// Writes `bytes` to `path` ('-' or empty: stdout) only now, all at once.
bool writeOutput(const std::string &path, llvm::StringRef bytes) {
  if (path.empty() || path == "-") {
    llvm::outs() << bytes;
    return true;
  }
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    llvm::errs() << path << ": error: cannot write: " << ec.message() << "\n";
    return false;
  }
  out.os() << bytes;
  out.os().close();
  if (out.os().has_error()) {
    llvm::errs() << path << ": error: cannot write: " << out.os().error().message() << "\n";
    out.os().clear_error();
    return false;
  }
  out.keep();
  return true;
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

/// Parses and checks the file; reports and fails on any error, a -D that
/// names no dim included.
bool runFrontEnd(const DriverOptions &opts, Diagnostics &diags, Module &module) {
  module = parseModule(diags);
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
      return false;
    }
  }
  if (diags.hadError()) {
    if (diags.errorCount() > Diagnostics::maxErrors)
      llvm::errs() << opts.input << ": " << diags.errorCount() - Diagnostics::maxErrors
                   << " more errors not shown\n";
    return false;
  }
  if (module.models.empty()) {
    llvm::errs() << opts.input << ":1:1: error: the file defines no model\n";
    return false;
  }
  return true;
}

/// The models the command works on: --model's, or every model when
/// compiling, or the only one.
std::optional<std::vector<const Model *>> selectModels(const DriverOptions &opts,
                                                       const Module &module) {
  if (!opts.model.empty()) {
    if (const Model *m = module.lookup(opts.model))
      return std::vector<const Model *>{m};
    std::string names;
    for (const Model &m : module.models)
      names += (names.empty() ? "" : ", ") + m.name;
    llvm::errs() << opts.input << ": error: no model named '" << opts.model
                 << "'; the file defines: " << names << "\n";
    return std::nullopt;
  }
  if (module.models.size() != 1 && opts.command != DriverOptions::Compile) {
    llvm::errs() << opts.input << ": error: the file defines " << module.models.size()
                 << " models; choose one with --model\n";
    return std::nullopt;
  }
  std::vector<const Model *> models;
  for (const Model &m : module.models)
    models.push_back(&m);
  return models;
}

int compile(DriverOptions &opts, llvm::ArrayRef<const Model *> models,
            llvm::SourceMgr &sourceMgr, PhaseTimer &timer) {
  CompileOptions &compile = opts.compile;
  bool gpu = compile.target == TargetKind::Nvptx;
  if (!opts.emitGiven)
    compile.emit = gpu ? EmitKind::Ptx : EmitKind::Obj;
  if (compile.emit == EmitKind::Ptx && !gpu) {
    llvm::errs() << "seqc: error: --emit ptx needs --target nvptx\n";
    return 1;
  }
  mlir::FailureOr<CompiledOutput> output = compileModels(models, sourceMgr, compile, timer);
  timer.print(llvm::errs());
  if (failed(output))
    return 1;
  // An object file never goes to a terminal: by default FILE.o in the cwd.
  std::string path = opts.output;
  if (output->isBinary && path.empty())
    path = (llvm::sys::path::stem(opts.input) + ".o").str();
  return writeOutput(path, output->bytes()) ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  DriverOptions opts = CommandLineParser(argc, argv).parse();

  auto fileOrErr = llvm::MemoryBuffer::getFileOrSTDIN(opts.input, /*IsText=*/true);
  if (std::error_code ec = fileOrErr.getError()) {
    llvm::errs() << opts.input << ": error: cannot read file: " << ec.message() << "\n";
    return 1;
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*fileOrErr), llvm::SMLoc());
  Diagnostics diags(sourceMgr);
  PhaseTimer timer(opts.compile.timePhases && opts.command == DriverOptions::Compile);
  Module module;
  {
    auto phase = timer.phase("front end");
    if (!runFrontEnd(opts, diags, module))
      return 1;
  }
  std::optional<std::vector<const Model *>> models = selectModels(opts, module);
  if (!models)
    return 1;
  if (opts.compile.verbose)
    for (const Model *m : *models)
      describeModel(*m, llvm::errs());
  switch (opts.command) {
  case DriverOptions::Run:
    return runReference(*models->front(), opts.run, opts.output, opts.input);
  case DriverOptions::Check:
    if (opts.checkGradients)
      return checkGradients(*models->front(), sourceMgr, opts.compile, opts.run,
                            10 * checkTolerance(opts.compile.forms.form));
    return checkKernel(*models->front(), sourceMgr, opts.compile, opts.run);
  case DriverOptions::Compile:
    return compile(opts, *models, sourceMgr, timer);
  }
  return 1;
}
