//===- Passes.h - Rewrites of the rec dialect -----------------------------===//
//
// Declarations and registration of rec-hoist and rec-to-scan (Passes.td).
//
//===----------------------------------------------------------------------===//
#ifndef REC_TRANSFORMS_PASSES_H
#define REC_TRANSFORMS_PASSES_H

#include "RecOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir::rec {

#define GEN_PASS_DECL
#include "Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Passes.h.inc"

} // namespace mlir::rec

#endif // REC_TRANSFORMS_PASSES_H
