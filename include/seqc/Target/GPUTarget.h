//===- GPUTarget.h - PTX kernels for --target nvptx -----------------------===//
//
// --target nvptx after the forms: the outlined kernels become PTX (through
// the NVPTX back end of LLVM, with the PTX version chosen for --gpu-arch)
// and a gpu.binary in the host module, whose code then calls the CUDA
// launcher library (runtime/cuda). The pass pipelines around these steps are
// in seqc/Compiler/Pipelines.h.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_TARGET_GPUTARGET_H
#define SEQC_TARGET_GPUTARGET_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace seqc {

/// The GPU architectures --gpu-arch accepts, oldest first.
llvm::SmallVector<llvm::StringRef> supportedGpuArchs();
bool isSupportedGpuArch(llvm::StringRef arch);
/// The PTX ISA version `arch` gets: the first that supports it, so that
/// older drivers load it ("" for an architecture seqc does not support).
llvm::StringRef ptxVersionFor(llvm::StringRef arch);

/// Outlining makes a gpu.module per kernel; one PTX file wants one module.
/// Moves every kernel (and the helper functions it calls, once) into
/// @seqc_kernels, points the launches at it and returns it.
mlir::gpu::GPUModuleOp mergeKernelModules(mlir::ModuleOp module);

/// The kernels of `kernels` (already in the LLVM and NVVM dialects) as PTX
/// for `arch`; on failure `error` says why.
mlir::LogicalResult emitPTX(mlir::gpu::GPUModuleOp kernels, llvm::StringRef arch, int optLevel,
                            std::string &ptx, std::string &error);

/// Replaces `kernels` by a gpu.binary of the same name holding `ptx`.
void replaceKernelsWithBinary(mlir::gpu::GPUModuleOp kernels, llvm::StringRef arch,
                              int optLevel, llvm::StringRef ptx);

} // namespace seqc

#endif // SEQC_TARGET_GPUTARGET_H
