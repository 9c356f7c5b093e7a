//===- Header.h - The C header of a compiled module -----------------------===//
//
// `--emit header`: the declarations a program includes to call the kernels of
// a module (language.md section 5), for the CPU or the GPU target.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_TARGET_HEADER_H
#define SEQC_TARGET_HEADER_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace seqc {

/// Which entry points a header declares.
enum class HeaderKind { CpuKernels, CudaKernels };

/// Writes the C header declaring M_forward (M_forward_cuda for
/// CudaKernels) for every rec.model of `module` (before lowering), with the
/// status codes of include/seqc/Runtime/seqc_abi.h; `guardName` names the
/// include guard (the source file's stem).
void emitHeader(mlir::ModuleOp module, llvm::StringRef guardName, HeaderKind kind,
                llvm::raw_ostream &out);

} // namespace seqc

#endif // SEQC_TARGET_HEADER_H
