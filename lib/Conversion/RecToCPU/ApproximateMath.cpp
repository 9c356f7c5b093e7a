//===- ApproximateMath.cpp - Vectorisable f32 transcendental functions ----===//
//
// seqc-approximate-math: exp, log1p and tanh sit in the inner loops of gates
// (sigmoid, softplus, Mamba's discretisation). As libm calls they keep those
// loops scalar; as MLIR's polynomial approximations they are arithmetic that
// LLVM vectorises.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace seqc {
#define GEN_PASS_DEF_APPROXIMATEMATH
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {
/// x^y on scalar f32 as exp(y log |x|), with the sign and the special cases
/// of C's powf that upstream's expansion (exp(y log x)) leaves out.
struct ExpandScalarPow : OpRewritePattern<math::PowFOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(math::PowFOp op, PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    Location loc = op.getLoc();
    Value x = op.getLhs(), y = op.getRhs();
    auto constant = [&](double value) -> Value {
      return arith::ConstantOp::create(rewriter, loc, rewriter.getF32FloatAttr(float(value)));
    };
    auto compare = [&](arith::CmpFPredicate predicate, Value a, Value b) -> Value {
      return arith::CmpFOp::create(rewriter, loc, predicate, a, b);
    };
    Value magnitude = math::ExpOp::create(
        rewriter, loc,
        arith::MulFOp::create(rewriter, loc, y,
                              math::LogOp::create(rewriter, loc, math::AbsFOp::create(rewriter, loc, x))));
    Value yIsInteger = compare(arith::CmpFPredicate::OEQ, math::FloorOp::create(rewriter, loc, y), y);
    Value half = arith::MulFOp::create(rewriter, loc, y, constant(0.5));
    Value yIsOdd = arith::AndIOp::create(
        rewriter, loc, yIsInteger,
        compare(arith::CmpFPredicate::ONE, math::FloorOp::create(rewriter, loc, half), half));
    Value xIsNegative = compare(arith::CmpFPredicate::OLT, x, constant(0.0));
    Value result = arith::SelectOp::create(
        rewriter, loc, arith::AndIOp::create(rewriter, loc, xIsNegative, yIsOdd),
        arith::NegFOp::create(rewriter, loc, magnitude), magnitude);
    Value fractionalOfNegative = arith::AndIOp::create(
        rewriter, loc, xIsNegative,
        arith::XOrIOp::create(rewriter, loc, yIsInteger,
                              arith::ConstantIntOp::create(rewriter, loc, rewriter.getI1Type(), 1)));
    result = arith::SelectOp::create(rewriter, loc, fractionalOfNegative,
                                     constant(std::nan("")), result);
    Value one = constant(1.0);
    Value isOne = arith::OrIOp::create(rewriter, loc,
                                       compare(arith::CmpFPredicate::OEQ, y, constant(0.0)),
                                       compare(arith::CmpFPredicate::OEQ, x, one));
    rewriter.replaceOpWithNewOp<arith::SelectOp>(op, isOne, one, result);
    return success();
  }
};

struct ApproximateMathPass : seqc::impl::ApproximateMathBase<ApproximateMathPass> {
  using ApproximateMathBase::ApproximateMathBase;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    if (expandPow)
      patterns.add<ExpandScalarPow>(&getContext());
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
