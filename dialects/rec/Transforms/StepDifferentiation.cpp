//===- StepDifferentiation.cpp - The Jacobian of a step, as IR ------------===//
//
// Forward-mode differentiation of a step region: the tangent of every value
// follows the primal IR op by op (a Jacobian-vector product), with one rule
// per op (the rules seqc/Analysis/StepJacobian.h classifies). A diagonal
// Jacobian is one product with the all-ones direction; a block-diagonal one
// with k states is k products, one per state; a dense one is N products,
// one per state element, in a loop over the unit directions.
//
//===----------------------------------------------------------------------===//
#include "StepDifferentiation.h"

#include "seqc/Analysis/StepJacobian.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

using seqc::differentiableOperands;
using seqc::isBilinearContraction;
using seqc::isSumReduce;

namespace mlir::rec {

namespace {

Value splat(OpBuilder &b, Location loc, Type type, double value) {
  return splatConstant(b, loc, type, value);
}

/// Jacobian-vector products of one step: the tangent of every value, null
/// where it is zero.
class TangentBuilder {
public:
  /// The tangents go after the step's ops, in the same block: only the ops
  /// there now are differentiated, never the tangents of an earlier run.
  TangentBuilder(OpBuilder &b, Block &body) : b(b), body(body) {
    for (Operation &op : body.without_terminator())
      primal.push_back(&op);
  }

