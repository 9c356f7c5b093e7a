//===- Options.h - What a compilation is asked to do ----------------------===//
//
// The typed options of the compiler library, shared by the driver (which
// parses them from the command line), the form plan, the pipelines and the
// targets: what to emit, for which target, in which form. Each enum has one
// table of names, so the command line, the messages and --help cannot
// disagree with the code.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_COMPILER_OPTIONS_H
#define SEQC_COMPILER_OPTIONS_H

#include "RecOps.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>
#include <utility>

namespace seqc {

/// How far `seqc FILE` goes (--emit).
enum class EmitKind { Ast, Rec, Forms, Lowered, Llvm, Asm, Obj, Ptx, Header };
/// Where the kernels run (--target).
enum class TargetKind { Cpu, Nvptx };
/// The form asked for (--form); Auto decides per state.
enum class Form { Auto, Sequential, Scan, Chunk, Newton };

/// One enum value and its name on the command line.
template <typename Enum>
using EnumName = std::pair<Enum, llvm::StringLiteral>;

inline constexpr EnumName<EmitKind> kEmitKindNames[] = {
    {EmitKind::Ast, "ast"},       {EmitKind::Rec, "rec"},     {EmitKind::Forms, "forms"},
    {EmitKind::Lowered, "lowered"}, {EmitKind::Llvm, "llvm"}, {EmitKind::Asm, "asm"},
    {EmitKind::Obj, "obj"},       {EmitKind::Ptx, "ptx"},     {EmitKind::Header, "header"}};
inline constexpr EnumName<TargetKind> kTargetKindNames[] = {{TargetKind::Cpu, "cpu"},
                                                            {TargetKind::Nvptx, "nvptx"}};
inline constexpr EnumName<Form> kFormNames[] = {{Form::Auto, "auto"},
                                                {Form::Sequential, "sequential"},
                                                {Form::Scan, "scan"},
                                                {Form::Chunk, "chunk"},
                                                {Form::Newton, "newton"}};

/// The value named `name` in `table`, if any.
template <typename Enum, size_t N>
std::optional<Enum> parseEnum(const EnumName<Enum> (&table)[N], llvm::StringRef name) {
  for (const auto &[value, spelling] : table)
    if (spelling == name)
      return value;
  return std::nullopt;
}

/// The name of `value` in `table`.
template <typename Enum, size_t N>
llvm::StringRef enumName(const EnumName<Enum> (&table)[N], Enum value) {
  for (const auto &[candidate, spelling] : table)
    if (candidate == value)
      return spelling;
  return "";
}

/// "a|b|c": every name of `table`, for usage messages.
template <typename Enum, size_t N>
std::string enumNames(const EnumName<Enum> (&table)[N]) {
  std::string names;
  for (const auto &entry : table)
    names += (names.empty() ? "" : "|") + entry.second.str();
  return names;
}

inline llvm::StringRef formName(Form form) { return enumName(kFormNames, form); }

/// How the forms are chosen and tuned (--form, --chunk-size, --newton-*).
struct FormOptions {
  Form form = Form::Auto;
  /// Steps per chunk of the chunked form (the largest under auto).
  int64_t chunkSize = 64;
  /// The Newton form's iteration cap and residual tolerance.
  int64_t newtonMaxIters = 10;
  double newtonTol = 1e-5;
  /// Only the Jacobian's diagonal (quasi-DEER), whatever its structure.
  bool newtonQuasi = false;
  /// The first guess: one step from the initial state, or zeros.
  mlir::rec::NewtonGuess newtonGuess = mlir::rec::NewtonGuess::Step;
  /// The target the forms are for (--form auto has a rule per target).
  TargetKind target = TargetKind::Cpu;
};

/// Everything `seqc FILE` is asked to do after the front end.
struct CompileOptions {
  EmitKind emit = EmitKind::Obj;
  TargetKind target = TargetKind::Cpu;
  /// --gpu-arch; one of supportedGpuArchs() (seqc/Target/GPUTarget.h).
  std::string gpuArch = "sm_80";
  FormOptions forms;
  /// -O0 .. -O3.
  int optLevel = 3;
  /// -v: what the compiler decided, on stderr.
  bool verbose = false;
  /// --time-phases (and -v): the time of each phase, on stderr.
  bool timePhases = false;
  /// --threads: threads for LLVM's optimisation and code generation (0:
  /// one per core); the output does not depend on it.
  unsigned threads = 0;
  /// Whether every model also gets its backward entry points (language.md
  /// section 8); --no-backward leaves them out.
  bool backward = true;
  /// --verify-each: verify the IR after every pass, not only after each
  /// phase (for seqc's own tests; SEQC_VERIFY_EACH=1 sets it too).
  bool verifyEachPass = false;
  /// The source file, for the header's include guard and messages.
  std::string inputName;
};

} // namespace seqc

#endif // SEQC_COMPILER_OPTIONS_H
