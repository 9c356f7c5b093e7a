//===- seq-opt.cpp - mlir-opt with the rec dialect and seqc's passes -------===//
//
// Parses, verifies, transforms and prints rec IR: upstream's dialects and
// passes, the rec dialect and its rewrites (dialects/rec/Transforms), seqc's
// conversions (lib/Conversion), the pipelines seqc runs
// (seqc/Compiler/Pipelines.h) and the test-only passes of test/lib.
//
//===----------------------------------------------------------------------===//
#include "Passes.h"
#include "RecDialect.h"
#include "RecOps.h"
#include "seqc/Compiler/Pipelines.h"
#include "seqc/Conversion/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

namespace seqc::test {
void registerTestFormPlanPass();
void registerTestRecurrenceAnalysisPass();
void registerTestStepJacobianPass();
void registerTestMatrixStatePass();
} // namespace seqc::test

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::rec::registerRecPasses();
  seqc::registerSeqcConversionPasses();
  seqc::registerSeqcPipelines();
  seqc::test::registerTestFormPlanPass();
  seqc::test::registerTestRecurrenceAnalysisPass();
  seqc::test::registerTestStepJacobianPass();
  seqc::test::registerTestMatrixStatePass();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<mlir::rec::RecDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "seq-opt: the rec dialect's optimizer driver\n", registry));
}