  /// Propagates `seeds` (one per leading block argument, null for zero)
  /// through the step; returns the tangents of `targets`, zero constants
  /// where nothing flows.
  FailureOr<SmallVector<Value>> run(ArrayRef<Value> seeds, ArrayRef<Value> targets,
                                    std::string &error) {
    tangents.clear();
    for (auto [index, seed] : llvm::enumerate(seeds))
      if (seed)
        tangents[body.getArgument(index)] = seed;
    for (Operation *op : primal) {
      bool flows = llvm::any_of(differentiableOperands(op),
                                [&](Value operand) { return tangents.count(operand); });
      if (!flows)
        continue;
      if (failed(differentiate(op))) {
        error = ("'" + op->getName().getStringRef() + "' has no derivative rule").str();
        return failure();
      }
    }
    SmallVector<Value> result;
    for (Value target : targets)
      result.push_back(orZero(target));
    return result;
  }

private:
  Value tangent(Value value) const { return tangents.lookup(value); }
  Value orZero(Value value) {
    if (Value t = tangent(value))
      return t;
    return splat(b, value.getLoc(), value.getType(), 0.0);
  }
  Value add(Location loc, Value x, Value y) {
    if (!x)
      return y;
    if (!y)
      return x;
    return arith::AddFOp::create(b, loc, x, y);
  }
  Value mul(Location loc, Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value constant(Value like, double value) {
    return splat(b, like.getLoc(), like.getType(), value);
  }

  LogicalResult set(Operation *op, Value tangentOfResult) {
    if (tangentOfResult)
      tangents[op->getResult(0)] = tangentOfResult;
    return success();
  }
  Value tangentOf(Operation *op, unsigned i) const { return tangent(op->getOperand(i)); }

  /// The rule of `op`, by family.
  LogicalResult differentiate(Operation *op) {
    if (isa<arith::CmpFOp, arith::ConstantOp, tensor::EmptyOp, linalg::FillOp>(op))
      return success();
    if (isa<arith::ArithDialect>(op->getDialect()))
      return differentiateArith(op);
    if (isa<math::MathDialect>(op->getDialect()))
      return differentiateMath(op);
    if (isa<tensor::ConcatOp, tensor::CollapseShapeOp, tensor::ExpandShapeOp,
            tensor::ExtractSliceOp, linalg::BroadcastOp, linalg::TransposeOp, linalg::CopyOp>(
            op))
      return differentiateLinear(op);
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
      return differentiateReduction(linalgOp);
    return failure();
  }

  /// + - * / neg max min select.
  LogicalResult differentiateArith(Operation *op) {
    Location loc = op->getLoc();
    auto operand = [&](unsigned i) { return op->getOperand(i); };
    auto t = [&](unsigned i) { return tangentOf(op, i); };
    Value y = op->getResult(0);
    return llvm::TypeSwitch<Operation *, LogicalResult>(op)
        .Case<arith::AddFOp>([&](auto) { return set(op, add(loc, t(0), t(1))); })
        .Case<arith::SubFOp>([&](auto) {
          if (!t(1))
            return set(op, t(0));
          Value negated = arith::NegFOp::create(b, loc, t(1));
          return set(op, t(0) ? Value(arith::SubFOp::create(b, loc, t(0), t(1))) : negated);
        })
        .Case<arith::NegFOp>([&](auto) { return set(op, arith::NegFOp::create(b, loc, t(0))); })
        .Case<arith::MulFOp>([&](auto) {
          // d(a b) = da b + a db
          Value left = t(0) ? mul(loc, t(0), operand(1)) : Value();
          Value right = t(1) ? mul(loc, operand(0), t(1)) : Value();
          return set(op, add(loc, left, right));
        })
        .Case<arith::DivFOp>([&](auto) {
          // d(a / b) = (da - (a / b) db) / b
          Value numerator = t(0);
          if (t(1)) {
            Value scaled = mul(loc, y, t(1));
            numerator = numerator ? Value(arith::SubFOp::create(b, loc, numerator, scaled))
                                  : Value(arith::NegFOp::create(b, loc, scaled));
          }
          return set(op, arith::DivFOp::create(b, loc, numerator, operand(1)));
        })
        .Case<arith::MaximumFOp, arith::MinimumFOp>([&](Operation *op) {
          // The derivative of the operand that is chosen (the first on a tie).
          auto predicate = isa<arith::MaximumFOp>(op) ? arith::CmpFPredicate::OGE
                                                      : arith::CmpFPredicate::OLE;
          Value first = arith::CmpFOp::create(b, loc, predicate, operand(0), operand(1));
          return set(op, arith::SelectOp::create(b, loc, first, orZero(operand(0)),
                                                 orZero(operand(1))));
        })
        .Case<arith::SelectOp>([&](arith::SelectOp select) {
          return set(op, arith::SelectOp::create(b, loc, select.getCondition(),
                                                 orZero(select.getTrueValue()),
                                                 orZero(select.getFalseValue())));
        })
        .Default([](Operation *) { return failure(); });
  }

  /// exp log log1p sqrt rsqrt abs tanh pow.
  LogicalResult differentiateMath(Operation *op) {
    Location loc = op->getLoc();
    auto operand = [&](unsigned i) { return op->getOperand(i); };
    auto t = [&](unsigned i) { return tangentOf(op, i); };
    Value y = op->getResult(0);
    return llvm::TypeSwitch<Operation *, LogicalResult>(op)
        .Case<math::ExpOp>([&](auto) { return set(op, mul(loc, y, t(0))); })
        .Case<math::LogOp>([&](auto) {
          return set(op, arith::DivFOp::create(b, loc, t(0), operand(0)));
        })
        .Case<math::Log1pOp>([&](auto) {
          Value onePlus = arith::AddFOp::create(b, loc, operand(0), constant(y, 1.0));
          return set(op, arith::DivFOp::create(b, loc, t(0), onePlus));
        })
        .Case<math::SqrtOp>([&](auto) {
          // d sqrt(a) = da / (2 sqrt(a))
          Value twice = mul(loc, y, constant(y, 2.0));
          return set(op, arith::DivFOp::create(b, loc, t(0), twice));
        })
        .Case<math::RsqrtOp>([&](auto) {
          // d a^(-1/2) = -1/2 a^(-3/2) da
          Value cube = mul(loc, mul(loc, y, y), y);
          return set(op, mul(loc, mul(loc, cube, constant(y, -0.5)), t(0)));
        })
        .Case<math::AbsFOp>([&](auto) {
          Value negative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, operand(0),
                                                 constant(y, 0.0));
          return set(op, arith::SelectOp::create(b, loc, negative,
                                                 arith::NegFOp::create(b, loc, t(0)), t(0)));
        })
        .Case<math::TanhOp>([&](auto) {
          // d tanh(a) = (1 - tanh(a)^2) da
          Value slope = arith::SubFOp::create(b, loc, constant(y, 1.0), mul(loc, y, y));
          return set(op, mul(loc, slope, t(0)));
        })
        .Case<math::PowFOp>([&](auto) { return set(op, powTangent(op)); })
        .Default([](Operation *) { return failure(); });
  }

  /// d a^p = p a^(p-1) da + a^p log(a) dp
  Value powTangent(Operation *op) {
    Location loc = op->getLoc();
    Value base = op->getOperand(0), exponent = op->getOperand(1), y = op->getResult(0);
    Value result;
    if (Value dBase = tangentOf(op, 0)) {
      Value lowered = arith::SubFOp::create(b, loc, exponent, constant(y, 1.0));
      Value slope = mul(loc, exponent, math::PowFOp::create(b, loc, base, lowered));
      result = mul(loc, slope, dBase);
    }
    if (Value dExponent = tangentOf(op, 1)) {
      Value slope = mul(loc, y, math::LogOp::create(b, loc, base));
      result = add(loc, result, mul(loc, slope, dExponent));
    }
    return result;
  }

