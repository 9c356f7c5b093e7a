//===- RecurrenceAnalysis.cpp - How each state of a recurrence recurs -----===//
//
// Classifies each state's update by walking back from the value the step yields
// for it. The rules are the closure of "affine in h with a coefficient that
// depends on no state" under +, -, negation, multiplication by a state-free
// value and division by one; contractions, broadcasts and reshapes that take
// the state once keep it linear but not elementwise. The same rules, in
// buildAffineParts, write the coefficient and the offset as IR.
//
//===----------------------------------------------------------------------===//
#include "seqc/Analysis/RecurrenceAnalysis.h"

#include "seqc/Analysis/AttentionAnalysis.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace seqc {

const char *stateKindName(StateKind kind) {
  switch (kind) {
  case StateKind::ElementwiseAffine:
    return "elementwise-affine";
  case StateKind::Linear:
    return "linear";
  case StateKind::Nonlinear:
    return "nonlinear";
  }
  return "?";
}

const char *formForKind(StateKind kind) {
  switch (kind) {
  case StateKind::ElementwiseAffine:
    return "scan";
  case StateKind::Linear:
    return "chunk";
  case StateKind::Nonlinear:
    return "newton";
  }
  return "?";
}

std::string modelNameOf(Value value) {
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg)
    return "";
  auto model = dyn_cast<rec::ModelOp>(arg.getOwner()->getParentOp());
  if (!model)
    return "";
  unsigned index = arg.getArgNumber();
  if (index < rec::ModelOp::kNumSizeArgs)
    return "";
  index -= rec::ModelOp::kNumSizeArgs;
  for (ArrayAttr names :
       {model.getInputNames(), model.getParamNames(), model.getStateNames()}) {
    if (index < names.size())
      return cast<StringAttr>(names[index]).getValue().str();
    index -= names.size();
  }
  return "";
}

namespace {

/// How a value depends on one state h.
enum class Dependence { None, ElementwiseAffine, Linear, Nonlinear };

Dependence worst(Dependence a, Dependence b) { return a > b ? a : b; }

/// Classifies values of the step with respect to state `stateArg`, memoised.
class StateClassifier {
public:
  StateClassifier(rec::RecurrenceOp recurrence, unsigned stateIndex,
                  const llvm::DenseSet<Operation *> &stateDependent)
      : recurrence(recurrence), stateArg(recurrence.getBody().getArgument(stateIndex)),
        stateDependent(stateDependent) {}

  Dependence classify(Value value) {
    auto it = memo.find(value);
    if (it != memo.end())
      return it->second;
    Dependence result = compute(value);
    memo[value] = result;
    return result;
  }

  std::string reason;

private:
  bool dependsOnAnyState(Value value) {
    if (auto arg = dyn_cast<BlockArgument>(value))
      return arg.getOwner() == &recurrence.getBody() &&
             arg.getArgNumber() < recurrence.getNumStates();
    return stateDependent.contains(value.getDefiningOp());
  }

  Dependence fail(Operation *op, const Twine &why) {
    if (reason.empty())
      reason = ("'" + op->getName().getStringRef() + "' " + why).str();
    return Dependence::Nonlinear;
  }

  Dependence compute(Value value) {
    if (value == stateArg)
      return Dependence::ElementwiseAffine;
    if (!dependsOnAnyState(value))
      return Dependence::None;
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      if (reason.empty())
        reason = "its update depends on state '" +
                 modelNameOf(recurrence.getInits()[arg.getArgNumber()]) + "'";
      return Dependence::Nonlinear;
    }
    Operation *op = value.getDefiningOp();
    bool sameType = value.getType() == stateArg.getType();
    return llvm::TypeSwitch<Operation *, Dependence>(op)
        .Case<arith::AddFOp, arith::SubFOp>([&](Operation *op) {
          Dependence d = worst(classify(op->getOperand(0)), classify(op->getOperand(1)));
          if (d == Dependence::ElementwiseAffine && !sameType)
            return Dependence::Linear;
          return d;
        })
        .Case<arith::NegFOp>([&](arith::NegFOp op) {
          Dependence d = classify(op.getOperand());
          return d == Dependence::ElementwiseAffine && !sameType ? Dependence::Linear : d;
        })
        .Case<arith::MulFOp>([&](arith::MulFOp op) {
          Dependence l = classify(op.getLhs()), r = classify(op.getRhs());
          if (l != Dependence::None && r != Dependence::None)
            return fail(op, "multiplies two values that depend on states");
          Dependence d = worst(l, r);
          return d == Dependence::ElementwiseAffine && !sameType ? Dependence::Linear : d;
        })
        .Case<arith::DivFOp>([&](arith::DivFOp op) {
          if (classify(op.getRhs()) != Dependence::None)
            return fail(op, "divides by a value that depends on states");
          Dependence d = classify(op.getLhs());
          return d == Dependence::ElementwiseAffine && !sameType ? Dependence::Linear : d;
        })
        .Case<linalg::LinalgOp>([&](linalg::LinalgOp linalgOp) {
          // Contractions, broadcasts and transposes of the state, with every
          // other operand state-free, keep it linear (a fill or a zero init
          // contributes nothing).
          Dependence d = Dependence::None;
          unsigned dependentOperands = 0;
          for (Value operand : op->getOperands()) {
            Dependence o = classify(operand);
            if (o != Dependence::None)
              ++dependentOperands;
            d = worst(d, o);
          }
          if (dependentOperands > 1)
            return fail(op, "combines several values that depend on states");
          if (!isLinearPayload(linalgOp))
            return fail(op, "applies a nonlinear function to the state");
          return d == Dependence::Nonlinear ? d : Dependence::Linear;
        })
        .Case<tensor::ExpandShapeOp, tensor::CollapseShapeOp, tensor::ExtractSliceOp>(
            [&](Operation *op) {
              Dependence d = classify(op->getOperand(0));
              return d == Dependence::Nonlinear ? d : Dependence::Linear;
            })
        .Default([&](Operation *op) { return fail(op, "is applied to a state"); });
  }

