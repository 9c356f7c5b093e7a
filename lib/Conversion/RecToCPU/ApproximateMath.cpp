//===- ApproximateMath.cpp - Vectorisable f32 transcendental functions ----===//
//
// approximate-math: exp, log1p and tanh sit in the inner loops of gates
// (sigmoid, softplus, Mamba's discretisation). As libm calls they keep those
// loops scalar; as MLIR's polynomial approximations they are arithmetic that
// LLVM vectorises.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace seqc {
#define GEN_PASS_DEF_APPROXIMATEMATH
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {
struct ApproximateMathPass : seqc::impl::ApproximateMathBase<ApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
