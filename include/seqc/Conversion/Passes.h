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

} // namespace seqc

#endif // SEQC_CONVERSION_PASSES_H
