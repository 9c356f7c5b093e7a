//===- Compiler.h - From checked models to kernels: the library's entry ---===//
//
// The one call behind `seqc FILE` and `seqc check`: the models the front end
// checked, compiled to what CompileOptions::emit asks for (the rec IR, the
// forms and their report, the lowered IR, LLVM IR, assembly, an object file,
// PTX or the C header), in memory, so that nothing is written unless
// everything succeeded. PhaseTimer measures each phase (--time-phases).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_COMPILER_COMPILER_H
#define SEQC_COMPILER_COMPILER_H

#include "seqc/Compiler/Options.h"
#include "seqc/Frontend/AST.h"

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <string>
#include <vector>

namespace seqc {

/// The time of each phase of one run of seqc, in the order the phases first
/// ran; a phase run twice (once per model, or again for the GPU's host
/// code) adds up. Does nothing when disabled.
class PhaseTimer {
public:
  explicit PhaseTimer(bool enabled) : enabled(enabled) {}

  /// Times its own lifetime as phase `name`.
  class Scope {
  public:
    Scope(PhaseTimer *timer, llvm::StringRef name);
    Scope(Scope &&other) noexcept : timer(other.timer), index(other.index), start(other.start) {
      other.timer = nullptr;
    }
    Scope(const Scope &) = delete;
    ~Scope();

  private:
    PhaseTimer *timer;
    size_t index = 0;
    std::chrono::steady_clock::time_point start;
  };

  [[nodiscard]] Scope phase(llvm::StringRef name) { return Scope(enabled ? this : nullptr, name); }
  /// A breakdown of the phase before it (thread time of a parallel phase):
  /// printed, not added to the total.
  void detail(llvm::StringRef name, double seconds);
  bool isEnabled() const { return enabled; }
  /// "seqc: phase NAME  SECONDS" lines and the total, on `os`.
  void print(llvm::raw_ostream &os) const;

private:
  struct Phase {
    std::string name;
    double seconds;
    bool isDetail;
  };
  bool enabled;
  std::vector<Phase> phases;
};

/// A compiler's output, in memory: text, or the bytes of an object file.
struct CompiledOutput {
  std::string text;
  llvm::SmallVector<char, 0> binary;
  bool isBinary = false;
  /// Why a model got no backward entry points ("model: reason" per line;
  /// empty when every model got them or none was asked for).
  std::string noBackward;

  llvm::StringRef bytes() const {
    return isBinary ? llvm::StringRef(binary.data(), binary.size()) : llvm::StringRef(text);
  }
};

/// Compiles `models` (checked by the front end, from `sourceMgr`'s file) as
/// `options` says. Diagnostics go to stderr, located in the source; returns
/// failure after reporting.
mlir::FailureOr<CompiledOutput> compileModels(llvm::ArrayRef<const Model *> models,
                                              llvm::SourceMgr &sourceMgr,
                                              const CompileOptions &options,
                                              PhaseTimer &timer);

} // namespace seqc

#endif // SEQC_COMPILER_COMPILER_H
