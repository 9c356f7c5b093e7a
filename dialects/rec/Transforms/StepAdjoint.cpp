//===- StepAdjoint.cpp - Reverse-mode differentiation of step IR ----------===//
//
// One vector-Jacobian rule per op a step can hold (the ops of
// StepDifferentiation.cpp's forward-mode rules, plus max/min reductions).
// Cotangents are accumulated per value and created lazily: a value no
// cotangent reaches costs nothing, and an argument whose gradient nobody
// asked for (`receives`) stops the flow.
//
//===----------------------------------------------------------------------===//
#include "StepAdjoint.h"
#include "StepDifferentiation.h"

#include "seqc/Analysis/StepJacobian.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::rec {

namespace {

Value splat(OpBuilder &b, Location loc, Type type, double value) {
  return splatConstant(b, loc, type, value);
}

/// A zero tensor of `type` (static shape) as linalg.fill, which unlike a
/// constant bufferizes into a fresh buffer a linalg op may write.
Value zeroFilled(OpBuilder &b, Location loc, RankedTensorType type, ValueRange dynamicSizes) {
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                        dynamicSizes);
  Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(type.getElementType(), 0.0));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// The reduction of a linalg.reduce with one input, when its combiner is a
/// single addf, maximumf or minimumf.
Operation *reductionCombiner(linalg::ReduceOp reduce) {
  if (reduce.getInputs().size() != 1)
    return nullptr;
  Block &combiner = reduce.getCombiner().front();
  if (combiner.getOperations().size() != 2)
    return nullptr;
  Operation *op = &combiner.front();
  return isa<arith::AddFOp, arith::MaximumFOp, arith::MinimumFOp>(op) ? op : nullptr;
}

/// out + in0 * in1 over any loops (contractions, and outer products, which
/// have no reduction loop and so are not linalg contractions).
bool isMultiplyAccumulate(Operation *op) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  if (!linalgOp || linalgOp.getNumDpsInputs() != 2 || linalgOp.getNumDpsInits() != 1 ||
      op->getNumResults() != 1)
    return false;
  if (seqc::isBilinearContraction(op))
    return true;
  Block *body = linalgOp.getBlock();
  if (body->getOperations().size() != 3)
    return false;
  auto mul = dyn_cast<arith::MulFOp>(body->front());
  auto add = dyn_cast<arith::AddFOp>(*std::next(body->begin()));
  auto yield = dyn_cast<linalg::YieldOp>(body->back());
  if (!mul || !add || !yield || yield->getOperand(0) != add.getResult())
    return false;
  Value in0 = body->getArgument(0), in1 = body->getArgument(1), out = body->getArgument(2);
  bool multipliesInputs = (mul.getLhs() == in0 && mul.getRhs() == in1) ||
                          (mul.getLhs() == in1 && mul.getRhs() == in0);
  bool accumulates = (add.getLhs() == out && add.getRhs() == mul.getResult()) ||
                     (add.getRhs() == out && add.getLhs() == mul.getResult());
  return multipliesInputs && accumulates;
}

} // namespace

bool hasContractionInputCotangent(linalg::LinalgOp op, unsigned i) {
  AffineMap map = op.getMatchingIndexingMap(op.getDpsInputOperand(i));
  return map.isProjectedPermutation(/*allowZeroInResults=*/false);
}

