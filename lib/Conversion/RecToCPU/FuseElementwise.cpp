//===- FuseElementwise.cpp - Elementwise fusion that does not recompute ---===//
//
// seqc-fuse-elementwise: the patterns of upstream's linalg-fuse-elementwise-
// ops under a control function that keeps a producer out of a consumer
// whose reduction loops it does not vary along (see Passes.td). Both CPU
// and GPU pipelines run it where they ran the upstream pass.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace seqc {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {

/// Upstream's rule (a producer of one use), and not into a contraction (a
/// consumer with reduction loops) whose loops the fused operand is not all
/// indexed by: its body would compute the producer again for every
/// iteration of the others (a query scaled by exp, once per key).
bool fusesWithoutRecomputing(OpOperand *fused) {
  Operation *producer = fused->get().getDefiningOp();
  if (!producer || !producer->hasOneUse())
    return false;
  auto consumer = dyn_cast<linalg::LinalgOp>(fused->getOwner());
  if (!consumer || consumer.getNumReductionLoops() == 0)
    return true;
  AffineMap map = consumer.getMatchingIndexingMap(fused);
  for (unsigned loop = 0; loop < consumer.getNumLoops(); ++loop)
    if (!map.isFunctionOfDim(loop))
      return false;
  return true;
}

struct FuseElementwisePass : seqc::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    linalg::ControlFusionFn control = fusesWithoutRecomputing;
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns, control);
    tensor::populateBubbleUpExpandShapePatterns(patterns);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, context);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, context);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, context);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, context);
    context->getLoadedDialect<linalg::LinalgDialect>()->getCanonicalizationPatterns(patterns);
    linalg::populateConstantFoldLinalgOperations(patterns, control);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
