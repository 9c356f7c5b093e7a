//===- KernelCall.h - Calling a loaded kernel with the ABI's arrays -------===//
//
// The f32 arrays of one kernel call, grouped as language.md section 5 orders
// them (inputs, params, initial states, outputs, final states), and the call
// itself: M_forward(B, T, pointers...) on the CPU, or M_forward_cuda(stream,
// B, T, device pointers...) on device copies of the arrays.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CHECK_KERNELCALL_H
#define SEQC_CHECK_KERNELCALL_H

#include "seqc/Check/KernelLibrary.h"
#include "seqc/Frontend/Interpreter.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <vector>

namespace seqc {

/// The most pointer arguments callEntryPoint passes.
constexpr size_t kMaxKernelArgs = 64;

/// Calls `entry`, of C type int(int64_t B, int64_t T, void *...) (with a
/// leading `void *stream`, passed as NULL, when `withStream`), with exactly
/// `pointers`. Returns -1 for more than kMaxKernelArgs pointers.
int callEntryPoint(void *entry, bool withStream, int64_t B, int64_t T,
                   llvm::ArrayRef<void *> pointers);

/// The f32 arrays of one kernel call, by ABI role. An empty vector is passed
/// as NULL.
struct KernelBuffers {
  std::vector<std::vector<float>> inputs, params, inits, outputs, finals;

  /// Inputs, params and initial states from `data`; outputs and final states
  /// shaped like `result` and filled with NaN, so that anything the kernel
  /// fails to write shows up as an error.
  static KernelBuffers fromData(const ModelData &data, const ModelResult &result);
};

/// A loaded M_forward (or, with a CUDA driver, M_forward_cuda).
struct KernelCaller {
  void *entry;
  const Model &model;
  const CudaDriver *cuda = nullptr;

  /// Calls the kernel on `buffers`: on the CPU directly; on the GPU on
  /// device copies of every array (outputs too, so that what the kernel
  /// leaves alone stays as it was), then waits and copies the outputs and
  /// final states back. Returns the kernel's status, or -1 when a driver
  /// call failed.
  int call(int64_t B, int64_t T, KernelBuffers &buffers) const;
};

} // namespace seqc

#endif // SEQC_CHECK_KERNELCALL_H