  /// The payload of a linalg op is linear in its inputs: yields an input, or
  /// out + in0 * in1 (a contraction), or a copy.
  static bool isLinearPayload(linalg::LinalgOp op) {
    if (isa<linalg::MatvecOp, linalg::VecmatOp, linalg::MatmulOp, linalg::BatchMatmulOp,
            linalg::DotOp, linalg::BroadcastOp, linalg::TransposeOp, linalg::FillOp,
            linalg::CopyOp>(op.getOperation()))
      return true;
    if (auto reduce = dyn_cast<linalg::ReduceOp>(op.getOperation()))
      return llvm::all_of(reduce.getCombiner().front().without_terminator(),
                          [](Operation &inner) { return isa<arith::AddFOp>(inner); });
    if (auto generic = dyn_cast<linalg::GenericOp>(op.getOperation()))
      return llvm::all_of(generic.getBody()->without_terminator(), [](Operation &inner) {
        return isa<arith::AddFOp, arith::MulFOp>(inner);
      });
    return false;
  }

  rec::RecurrenceOp recurrence;
  Value stateArg;
  const llvm::DenseSet<Operation *> &stateDependent;
  llvm::DenseMap<Value, Dependence> memo;
};

} // namespace

RecurrenceAnalysis::RecurrenceAnalysis(Operation *op, bool chunkedAttentionIsInput)
    : recurrence(cast<rec::RecurrenceOp>(op)) {
  Block &body = recurrence.getBody();
  llvm::DenseSet<Value> dependentValues;
  for (unsigned i = 0; i < recurrence.getNumStates(); ++i)
    dependentValues.insert(body.getArgument(i));
  for (Operation &inner : body.without_terminator()) {
    auto attention = dyn_cast<rec::AttentionOp>(inner);
    bool dependent =
        attention && !(chunkedAttentionIsInput && matchAttention(attention).matched);
    if (dependent)
      implicitState = true;
    inner.walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        if (dependentValues.contains(operand))
          dependent = true;
    });
    if (!dependent)
      continue;
    stateDependent.insert(&inner);
    for (Value result : inner.getResults())
      dependentValues.insert(result);
  }

  auto yield = cast<rec::YieldOp>(body.getTerminator());
  for (unsigned i = 0; i < recurrence.getNumStates(); ++i) {
    StateInfo info;
    info.name = modelNameOf(recurrence.getInits()[i]);
    StateClassifier classifier(recurrence, i, stateDependent);
    switch (classifier.classify(yield.getOperand(i))) {
    case Dependence::None:
    case Dependence::ElementwiseAffine:
      info.kind = StateKind::ElementwiseAffine;
      break;
    case Dependence::Linear:
      info.kind = StateKind::Linear;
      info.reason = "its update is linear in it but not elementwise (a contraction, "
                    "as in the delta rule)";
      break;
    case Dependence::Nonlinear:
      info.kind = StateKind::Nonlinear;
      info.reason = classifier.reason;
      break;
    }
    states.push_back(std::move(info));
  }

  // Walk back from the outputs, stopping at the updated states.
  llvm::DenseSet<Value> updated(yield.getOperands().begin(),
                                yield.getOperands().begin() + recurrence.getNumStates());
  llvm::SmallVector<Value> worklist(yield.getOperands().begin() + recurrence.getNumStates(),
                                    yield.getOperands().end());
  llvm::DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (updated.contains(value) || !seen.insert(value).second)
      continue;
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      if (arg.getOwner() == &body && arg.getArgNumber() < recurrence.getNumStates())
        oldStateReadByOutputs = true;
      continue;
    }
    value.getDefiningOp()->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        worklist.push_back(operand);
    });
  }
}

