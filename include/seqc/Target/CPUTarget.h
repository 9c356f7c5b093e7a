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
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>

namespace seqc {

enum class Form { Auto, Sequential, Scan, Chunk, Newton };

/// What --form chose for one state, and why (for --emit forms and -v).
struct FormReport {
  std::string model, state, form, why;
};

/// Rewrites every recurrence into its form: --form sequential hoists only;
/// scan rewrites every recurrence with states into scans or fails with an
/// error on the model naming the state and the reason; auto scans what it
/// can. A form that is not built yet fails with `error` set (no location).
mlir::LogicalResult applyForms(mlir::ModuleOp module, Form form,
                               std::vector<FormReport> &report, std::string &error);

/// Lowers the forms to the LLVM dialect (the --emit lowered level).
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module);

/// Translates to LLVM IR, links the runtime, internalises everything but the
/// M_forward entry points and optimises at `optLevel` (0-3) for the host CPU.
std::unique_ptr<llvm::Module> translateToLLVMIR(mlir::ModuleOp module,
                                                llvm::LLVMContext &context, int optLevel,
                                                std::string &error);

/// Writes position-independent assembly or an object file for the host.
bool emitMachineCode(llvm::Module &module, llvm::raw_pwrite_stream &out, bool assembly,
                     int optLevel, std::string &error);

/// Writes the C header declaring M_forward for every rec.model of `module`
/// (before lowering).
void emitHeader(mlir::ModuleOp module, llvm::StringRef guardName, llvm::raw_ostream &out);

} // namespace seqc

#endif // SEQC_TARGET_CPUTARGET_H