  /// Ops linear in their first operand (reshapes, slices, broadcasts,
  /// transposes, copies: the other operands are sizes or an overwritten
  /// init), and concatenations: the same op on the tangents.
  LogicalResult differentiateLinear(Operation *op) {
    if (auto concat = dyn_cast<tensor::ConcatOp>(op)) {
      SmallVector<Value> parts;
      for (Value input : concat.getInputs())
        parts.push_back(orZero(input));
      return set(op, tensor::ConcatOp::create(b, op->getLoc(), concat.getDim(), parts));
    }
    IRMapping mapping;
    mapping.map(op->getOperand(0), tangentOf(op, 0));
    return set(op, b.clone(*op, mapping)->getResult(0));
  }

  /// Sums and bilinear contractions.
  LogicalResult differentiateReduction(linalg::LinalgOp linalgOp) {
    Operation *op = linalgOp.getOperation();
    Value init = linalgOp.getDpsInits()[0];
    if (isSumReduce(op)) {
      // init + sum(in): the tangent is t(init) + sum(t(in)).
      IRMapping mapping;
      mapping.map(op->getOperand(0), orZero(op->getOperand(0)));
      mapping.map(init, orZero(init));
      return set(op, b.clone(*op, mapping)->getResult(0));
    }
    if (!isBilinearContraction(op))
      return failure();
    // init + sum(in0 in1): the tangent accumulates t(init), then the
    // contraction of t(in0) with in1, then of in0 with t(in1).
    Value accumulated = orZero(init);
    for (unsigned i = 0; i < 2; ++i) {
      Value input = linalgOp.getDpsInputs()[i];
      Value inputTangent = tangent(input);
      if (!inputTangent)
        continue;
      IRMapping mapping;
      mapping.map(input, inputTangent);
      mapping.map(init, accumulated);
      Operation *clone = b.clone(*op, mapping);
      // The same value may be both inputs (h . h): map only operand i.
      clone->setOperand(i, inputTangent);
      clone->setOperand(1 - i, linalgOp.getDpsInputs()[1 - i]);
      accumulated = clone->getResult(0);
    }
    return set(op, accumulated);
  }

