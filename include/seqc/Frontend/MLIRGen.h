//===- MLIRGen.h - AST to the rec dialect ------------------------*- C++ -*-===//
//
// Emits one rec.model per checked model. Step arithmetic becomes upstream
// arith / math / linalg / tensor on ranked tensors, with NumPy broadcasting
// made explicit (tensor.collapse_shape + linalg.broadcast).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_MLIRGEN_H
#define SEQC_FRONTEND_MLIRGEN_H

#include "seqc/Frontend/AST.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

namespace mlir {
class MLIRContext;
}

namespace seqc {

/// Loads the dialects the generated IR uses into `context`.
void loadDialects(mlir::MLIRContext &context);

/// Emits `models` (all checked) into a new module. Locations point into the
/// SourceMgr's main buffer, named `filename`.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context,
                                          llvm::ArrayRef<const Model *> models,
                                          const llvm::SourceMgr &sourceMgr,
                                          llvm::StringRef filename);

} // namespace seqc

#endif
