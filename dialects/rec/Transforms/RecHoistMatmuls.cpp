//===- RecHoistMatmuls.cpp - Per-step matvecs as one matmul over all steps ===//
//
// A step that multiplies one of its inputs by a matrix fixed for the call (a
// param, or work on params) does B x T matrix-vector products, each reading
// the whole matrix. The same products are one contraction of the input
// sequence [B, T, D] with the matrix, a matmul of B*T rows, which a tiled
// kernel (convert-projections-to-tiles) computes reading the matrix once
// per tile of rows.
// The matmul runs before the recurrence, and its result comes back in as a
// new step input; the matrix is transposed once so that the kernel reads it
// along H, the axis it vectorises.
//
//===----------------------------------------------------------------------===//
#include "Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::rec {
#define GEN_PASS_DEF_RECHOISTMATMULS
#include "Passes.h.inc"

namespace {

bool isZeroFill(Value value) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  auto constant = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
  auto attr = constant ? dyn_cast<FloatAttr>(constant.getValue()) : FloatAttr();
  return attr && attr.getValue().isZero();
}

/// `W @ x_t` with W from outside the step and x_t a step input, starting
/// from zero.
bool isHoistableProjection(RecurrenceOp op, linalg::MatvecOp matvec) {
  if (!matvec.hasPureTensorSemantics() || matvec->getParentOp() != op)
    return false;
  Value matrix = matvec.getInputs()[0], vector = matvec.getInputs()[1];
  auto arg = dyn_cast<BlockArgument>(vector);
  if (!arg || arg.getOwner() != &op.getBody() || arg.getArgNumber() < op.getNumStates())
    return false;
  if (op.getStep().isAncestor(matrix.getParentRegion()))
    return false;
  auto matrixType = dyn_cast<RankedTensorType>(matrix.getType());
  return matrixType && matrixType.hasStaticShape() && matrixType.getElementType().isF32() &&
         isZeroFill(matvec.getOutputs()[0]);
}

/// y[b, t, h] = sum_d x[b, t, d] * w[d, h], over [B, T, D] as it is: no
/// reshape to [B*T, D], which elementwise fusion would propagate back
/// through the contraction anyway.
Value buildProjection(OpBuilder &b, Location loc, Value sequence, Value transposed, Value init) {
  SmallVector<AffineMap> maps = getProjectionIndexingMaps(b.getContext());
  SmallVector<utils::IteratorType> iterators(3, utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{sequence, transposed}, ValueRange{init}, maps,
             iterators,
             [](OpBuilder &b, Location loc, ValueRange args) {
               Value product = arith::MulFOp::create(b, loc, args[0], args[1]);
               linalg::YieldOp::create(b, loc,
                                       Value(arith::AddFOp::create(b, loc, args[2], product)));
             })
      .getResult(0);
}

struct HoistProjections : OpRewritePattern<RecurrenceOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RecurrenceOp op, PatternRewriter &rewriter) const override {
    SmallVector<linalg::MatvecOp> projections;
    for (auto matvec : op.getBody().getOps<linalg::MatvecOp>())
      if (isHoistableProjection(op, matvec))
        projections.push_back(matvec);
    if (projections.empty())
      return failure();

    Location loc = op.getLoc();
    rewriter.setInsertionPoint(op);
    Type f32 = rewriter.getF32Type();
    SmallVector<Value> products;
    for (linalg::MatvecOp matvec : projections) {
      Value matrix = matvec.getInputs()[0];
      auto arg = cast<BlockArgument>(matvec.getInputs()[1]);
      Value sequence = op.getInputs()[arg.getArgNumber() - op.getNumStates()];
      auto matrixType = cast<RankedTensorType>(matrix.getType());
      int64_t rows = matrixType.getDimSize(0), columns = matrixType.getDimSize(1);
      Value transposed =
          linalg::TransposeOp::create(
              rewriter, loc, matrix,
              tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{columns, rows}, f32),
              ArrayRef<int64_t>{1, 0})
              .getResult()[0];
      Value zero = arith::ConstantOp::create(rewriter, loc, rewriter.getF32FloatAttr(0.0f));
      Value empty = tensor::EmptyOp::create(
          rewriter, loc, ArrayRef<int64_t>{ShapedType::kDynamic, ShapedType::kDynamic, rows},
          f32, ValueRange{op.getBatch(), op.getLength()});
      Value init = linalg::FillOp::create(rewriter, loc, ValueRange{zero}, ValueRange{empty})
                       .getResult(0);
      products.push_back(buildProjection(rewriter, loc, sequence, transposed, init));
    }

    SmallVector<Value> inputs(op.getInputs());
    inputs.append(products);
    auto replacement = RecurrenceOp::create(rewriter, loc, op.getResultTypes(), op.getBatch(),
                                            op.getLength(), op.getInits(), inputs);
    rewriter.eraseBlock(&replacement.getBody());
    rewriter.inlineRegionBefore(op.getStep(), replacement.getStep(),
                                replacement.getStep().end());
    Block &body = replacement.getBody();
    for (linalg::MatvecOp matvec : projections) {
      BlockArgument row = body.addArgument(matvec.getResult(0).getType(), matvec.getLoc());
      rewriter.replaceOp(matvec, row);
    }
    rewriter.replaceOp(op, replacement.getResults());
    return success();
  }
};

struct RecHoistMatmulsPass : impl::RecHoistMatmulsBase<RecHoistMatmulsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<HoistProjections>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace mlir::rec
