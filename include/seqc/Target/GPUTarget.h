//===- GPUTarget.h - From rec forms to PTX kernels and their host code ----===//
//
// --target nvptx after the forms: the kernels become PTX (through the NVPTX
// back end of LLVM, with the PTX version chosen for --gpu-arch), and the
// host code that launches them (M_forward_cuda) an LLVM module for the host
// CPU, which calls the CUDA launcher library (runtime/cuda).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_TARGET_GPUTARGET_H
#define SEQC_TARGET_GPUTARGET_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace seqc {

/// The GPU architectures --gpu-arch accepts, and the PTX ISA version each
/// gets (the first that supports it, so that older drivers load it).
bool isSupportedGpuArch(llvm::StringRef arch);
llvm::StringRef ptxVersionFor(llvm::StringRef arch);

/// Lowers a module after applyForms: the kernels into PTX text (`ptx`), the
/// rest into host code in the LLVM dialect that embeds the PTX and launches
/// it through the launcher (the --emit lowered level for nvptx). On failure
/// `error` says why, or is empty when a diagnostic was emitted.
mlir::LogicalResult lowerToGPU(mlir::ModuleOp module, llvm::StringRef arch, int optLevel,
                               std::string &ptx, std::string &error);

} // namespace seqc

#endif // SEQC_TARGET_GPUTARGET_H
