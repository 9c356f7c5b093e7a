//===- CPUTarget.h - From rec models to forms, LLVM IR, objects, headers --===//
//
// The stages of `seqc FILE` after the front end, one function per --emit
// level, so that the driver and `seqc check` run exactly the same path.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_TARGET_CPUTARGET_H
#define SEQC_TARGET_CPUTARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>

namespace seqc {

enum class Form { Auto, Sequential, Scan, Chunk, Newton };

/// What --form chose for one state, and why (for --emit forms and -v).
struct FormReport {
  std::string model, state, form, why;
};

/// How the forms are chosen and tuned (the --form and --newton-* flags).
struct FormOptions {
  Form form = Form::Auto;
  /// The Newton form's iteration cap and residual tolerance.
  int64_t newtonMaxIters = 10;
  double newtonTol = 1e-5;
  /// Only the Jacobian's diagonal (quasi-DEER), whatever its structure.
  bool newtonQuasi = false;
  /// The first guess: "step" (one step from the initial state) or "zero".
  std::string newtonGuess = "step";
  /// Steps per chunk of the chunkwise form.
  int64_t chunkSize = 64;
  /// For --target nvptx (its own --form auto thresholds).
  bool gpu = false;
};

/// Rewrites every recurrence into its form: --form sequential hoists only;
/// scan (newton) rewrites every recurrence with states into scans (the
/// Newton form) or fails with an error on the model naming the state and the
/// reason; auto takes the scan where it applies and the Newton form for
/// long sequences where the Jacobian is diagonal or block-diagonal. A form
/// that is not built yet fails with `error` set (no location).
mlir::LogicalResult applyForms(mlir::ModuleOp module, const FormOptions &options,
                               std::vector<FormReport> &report, std::string &error);

/// Runs `pipeline` (textual, nested in a module-anchored pass manager) with
/// every upstream and seqc pass registered.
mlir::LogicalResult runPipeline(mlir::ModuleOp module, llvm::StringRef pipeline);
/// Lowers the forms to the LLVM dialect (the --emit lowered level).
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module);

/// Translates to LLVM IR, links the runtime, internalises everything but the
/// M_forward entry points and optimises at `optLevel` (0-3) for the host CPU.
/// What a module of host code is for: a CPU kernel, linked with the seqc
/// runtime; or the host side of GPU kernels, which calls the CUDA launcher
/// library and keeps only the M_forward_cuda entry points global.
enum class HostCode { CpuKernel, CudaLauncher };
std::unique_ptr<llvm::Module> translateToLLVMIR(mlir::ModuleOp module,
                                                llvm::LLVMContext &context, int optLevel,
                                                std::string &error,
                                                HostCode kind = HostCode::CpuKernel);
/// Runs LLVM's default pipeline at `optLevel` (nothing at 0) for `machine`.
void optimiseModule(llvm::Module &module, llvm::TargetMachine &machine, int optLevel);

/// Writes position-independent assembly or an object file for the host.
bool emitMachineCode(llvm::Module &module, llvm::raw_pwrite_stream &out, bool assembly,
                     int optLevel, std::string &error);

} // namespace seqc

#endif // SEQC_TARGET_CPUTARGET_H
