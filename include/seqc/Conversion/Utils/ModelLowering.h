//===- ModelLowering.h - rec models to ABI entry points, for any target ---===//
//
// What convert-rec-to-cpu and convert-rec-to-gpu share: a rec.model becomes
// an entry point that checks its arguments, wraps the caller's arrays as
// memrefs and runs the model's ops as loops over tensors. The two targets
// differ only in the entry's name, a leading stream argument and the
// runtime the generated code calls (include/seqc/Runtime/seqc_abi.h).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CONVERSION_UTILS_MODELLOWERING_H
#define SEQC_CONVERSION_UTILS_MODELLOWERING_H

#include "RecOps.h"

#include "seqc/Runtime/seqc_abi.h"

namespace seqc {

/// How a target's entry points look and which runtime functions its
/// generated code calls.
struct TargetRuntime {
  /// Appended to the model's name: "_forward" or "_forward_cuda".
  llvm::StringLiteral entrySuffix;
  /// Appended to the names of the other entry points (M_forward_tape,
  /// M_backward, M_tape_bytes): "" or "_cuda".
  llvm::StringLiteral twinSuffix;
  /// Whether the entry takes a stream (CUstream) before B and T.
  bool leadingStream;
  /// int guard([stream,] int (*thunk)(void *), void *args).
  llvm::StringLiteral callGuarded;
  /// What rec.thread_count, rec.newton_report and
  /// rec.chunk_fallback_report become.
  llvm::StringLiteral threadCount, newtonReport, chunkFallbackReport;
};

/// M_forward, linked with the CPU runtime.
inline constexpr TargetRuntime kCPURuntime{
    "_forward",
    "",
    /*leadingStream=*/false,
    SEQC_RUNTIME_NAME(seqc_call_guarded),
    SEQC_RUNTIME_NAME(seqc_num_threads),
    SEQC_RUNTIME_NAME(seqc_newton_report),
    SEQC_RUNTIME_NAME(seqc_chunk_fallback_report)};

/// M_forward_cuda, linked with the CUDA launcher.
inline constexpr TargetRuntime kCUDALauncher{
    "_forward_cuda",
    "_cuda",
    /*leadingStream=*/true,
    SEQC_RUNTIME_NAME(seqc_cuda_call_guarded),
    SEQC_RUNTIME_NAME(seqc_cuda_num_threads),
    SEQC_RUNTIME_NAME(seqc_cuda_newton_report),
    SEQC_RUNTIME_NAME(seqc_cuda_chunk_fallback_report)};

/// Builds `runtime`'s entry point for `model` beside it (the model itself is
/// left for the caller to erase): M_forward, or for the models of
/// rec-derive-backward M_forward_tape (with M_tape_bytes) and M_backward,
/// which calls M_forward_tape's kernel (lowered first) when given no tape.
void lowerModelToEntry(mlir::rec::ModelOp model, const TargetRuntime &runtime);

} // namespace seqc

#endif // SEQC_CONVERSION_UTILS_MODELLOWERING_H
