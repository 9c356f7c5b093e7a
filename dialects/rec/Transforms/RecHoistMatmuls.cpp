//===- RecHoistMatmuls.cpp - Per-step matvecs as one matmul over all steps ===//
//
// A step that multiplies one of its inputs by a matrix fixed for the call (a
// param, or work on params) does B x T matrix-vector products, each reading
// the whole matrix. The same products are one contraction of the input
// sequence [B, T, D] with the matrix, a matmul of B*T rows, which a tiled
// kernel (seqc-tile-contractions) computes reading the matrix once
// per tile of rows.
// The matmul runs before the recurrence, and its result comes back in as a
// new step input; the matrix is transposed once so that the kernel reads it
// along H, the axis it vectorises. A projection by a matrix of more axes
// ([H, K, D] @ x) is first made a matvec of the matrix viewed as
// [H * K, D].
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

/// A step's `W @ x` with W of more than two axes ([H, K, D] @ [D]: the
/// projections of multi-head cells), which MLIRGen writes as a
/// linalg.generic, as a linalg.matvec of W viewed as [H * K, D] whose
/// result is viewed as [H, K] again: HoistProjections then takes it.
struct HeadsProjectionAsMatvec : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp generic,
                                PatternRewriter &rewriter) const override {
    auto op = dyn_cast<RecurrenceOp>(generic->getParentOp());
    if (!op || !generic.hasPureTensorSemantics() || generic.getNumDpsInputs() != 2 ||
        generic.getNumDpsInits() != 1 || !isZeroFill(generic.getDpsInits()[0]))
      return failure();
    unsigned loops = generic.getNumLoops();
    if (loops < 3 || generic.getNumReductionLoops() != 1 ||
        generic.getIteratorTypesArray().back() != utils::IteratorType::reduction)
      return failure();
    // out[l0..ln-1] += W[l0..ln] * x[ln], with W outside the step and x a
    // step input.
    MLIRContext *ctx = getContext();
    AffineMap all = AffineMap::getMultiDimIdentityMap(loops, ctx);
    AffineMap last = AffineMap::get(loops, 0, getAffineDimExpr(loops - 1, ctx));
    AffineMap leading = all.getMajorSubMap(loops - 1);
    SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
    unsigned matrixIndex = maps[0] == all ? 0 : 1;
    if (maps[matrixIndex] != all || maps[1 - matrixIndex] != last || maps[2] != leading)
      return failure();
    Block *body = generic.getBody();
    if (body->getOperations().size() != 3)
      return failure();
    auto add = body->getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
    auto mul = add ? add.getRhs().getDefiningOp<arith::MulFOp>() : nullptr;
    if (!mul || add.getLhs() != body->getArgument(2) ||
        !((mul.getLhs() == body->getArgument(0) && mul.getRhs() == body->getArgument(1)) ||
          (mul.getLhs() == body->getArgument(1) && mul.getRhs() == body->getArgument(0))))
      return failure();
    Value matrix = generic.getDpsInputs()[matrixIndex];
    Value vector = generic.getDpsInputs()[1 - matrixIndex];
    auto arg = dyn_cast<BlockArgument>(vector);
    auto matrixType = dyn_cast<RankedTensorType>(matrix.getType());
    if (!arg || arg.getOwner() != &op.getBody() || arg.getArgNumber() < op.getNumStates() ||
        op.getStep().isAncestor(matrix.getParentRegion()) || !matrixType ||
        !matrixType.hasStaticShape() || !matrixType.getElementType().isF32())
      return failure();

    Location loc = generic.getLoc();
    ReassociationIndices rows;
    for (unsigned d = 0; d + 1 < loops; ++d)
      rows.push_back(d);
    SmallVector<ReassociationIndices> groups = {rows, {loops - 1}};
    Value flat;
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(op);
      flat = tensor::CollapseShapeOp::create(rewriter, loc, matrix, groups);
    }
    auto resultType = cast<RankedTensorType>(generic.getResult(0).getType());
    Value zero = arith::ConstantOp::create(rewriter, loc, rewriter.getF32FloatAttr(0.0f));
    Value empty = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<int64_t>{resultType.getNumElements()}, rewriter.getF32Type());
    Value init = linalg::FillOp::create(rewriter, loc, ValueRange{zero}, ValueRange{empty})
                     .getResult(0);
    Value product =
        linalg::MatvecOp::create(rewriter, loc, TypeRange{init.getType()},
                                 ValueRange{flat, vector}, ValueRange{init})
            .getResult(0);
    rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(generic, resultType, product,
                                                        SmallVector<ReassociationIndices>{rows});
    return success();
  }
};

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
    replacement.setReverse(op.getReverse());
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
    patterns.add<HeadsProjectionAsMatvec, HoistProjections>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace mlir::rec