Value contractionInputCotangent(OpBuilder &b, Location loc, linalg::LinalgOp op, unsigned i,
                                Value resultCotangent, Value other, LeadingStepAxis leading) {
  MLIRContext *ctx = b.getContext();
  bool anyLeading = leading.cotangent || leading.other || leading.result;
  unsigned extra = anyLeading ? leading.axes : 0;
  unsigned numLoops = op.getNumLoops() + extra;
  auto shifted = [&](AffineMap map, bool withStep) {
    SmallVector<AffineExpr> results;
    for (unsigned d = 0; withStep && d < extra; ++d)
      results.push_back(getAffineDimExpr(d, ctx));
    for (AffineExpr expr : map.getResults())
      results.push_back(expr.shiftDims(map.getNumDims(), extra));
    return AffineMap::get(numLoops, 0, results, ctx);
  };
  AffineMap inputMap = op.getMatchingIndexingMap(op.getDpsInputOperand(i));
  AffineMap otherMap = op.getMatchingIndexingMap(op.getDpsInputOperand(1 - i));
  AffineMap resultMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  AffineMap outMap = shifted(inputMap, leading.result);
  SmallVector<utils::IteratorType> iterators(numLoops, utils::IteratorType::reduction);
  for (AffineExpr expr : outMap.getResults())
    iterators[cast<AffineDimExpr>(expr).getPosition()] = utils::IteratorType::parallel;
  auto inputType = cast<RankedTensorType>(op.getDpsInputs()[i].getType());
  SmallVector<Value> steps;
  if (leading.result) {
    SmallVector<int64_t> shape(extra, ShapedType::kDynamic);
    llvm::append_range(shape, inputType.getShape());
    inputType = RankedTensorType::get(shape, inputType.getElementType());
    for (unsigned d = 0; d < extra; ++d)
      steps.push_back(tensor::DimOp::create(b, loc, resultCotangent, d));
  }
  Value init = zeroFilled(b, loc, inputType, steps);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{inputType}, ValueRange{resultCotangent, other}, ValueRange{init},
      ArrayRef<AffineMap>{shifted(resultMap, leading.cotangent), shifted(otherMap, leading.other),
                          outMap},
      iterators,
      [](OpBuilder &b, Location loc, ValueRange args) {
        Value product = arith::MulFOp::create(b, loc, args[0], args[1]);
        linalg::YieldOp::create(b, loc, Value(arith::AddFOp::create(b, loc, args[2], product)));
      });
  return generic.getResult(0);
}

void AdjointBuilder::seed(Value value, Value cotangent) {
  if (!cotangent || !receives(value))
    return;
  Value &slot = cotangents[value];
  slot = slot ? Value(arith::AddFOp::create(b, value.getLoc(), slot, cotangent)) : cotangent;
}

bool AdjointBuilder::hasRule(Operation *op) {
  if (auto reduce = dyn_cast<linalg::ReduceOp>(op))
    return reductionCombiner(reduce) != nullptr;
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    if (isMultiplyAccumulate(op))
      return hasContractionInputCotangent(linalgOp, 0) &&
             hasContractionInputCotangent(linalgOp, 1);
  return seqc::derivativeRuleOf(op) != seqc::DerivativeRule::None;
}

LogicalResult AdjointBuilder::run(ArrayRef<Operation *> ops, std::string &error) {
  for (Operation *op : llvm::reverse(ops)) {
    if (op->getNumResults() != 1)
      continue;
    Value dy = cotangent(op->getResult(0));
    if (!dy)
      continue;
    if (!hasRule(op) || failed(differentiate(op, dy))) {
      error = ("'" + op->getName().getStringRef() + "' has no gradient rule").str();
      return failure();
    }
  }
  return success();
}

LogicalResult AdjointBuilder::differentiate(Operation *op, Value dy) {
  if (isa<arith::CmpFOp, arith::ConstantOp, tensor::EmptyOp, linalg::FillOp>(op))
    return success();
  if (isa<arith::ArithDialect>(op->getDialect()))
    return differentiateArith(op, dy);
  if (isa<math::MathDialect>(op->getDialect()))
    return differentiateMath(op, dy);
  if (isa<tensor::TensorDialect>(op->getDialect()) || isa<linalg::BroadcastOp,
                                                          linalg::TransposeOp, linalg::CopyOp>(op))
    return differentiateShape(op, dy);
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    return differentiateLinalg(linalgOp, dy);
  return failure();
}

