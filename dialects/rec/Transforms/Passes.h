//===- Passes.h - Rewrites of the rec dialect -----------------------------===//
//
// Declarations and registration of the rec passes of Passes.td: the rewrites
// of a recurrence into its form (rec-hoist-invariants, rec-outline-stateless,
// rec-hoist-matmuls, rec-to-scan, rec-to-chunked, rec-to-newton) and the
// expansions of the forms (rec-expand-chunked, rec-expand-newton).
//
//===----------------------------------------------------------------------===//
#ifndef REC_TRANSFORMS_PASSES_H
#define REC_TRANSFORMS_PASSES_H

#include "RecOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir::rec {

#define GEN_PASS_DECL
#include "Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Passes.h.inc"

} // namespace mlir::rec

#endif // REC_TRANSFORMS_PASSES_H
