//===- seq-opt.cpp - mlir-opt with the rec dialect ------------------------===//
//
// Parses, verifies, transforms and prints rec IR. The registry holds exactly
// the dialects a model's IR uses, plus func for tests that need a caller.
//
//===----------------------------------------------------------------------===//
#include "RecDialect.h"
#include "RecOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::DialectRegistry registry;
  registry.insert<mlir::rec::RecDialect, mlir::arith::ArithDialect, mlir::math::MathDialect,
                  mlir::linalg::LinalgDialect, mlir::tensor::TensorDialect,
                  mlir::func::FuncDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "seq-opt: the rec dialect's optimizer driver\n", registry));
}