bool RecurrenceAnalysis::isStateIndependent(Value value) const {
  if (auto arg = dyn_cast<BlockArgument>(value))
    return arg.getOwner() != &recurrence.getBody() ||
           arg.getArgNumber() >= recurrence.getNumStates();
  return isStateIndependent(value.getDefiningOp());
}

bool RecurrenceAnalysis::isScannable() const { return whyNotScannable().empty(); }

std::string RecurrenceAnalysis::whyNotScannable() const {
  if (implicitState)
    return "its step holds attention, whose key/value history is a state of its own";
  if (states.empty())
    return "it has no state";
  for (const StateInfo &state : states)
    if (state.kind != StateKind::ElementwiseAffine)
      return "state '" + state.name + "' is " + stateKindName(state.kind) + ": " + state.reason;
  return "";
}

/// A constant of `like`'s tensor type, every element `x`.
static Value splatLike(OpBuilder &builder, Value like, double x) {
  auto type = cast<RankedTensorType>(like.getType());
  return arith::ConstantOp::create(
      builder, like.getLoc(),
      DenseElementsAttr::get(type, builder.getFloatAttr(type.getElementType(), x)));
}

namespace {
/// Writes a * h + b for the values of one elementwise-affine state's update.
/// It builds only the arithmetic the update needs: a coefficient that is
/// exactly 0 or 1, or an offset that is exactly 0, is tracked symbolically, so
/// `h = a * h + b` gives the pair (a, b) itself and no `a + 0`, which would
/// cost a pass over memory once hoisted.
class AffineBuilder {
public:
  AffineBuilder(OpBuilder &builder, const RecurrenceAnalysis &analysis, Value stateArg)
      : builder(builder), analysis(analysis), stateArg(stateArg) {}

  AffineParts build(Value value) {
    Term term = termOf(value);
    return {term.zeroCoefficient ? constant(0.0) : coefficientOf(term), term.offset};
  }

private:
  /// coefficient * h + offset, where a null coefficient means 1 unless
  /// zeroCoefficient, and a null offset means 0.
  struct Term {
    Value coefficient;
    bool zeroCoefficient = false;
    Value offset;
  };

  bool isFree(Value value) { return value != stateArg && analysis.isStateIndependent(value); }
  Value constant(double x) { return splatLike(builder, stateArg, x); }
  Value coefficientOf(const Term &t) { return t.coefficient ? t.coefficient : constant(1.0); }
  Location loc() { return stateArg.getLoc(); }

  Term termOf(Value value) {
    if (isFree(value))
      return {Value(), true, value};
    auto it = memo.find(value);
    if (it != memo.end())
      return it->second;
    Term term = compute(value);
    memo[value] = term;
    return term;
  }

  Term compute(Value value) {
    if (value == stateArg)
      return {};
    Operation *op = value.getDefiningOp();
    if (auto addOp = dyn_cast<arith::AddFOp>(op)) {
      Term l = termOf(addOp.getLhs()), r = termOf(addOp.getRhs());
      Term sum;
      if (l.zeroCoefficient || r.zeroCoefficient) {
        sum = l.zeroCoefficient ? r : l;
        sum.zeroCoefficient = l.zeroCoefficient && r.zeroCoefficient;
      } else {
        sum.coefficient = arith::AddFOp::create(builder, loc(), coefficientOf(l), coefficientOf(r));
      }
      sum.offset = add(l.offset, r.offset);
      return sum;
    }
    if (auto subOp = dyn_cast<arith::SubFOp>(op)) {
      Term l = termOf(subOp.getLhs()), r = termOf(subOp.getRhs());
      Term difference;
      if (r.zeroCoefficient)
        difference = l;
      else if (l.zeroCoefficient)
        difference.coefficient = arith::NegFOp::create(builder, loc(), coefficientOf(r));
      else
        difference.coefficient =
            arith::SubFOp::create(builder, loc(), coefficientOf(l), coefficientOf(r));
      difference.offset = l.offset;
      if (r.offset)
        difference.offset = l.offset
                                ? Value(arith::SubFOp::create(builder, loc(), l.offset, r.offset))
                                : Value(arith::NegFOp::create(builder, loc(), r.offset));
      return difference;
    }
    if (auto negOp = dyn_cast<arith::NegFOp>(op)) {
      Term p = termOf(negOp.getOperand());
      Term negated = p;
      if (!p.zeroCoefficient)
        negated.coefficient = arith::NegFOp::create(builder, loc(), coefficientOf(p));
      if (p.offset)
        negated.offset = arith::NegFOp::create(builder, loc(), p.offset);
      return negated;
    }
    if (auto mulOp = dyn_cast<arith::MulFOp>(op)) {
      bool lhsFree = isFree(mulOp.getLhs());
      Value factor = lhsFree ? mulOp.getLhs() : mulOp.getRhs();
      Term p = termOf(lhsFree ? mulOp.getRhs() : mulOp.getLhs());
      Term product = p;
      if (!p.zeroCoefficient)
        product.coefficient =
            p.coefficient ? Value(arith::MulFOp::create(builder, loc(), p.coefficient, factor))
                          : factor;
      if (p.offset)
        product.offset = arith::MulFOp::create(builder, loc(), p.offset, factor);
      return product;
    }
    if (auto divOp = dyn_cast<arith::DivFOp>(op)) {
      Term p = termOf(divOp.getLhs());
      Value divisor = divOp.getRhs();
      Term quotient = p;
      if (!p.zeroCoefficient)
        quotient.coefficient = arith::DivFOp::create(builder, loc(), coefficientOf(p), divisor);
      if (p.offset)
        quotient.offset = arith::DivFOp::create(builder, loc(), p.offset, divisor);
      return quotient;
    }
    llvm_unreachable("buildAffineParts on a state that is not elementwise-affine");
  }

