//===- Passes.h - Conversions out of the rec dialect ----------------------===//
//
// Declarations and registration of the passes of Passes.td.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CONVERSION_PASSES_H
#define SEQC_CONVERSION_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace seqc {

#define GEN_PASS_DECL
#include "seqc/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "seqc/Conversion/Passes.h.inc"

/// The cost of one iteration of an scf.parallel, where its creator knows it
/// better than convert-parallel-to-runtime's static estimate.
constexpr llvm::StringLiteral kIterationCostAttr = "seqc.iteration_cost";

/// The error codes M_forward returns (language.md section 5; docs/abi.md).
enum KernelStatus : int {
  kStatusOk = 0,
  kStatusNegativeSize = 1,
  kStatusNullPointer = 2,
  /// An allocation inside the kernel failed (runtime/seqc_runtime.c).
  kStatusNoMemory = 3,
  /// M_forward_cuda only: a CUDA driver call failed (no driver, no device
  /// or context, an invalid device pointer, a failed launch); the launcher
  /// can say which (seqc_cuda_last_error).
  kStatusCudaError = 4,
};

} // namespace seqc

#endif // SEQC_CONVERSION_PASSES_H
