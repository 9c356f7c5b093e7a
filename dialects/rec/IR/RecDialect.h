//===- RecDialect.h - The rec dialect ----------------------------*- C++ -*-===//
//
// Declares the rec dialect class (generated from RecDialect.td).
//
//===----------------------------------------------------------------------===//
#ifndef REC_IR_RECDIALECT_H
#define REC_IR_RECDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "RecDialect.h.inc"

#endif