  Value add(Value a, Value b) {
    if (!a)
      return b;
    if (!b)
      return a;
    return arith::AddFOp::create(builder, loc(), a, b);
  }

  OpBuilder &builder;
  const RecurrenceAnalysis &analysis;
  Value stateArg;
  llvm::DenseMap<Value, Term> memo;
};
} // namespace

AffineParts RecurrenceAnalysis::buildAffineParts(OpBuilder &builder, unsigned index) const {
  assert(states[index].kind == StateKind::ElementwiseAffine);
  Block &body = recurrence.getBody();
  Value stateArg = body.getArgument(index);
  Value updated = cast<rec::YieldOp>(body.getTerminator()).getOperand(index);
  if (updated != stateArg && isStateIndependent(updated))
    return {splatLike(builder, stateArg, 0.0), updated};
  AffineBuilder affine(builder, *this, stateArg);
  AffineParts parts = affine.build(updated);
  if (!parts.offset)
    parts.offset = splatLike(builder, stateArg, 0.0);
  return parts;
}

bool RecurrenceAnalysis::isExpansion(Value value) const {
  auto it = expansionMemo.find(value);
  if (it != expansionMemo.end())
    return it->second;
  bool result = computeIsExpansion(value);
  expansionMemo[value] = result;
  return result;
}

bool RecurrenceAnalysis::computeIsExpansion(Value value) const {
  Block &body = recurrence.getBody();
  Operation *def = value.getDefiningOp();
  // Step inputs, states and values from above are what they are.
  if (!def || def->getBlock() != &body)
    return false;
  auto isStepValue = [&](Value v) {
    Operation *d = v.getDefiningOp();
    return d ? d->getBlock() == &body : cast<BlockArgument>(v).getOwner() == &body;
  };
  if (auto broadcast = dyn_cast<linalg::BroadcastOp>(def))
    return isStepValue(broadcast.getInput());
  if (auto generic = dyn_cast<linalg::GenericOp>(def)) {
    if (generic.getNumReductionLoops() > 0)
      return false;
    for (OpOperand *input : generic.getDpsInputOperands()) {
      if (!isStepValue(input->get()))
        continue;
      AffineMap map = generic.getMatchingIndexingMap(input);
      if (map.getNumResults() < map.getNumDims() || isExpansion(input->get()))
        return true;
    }
    return false;
  }
  if (def->hasTrait<OpTrait::Elementwise>())
    return llvm::any_of(def->getOperands(), [&](Value v) { return isExpansion(v); });
  return false;
}

bool RecurrenceAnalysis::scanCoefficientsExpand(unsigned index) const {
  // The coefficient and offset are built from the state-free values the
  // update reads; they expand when any of those does.
  Block &body = recurrence.getBody();
  Value updated = cast<rec::YieldOp>(body.getTerminator()).getOperand(index);
  SmallVector<Value> worklist{updated};
  llvm::DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (!seen.insert(value).second)
      continue;
    if (value != body.getArgument(index) && isStateIndependent(value)) {
      if (isExpansion(value))
        return true;
      continue;
    }
    if (Operation *def = value.getDefiningOp())
      if (def->getBlock() == &body)
        worklist.append(def->operand_begin(), def->operand_end());
  }
  return false;
}

} // namespace seqc