/// + - * / neg max min select.
LogicalResult AdjointBuilder::differentiateArith(Operation *op, Value dy) {
  Location loc = op->getLoc();
  auto operand = [&](unsigned i) { return op->getOperand(i); };
  auto mul = [&](Value x, Value y) -> Value { return arith::MulFOp::create(b, loc, x, y); };
  auto neg = [&](Value x) -> Value { return arith::NegFOp::create(b, loc, x); };
  Value y = op->getResult(0);
  auto zero = [&]() { return splat(b, loc, y.getType(), 0.0); };
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<arith::AddFOp>([&](auto) {
        seed(operand(0), dy);
        seed(operand(1), dy);
        return success();
      })
      .Case<arith::SubFOp>([&](auto) {
        seed(operand(0), dy);
        if (receives(operand(1)))
          seed(operand(1), neg(dy));
        return success();
      })
      .Case<arith::NegFOp>([&](auto) {
        seed(operand(0), neg(dy));
        return success();
      })
      .Case<arith::MulFOp>([&](auto) {
        if (receives(operand(0)))
          seed(operand(0), mul(dy, operand(1)));
        if (receives(operand(1)))
          seed(operand(1), mul(dy, operand(0)));
        return success();
      })
      .Case<arith::DivFOp>([&](auto) {
        // d(a / b) = da / b - (a / b) db / b
        Value scaled = arith::DivFOp::create(b, loc, dy, operand(1));
        seed(operand(0), scaled);
        if (receives(operand(1)))
          seed(operand(1), neg(mul(scaled, y)));
        return success();
      })
      .Case<arith::MaximumFOp, arith::MinimumFOp>([&](Operation *op) {
        // The operand that is chosen takes the cotangent (the first on a
        // tie), as the forward-mode rule.
        auto predicate = isa<arith::MaximumFOp>(op) ? arith::CmpFPredicate::OGE
                                                    : arith::CmpFPredicate::OLE;
        Value first = arith::CmpFOp::create(b, loc, predicate, operand(0), operand(1));
        if (receives(operand(0)))
          seed(operand(0), arith::SelectOp::create(b, loc, first, dy, zero()));
        if (receives(operand(1)))
          seed(operand(1), arith::SelectOp::create(b, loc, first, zero(), dy));
        return success();
      })
      .Case<arith::SelectOp>([&](arith::SelectOp select) {
        if (receives(select.getTrueValue()))
          seed(select.getTrueValue(),
               arith::SelectOp::create(b, loc, select.getCondition(), dy, zero()));
        if (receives(select.getFalseValue()))
          seed(select.getFalseValue(),
               arith::SelectOp::create(b, loc, select.getCondition(), zero(), dy));
        return success();
      })
      .Default([](Operation *) { return failure(); });
}

/// exp log log1p sqrt rsqrt abs tanh pow.
LogicalResult AdjointBuilder::differentiateMath(Operation *op, Value dy) {
  Location loc = op->getLoc();
  Value a = op->getOperand(0), y = op->getResult(0);
  auto constant = [&](double value) { return splat(b, loc, y.getType(), value); };
  auto mul = [&](Value x, Value z) -> Value { return arith::MulFOp::create(b, loc, x, z); };
  auto div = [&](Value x, Value z) -> Value { return arith::DivFOp::create(b, loc, x, z); };
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<math::ExpOp>([&](auto) {
        seed(a, mul(dy, y));
        return success();
      })
      .Case<math::LogOp>([&](auto) {
        seed(a, div(dy, a));
        return success();
      })
      .Case<math::Log1pOp>([&](auto) {
        seed(a, div(dy, arith::AddFOp::create(b, loc, a, constant(1.0))));
        return success();
      })
      .Case<math::SqrtOp>([&](auto) {
        seed(a, div(dy, mul(y, constant(2.0))));
        return success();
      })
      .Case<math::RsqrtOp>([&](auto) {
        // d a^(-1/2) = -1/2 a^(-3/2) da
        seed(a, mul(dy, mul(mul(mul(y, y), y), constant(-0.5))));
        return success();
      })
      .Case<math::AbsFOp>([&](auto) {
        Value negative =
            arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, a, constant(0.0));
        seed(a, arith::SelectOp::create(b, loc, negative, arith::NegFOp::create(b, loc, dy), dy));
        return success();
      })
      .Case<math::TanhOp>([&](auto) {
        seed(a, mul(dy, arith::SubFOp::create(b, loc, constant(1.0), mul(y, y))));
        return success();
      })
      .Case<math::PowFOp>([&](auto) {
        // d a^p = p a^(p-1) da + a^p log(a) dp
        Value exponent = op->getOperand(1);
        if (receives(a)) {
          Value lowered = arith::SubFOp::create(b, loc, exponent, constant(1.0));
          seed(a, mul(dy, mul(exponent, math::PowFOp::create(b, loc, a, lowered))));
        }
        if (receives(exponent))
          seed(exponent, mul(dy, mul(y, math::LogOp::create(b, loc, a))));
        return success();
      })
      .Default([](Operation *) { return failure(); });
}

