//===- StepJacobian.cpp - The structure of a step's Jacobian --------------===//
//
// How each new state depends on each old state, element by element, read
// from the step's ops through one derivative rule per op: elementwise ops
// (arith, math) keep "element e depends on element e only", which is what
// makes a Jacobian diagonal or block-diagonal; the linear ops (broadcasts,
// reshapes, slices, concatenations, sums) and the contractions (matvec,
// matmul, einsum) mix elements, and a step that uses them on a state has a
// dense Jacobian. The same rules drive the differentiation that writes the
// Jacobian (dialects/rec/Transforms/StepDifferentiation.cpp).
//
//===----------------------------------------------------------------------===//
#include "seqc/Analysis/StepJacobian.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace seqc {

bool isSumReduce(Operation *op) {
  auto reduce = dyn_cast<linalg::ReduceOp>(op);
  return reduce && reduce.getInputs().size() == 1 &&
         llvm::all_of(reduce.getCombiner().front().without_terminator(),
                      [](Operation &inner) { return isa<arith::AddFOp>(inner); });
}

bool isBilinearContraction(Operation *op) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return linalgOp && linalgOp.getNumDpsInputs() == 2 && linalgOp.getNumDpsInits() == 1 &&
         linalg::isaContractionOpInterface(linalgOp);
}

DerivativeRule derivativeRuleOf(Operation *op) {
  if (isa<arith::CmpFOp, arith::ConstantOp, tensor::EmptyOp, linalg::FillOp>(op))
    return DerivativeRule::Zero;
  if (isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp, arith::NegFOp,
          arith::MaximumFOp, arith::MinimumFOp, arith::SelectOp, math::ExpOp, math::LogOp,
          math::Log1pOp, math::SqrtOp, math::RsqrtOp, math::AbsFOp, math::TanhOp,
          math::PowFOp>(op))
    return DerivativeRule::Elementwise;
  if (isa<linalg::BroadcastOp, linalg::TransposeOp, linalg::CopyOp, tensor::CollapseShapeOp,
          tensor::ExpandShapeOp, tensor::ExtractSliceOp, tensor::ConcatOp>(op) ||
      isSumReduce(op) || isBilinearContraction(op))
    return DerivativeRule::Mixing;
  return DerivativeRule::None;
}

OperandRange differentiableOperands(Operation *op) {
  if (auto select = dyn_cast<arith::SelectOp>(op))
    return op->getOperands().drop_front();
  return op->getOperands();
}

std::string JacobianInfo::describe() const {
  switch (structure) {
  case rec::JacobianStructure::Diagonal:
    return "diagonal";
  case rec::JacobianStructure::BlockDiagonal: {
    std::string k = std::to_string(dependence.size());
    return "block-diagonal (" + k + "x" + k + " blocks)";
  }
  case rec::JacobianStructure::Dense: {
    std::string n = std::to_string(numElements);
    return "dense (" + n + "x" + n + ")";
  }
  }
  return "?";
}

JacobianInfo analyseStepJacobian(Block &body, unsigned numStates) {
  JacobianInfo info;
  info.dependence.assign(numStates,
                         SmallVector<ElementDependence>(numStates, ElementDependence::None));
  for (unsigned i = 0; i < numStates; ++i)
    info.numElements += cast<RankedTensorType>(body.getArgument(i).getType()).getNumElements();
  auto yield = body.getTerminator();
  for (unsigned j = 0; j < numStates; ++j) {
    DenseMap<Value, ElementDependence> dependence;
    dependence[body.getArgument(j)] = ElementDependence::Elementwise;
    auto of = [&](Value value) { return dependence.lookup(value); };
    for (Operation &op : body.without_terminator()) {
      ElementDependence worst = ElementDependence::None;
      for (Value operand : differentiableOperands(&op))
        worst = std::max(worst, of(operand));
      // Regions (linalg payloads) read only their own arguments here.
      if (worst == ElementDependence::None)
        continue;
      DerivativeRule kind = derivativeRuleOf(&op);
      if (kind == DerivativeRule::None) {
        if (info.differentiable) {
          info.differentiable = false;
          info.whyNot = ("'" + op.getName().getStringRef() +
                         "' is applied to a state and has no derivative rule")
                            .str();
        }
        continue;
      }
      ElementDependence result = kind == DerivativeRule::Zero          ? ElementDependence::None
                                 : kind == DerivativeRule::Elementwise ? worst
                                                                 : ElementDependence::Any;
      for (Value value : op.getResults())
        dependence[value] = result;
    }
    for (unsigned i = 0; i < numStates; ++i)
      info.dependence[i][j] = of(yield->getOperand(i));
  }

  bool crossTerms = false, mixing = false;
  for (unsigned i = 0; i < numStates; ++i)
    for (unsigned j = 0; j < numStates; ++j) {
      mixing |= info.dependence[i][j] == ElementDependence::Any;
      crossTerms |= i != j && info.dependence[i][j] != ElementDependence::None;
    }
  bool oneType = llvm::all_of(body.getArguments().take_front(numStates), [&](Value arg) {
    return arg.getType() == body.getArgument(0).getType();
  });
  if (!mixing && !crossTerms)
    info.structure = rec::JacobianStructure::Diagonal;
  else if (!mixing && oneType)
    info.structure = rec::JacobianStructure::BlockDiagonal;
  else
    info.structure = rec::JacobianStructure::Dense;
  return info;
}

} // namespace seqc
