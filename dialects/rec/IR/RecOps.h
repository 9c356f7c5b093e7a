//===- RecOps.h - Operations of the rec dialect ------------------*- C++ -*-===//
//
// Declares the rec operations (generated from RecOps.td).
//
//===----------------------------------------------------------------------===//
#ifndef REC_IR_RECOPS_H
#define REC_IR_RECOPS_H

#include "RecDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "RecEnums.h.inc"

#define GET_OP_CLASSES
#include "RecOps.h.inc"

namespace mlir::rec {
/// The indexing maps of an input projection over all steps, y[b, t, h] =
/// sum_d x[b, t, d] * w[d, h] on loops (b, t, h, d): what rec-hoist-matmuls
/// builds, one of the contractions seqc-tile-contractions tiles.
SmallVector<AffineMap> getProjectionIndexingMaps(MLIRContext *context);
} // namespace mlir::rec

#endif