/// Reshapes, slices, concatenations, broadcasts, transposes and copies: the
/// transposed map of each.
LogicalResult AdjointBuilder::differentiateShape(Operation *op, Value dy) {
  Location loc = op->getLoc();
  Value source = op->getOperand(0);
  auto sourceType = cast<RankedTensorType>(source.getType());
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<tensor::CollapseShapeOp>([&](tensor::CollapseShapeOp collapse) {
        seed(source, tensor::ExpandShapeOp::create(b, loc, sourceType, dy,
                                                   collapse.getReassociationIndices()));
        return success();
      })
      .Case<tensor::ExpandShapeOp>([&](tensor::ExpandShapeOp expand) {
        seed(source, tensor::CollapseShapeOp::create(b, loc, sourceType, dy,
                                                     expand.getReassociationIndices()));
        return success();
      })
      .Case<tensor::ExtractSliceOp>([&](tensor::ExtractSliceOp slice) {
        if (!sourceType.hasStaticShape())
          return failure();
        Value zeros = splat(b, loc, sourceType, 0.0);
        seed(source, tensor::InsertSliceOp::create(b, loc, dy, zeros, slice.getMixedOffsets(),
                                                   slice.getMixedSizes(),
                                                   slice.getMixedStrides()));
        return success();
      })
      .Case<tensor::ConcatOp>([&](tensor::ConcatOp concat) {
        int64_t offset = 0;
        auto resultType = cast<RankedTensorType>(concat.getType());
        for (Value input : concat.getInputs()) {
          auto type = cast<RankedTensorType>(input.getType());
          if (receives(input)) {
            SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0)),
                sizes, strides(type.getRank(), b.getIndexAttr(1));
            for (int64_t size : type.getShape())
              sizes.push_back(b.getIndexAttr(size));
            offsets[concat.getDim()] = b.getIndexAttr(offset);
            seed(input, tensor::ExtractSliceOp::create(b, loc, type, dy, offsets, sizes, strides));
          }
          offset += type.getDimSize(concat.getDim());
        }
        return success(resultType.hasStaticShape());
      })
      .Case<linalg::BroadcastOp>([&](linalg::BroadcastOp broadcast) {
        // The sum over the added axes.
        Value init = zeroFilled(b, loc, sourceType, {});
        auto reduce = linalg::ReduceOp::create(
            b, loc, ValueRange{dy}, ValueRange{init}, broadcast.getDimensions(),
            [](OpBuilder &b, Location loc, ValueRange args) {
              linalg::YieldOp::create(b, loc,
                                      Value(arith::AddFOp::create(b, loc, args[0], args[1])));
            });
        seed(source, reduce.getResult(0));
        return success();
      })
      .Case<linalg::TransposeOp>([&](linalg::TransposeOp transpose) {
        ArrayRef<int64_t> permutation = transpose.getPermutation();
        SmallVector<int64_t> inverse(permutation.size());
        for (auto [i, p] : llvm::enumerate(permutation))
          inverse[p] = i;
        Value init = tensor::EmptyOp::create(b, loc, sourceType.getShape(),
                                             sourceType.getElementType());
        seed(source, linalg::TransposeOp::create(b, loc, dy, init, inverse).getResult()[0]);
        return success();
      })
      .Case<linalg::CopyOp>([&](auto) {
        seed(source, dy);
        return success();
      })
      .Default([](Operation *) { return failure(); });
}

/// Sum, max and min reductions, and bilinear contractions.
LogicalResult AdjointBuilder::differentiateLinalg(linalg::LinalgOp op, Value dy) {
  Location loc = op->getLoc();
  Value init = op.getDpsInits()[0];
  if (auto reduce = dyn_cast<linalg::ReduceOp>(op.getOperation())) {
    Operation *combiner = reductionCombiner(reduce);
    Value input = reduce.getInputs()[0];
    auto inputType = cast<RankedTensorType>(input.getType());
    auto spread = [&](Value value) {
      Value empty = tensor::EmptyOp::create(b, loc, inputType.getShape(),
                                            inputType.getElementType());
      return linalg::BroadcastOp::create(b, loc, value, empty, reduce.getDimensions())
          .getResult()[0];
    };
    if (isa<arith::AddFOp>(combiner)) {
      seed(init, dy);
      if (receives(input))
        seed(input, spread(dy));
      return success();
    }
    // max/min: the elements equal to the result take its cotangent (ties
    // are each given all of it; they have measure zero); the init is the
    // reduction's identity and takes none.
    if (receives(input)) {
      Value chosen = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, input,
                                           spread(op->getResult(0)));
      seed(input,
           arith::SelectOp::create(b, loc, chosen, spread(dy), splat(b, loc, inputType, 0.0)));
    }
    return success();
  }
  if (!isMultiplyAccumulate(op))
    return failure();
  seed(init, dy);
  for (unsigned i = 0; i < 2; ++i) {
    Value input = op.getDpsInputs()[i];
    if (!receives(input) || deferContraction(op, i, dy))
      continue;
    seed(input, contractionInputCotangent(b, loc, op, i, dy, op.getDpsInputs()[1 - i]));
  }
  return success();
}

} // namespace mlir::rec