  OpBuilder &b;
  Block &body;
  SmallVector<Operation *> primal;
  DenseMap<Value, Value> tangents;
};

/// [shape] -> [N], flattened in row-major order.
Value flatten(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  auto flat = RankedTensorType::get({type.getNumElements()}, type.getElementType());
  if (type.getRank() == 1)
    return value;
  if (type.getRank() == 0)
    return tensor::ExpandShapeOp::create(b, loc, flat, value, ArrayRef<ReassociationIndices>{});
  ReassociationIndices all;
  for (int64_t d = 0; d < type.getRank(); ++d)
    all.push_back(d);
  return tensor::CollapseShapeOp::create(b, loc, flat, value,
                                         ArrayRef<ReassociationIndices>{all});
}

/// [N] -> `type`, the inverse of flatten.
Value unflatten(OpBuilder &b, Location loc, Value flat, RankedTensorType type) {
  if (type.getRank() == 1)
    return flat;
  if (type.getRank() == 0)
    return tensor::CollapseShapeOp::create(b, loc, type, flat, ArrayRef<ReassociationIndices>{});
  ReassociationIndices all;
  for (int64_t d = 0; d < type.getRank(); ++d)
    all.push_back(d);
  return tensor::ExpandShapeOp::create(b, loc, type, flat, ArrayRef<ReassociationIndices>{all});
}

/// The dense Jacobian (or, with `diagonalOnly`, its diagonal as a vector) by
/// N products with the unit directions, in a loop.
FailureOr<Value> buildDenseJacobian(OpBuilder &b, Block &body, unsigned numStates,
                                    int64_t n, bool diagonalOnly, std::string &error) {
  Location loc = body.getParentOp()->getLoc();
  Type f32 = b.getF32Type();
  auto vector = RankedTensorType::get({n}, f32);
  auto matrix = RankedTensorType::get({n, n}, f32);
  Value initial = splat(b, loc, diagonalOnly ? Type(vector) : Type(matrix), 0.0);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value end = arith::ConstantIndexOp::create(b, loc, n);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(b, loc, zero, end, one, ValueRange{initial});
  OpBuilder::InsertionGuard guard(b);
  // Without a body builder, the loop may or may not have its terminator yet.
  Block *loopBody = loop.getBody();
  Operation *terminator = loopBody->empty() ? nullptr : &loopBody->back();
  if (terminator && terminator->hasTrait<OpTrait::IsTerminator>()) {
    b.setInsertionPoint(terminator);
  } else {
    terminator = nullptr;
    b.setInsertionPointToEnd(loopBody);
  }
  Value column = loop.getInductionVar();
  Value accumulated = loop.getRegionIterArgs()[0];

  // The unit direction e_column, cut into one seed per state.
  Value unit = tensor::InsertOp::create(b, loc, arith::ConstantOp::create(
                                                    b, loc, b.getF32FloatAttr(1.0f)),
                                        splat(b, loc, vector, 0.0), ValueRange{column});
  SmallVector<Value> seeds, targets;
  int64_t offset = 0;
  auto yield = body.getTerminator();
  for (unsigned i = 0; i < numStates; ++i) {
    auto type = cast<RankedTensorType>(body.getArgument(i).getType());
    int64_t size = type.getNumElements();
    Value part = tensor::ExtractSliceOp::create(
        b, loc, unit, ArrayRef<OpFoldResult>{b.getIndexAttr(offset)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(size)}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    seeds.push_back(unflatten(b, loc, part, type));
    targets.push_back(yield->getOperand(i));
    offset += size;
  }
  TangentBuilder tangents(b, body);
  FailureOr<SmallVector<Value>> columnParts = tangents.run(seeds, targets, error);
  if (failed(columnParts))
    return failure();
  Value columnValues = flattenStates(b, loc, *columnParts);
  Value next;
  if (diagonalOnly) {
    Value element = tensor::ExtractOp::create(b, loc, columnValues, ValueRange{column});
    next = tensor::InsertOp::create(b, loc, element, accumulated, ValueRange{column});
  } else {
    next = tensor::InsertSliceOp::create(
        b, loc, columnValues, accumulated,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), column},
        ArrayRef<OpFoldResult>{b.getIndexAttr(n), b.getIndexAttr(1)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }
  if (terminator)
    terminator->setOperands(next);
  else
    scf::YieldOp::create(b, loc, next);
  return loop.getResult(0);
}

} // namespace

Value splatConstant(OpBuilder &b, Location loc, Type type, double value) {
  auto tensorType = cast<RankedTensorType>(type);
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(tensorType, b.getFloatAttr(tensorType.getElementType(),
                                                                value)));
}

Value flattenStates(OpBuilder &b, Location loc, ArrayRef<Value> states) {
  SmallVector<Value> parts;
  for (Value state : states)
    parts.push_back(flatten(b, loc, state));
  if (parts.size() == 1)
    return parts[0];
  return tensor::ConcatOp::create(b, loc, 0, parts);
}

FailureOr<SmallVector<Value>> buildStepJacobian(Block &body, unsigned numStates,
                                                JacobianStructure structure, bool quasi,
                                                std::string &error) {
  OpBuilder b(body.getTerminator());
  Location loc = body.getParentOp()->getLoc();
  auto yield = body.getTerminator();
  SmallVector<Value> newStates(yield->getOperands().take_front(numStates));
  SmallVector<Value> parts;
  TangentBuilder tangents(b, body);
  auto ones = [&](unsigned i) { return splat(b, loc, body.getArgument(i).getType(), 1.0); };

  switch (structure) {
  case JacobianStructure::Diagonal: {
    // No element depends on another: one product with all ones.
    SmallVector<Value> seeds;
    for (unsigned i = 0; i < numStates; ++i)
      seeds.push_back(ones(i));
    FailureOr<SmallVector<Value>> result = tangents.run(seeds, newStates, error);
    if (failed(result))
      return failure();
    return *result;
  }
  case JacobianStructure::BlockDiagonal: {
    // One product per state j gives column j of every block.
    SmallVector<Value> blocks(numStates * numStates);
    for (unsigned j = 0; j < numStates; ++j) {
      SmallVector<Value> seeds(numStates);
      seeds[j] = ones(j);
      FailureOr<SmallVector<Value>> column = tangents.run(seeds, newStates, error);
      if (failed(column))
        return failure();
      for (unsigned i = 0; i < numStates; ++i)
        blocks[i * numStates + j] = (*column)[i];
    }
    if (!quasi)
      return blocks;
    for (unsigned i = 0; i < numStates; ++i)
      parts.push_back(blocks[i * numStates + i]);
    return parts;
  }
  case JacobianStructure::Dense: {
    int64_t n = 0;
    for (unsigned i = 0; i < numStates; ++i)
      n += cast<RankedTensorType>(body.getArgument(i).getType()).getNumElements();
    FailureOr<Value> jacobian = buildDenseJacobian(b, body, numStates, n, quasi, error);
    if (failed(jacobian))
      return failure();
    if (!quasi)
      return SmallVector<Value>{*jacobian};
    int64_t offset = 0;
    for (unsigned i = 0; i < numStates; ++i) {
      auto type = cast<RankedTensorType>(body.getArgument(i).getType());
      int64_t size = type.getNumElements();
      Value part = tensor::ExtractSliceOp::create(
          b, loc, *jacobian, ArrayRef<OpFoldResult>{b.getIndexAttr(offset)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(size)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
      parts.push_back(unflatten(b, loc, part, type));
      offset += size;
    }
    return parts;
  }
  }
  return failure();
}

} // namespace mlir::rec
