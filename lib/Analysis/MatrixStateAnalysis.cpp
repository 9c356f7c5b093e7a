//===- MatrixStateAnalysis.cpp - Matrix states the chunked form takes --===//
//
// See MatrixStateAnalysis.h. The match works on the step as MLIRGen and
// rec-outline-stateless leave it: the outer product is a product of two linalg
// broadcasts, the decay a broadcast (or a splat constant), the read a
// linalg.generic contraction (einsum, @, matvec all become one).
//
//===----------------------------------------------------------------------===//
#include "seqc/Analysis/MatrixStateAnalysis.h"

#include "seqc/Analysis/RecurrenceAnalysis.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;

namespace seqc {

namespace {

/// The axes a full-shape value does not vary along: a broadcast's added
/// dimensions, every axis of a splat; nullopt when it is neither.
std::optional<llvm::SmallDenseSet<int64_t>> invariantAxes(Value value, int64_t rank) {
  llvm::SmallDenseSet<int64_t> axes;
  if (auto broadcast = value.getDefiningOp<linalg::BroadcastOp>()) {
    axes.insert(broadcast.getDimensions().begin(), broadcast.getDimensions().end());
    return axes;
  }
  SplatElementsAttr splat;
  if (matchPattern(value, m_Constant(&splat))) {
    for (int64_t a = 0; a < rank; ++a)
      axes.insert(a);
    return axes;
  }
  return std::nullopt;
}

/// Whether `generic` is out += in0 * in1 with one reduction loop: the
/// contraction every read of a state becomes (einsum and @ as a
/// linalg.generic, a vector @ matrix as linalg.vecmat, ...).
bool isBinaryContraction(linalg::LinalgOp generic) {
  if (generic.getNumDpsInputs() != 2 || generic.getNumDpsInits() != 1 ||
      generic.getNumReductionLoops() != 1)
    return false;
  Block *body = generic.getBlock();
  if (body->getOperations().size() != 3)
    return false;
  auto add = body->getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value accumulator = body->getArgument(2);
  Value product = add.getLhs() == accumulator ? add.getRhs() : add.getLhs();
  if (product == accumulator || (add.getLhs() != accumulator && add.getRhs() != accumulator))
    return false;
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return false;
  Value in0 = body->getArgument(0), in1 = body->getArgument(1);
  return (mul.getLhs() == in0 && mul.getRhs() == in1) ||
         (mul.getLhs() == in1 && mul.getRhs() == in0);
}

const char *decayName(ChunkDecay kind) {
  switch (kind) {
  case ChunkDecay::None:
    return "no decay";
  case ChunkDecay::PerHead:
    return "a decay per head";
  case ChunkDecay::PerKey:
    return "a decay per key row";
  }
  return "?";
}

/// The state axis that loop `loop` of a contraction indexes through
/// `stateMap` (-1 when none does).
int64_t axisOfLoop(AffineMap stateMap, unsigned loop) {
  for (unsigned a = 0; a < stateMap.getNumResults(); ++a)
    if (stateMap.getDimPosition(a) == loop)
      return a;
  return -1;
}

/// The one reduction loop of a binary contraction.
unsigned reductionLoopOf(linalg::LinalgOp generic) {
  unsigned reduction = 0;
  for (auto [loop, iterator] : llvm::enumerate(generic.getIteratorTypesArray()))
    if (iterator == utils::IteratorType::reduction)
      reduction = loop;
  return reduction;
}

/// The operand of a binary contraction that is `state` (the other one is
/// its query or key), or null.
OpOperand *stateOperandOf(linalg::LinalgOp generic, Value state) {
  for (OpOperand *operand : generic.getDpsInputOperands())
    if (operand->get() == state)
      return operand;
  return nullptr;
}

/// Checks that a binary contraction reads `state` by all its axes and its
/// other operand and result by loop axes; sets `why` otherwise. Returns the
/// state axis it sums over (-1 on failure).
int64_t contractedAxis(linalg::LinalgOp generic, Value state, int64_t rank, std::string &why) {
  OpOperand *stateOperand = stateOperandOf(generic, state);
  OpOperand *other =
      generic.getDpsInputOperand(stateOperand == generic.getDpsInputOperand(0) ? 1 : 0);
  if (other->get() == state) {
    why = "the step contracts the state with itself";
    return -1;
  }
  AffineMap stateMap = generic.getMatchingIndexingMap(stateOperand);
  if (!stateMap.isProjectedPermutation() || stateMap.getNumResults() != rank ||
      generic.getNumLoops() != rank) {
    why = "the read indexes the state other than by its axes";
    return -1;
  }
  if (!generic.getMatchingIndexingMap(other).isProjectedPermutation() ||
      !generic.getMatchingIndexingMap(generic.getDpsInitOperand(0)).isProjectedPermutation()) {
    why = "the read indexes its query or result other than by loop axes";
    return -1;
  }
  int64_t axis = axisOfLoop(stateMap, reductionLoopOf(generic));
  if (axis < 0)
    why = "the read does not sum over an axis of the state";
  return axis;
}

/// Finds the one read of the new state (a contraction with a query) and
/// the key axis it sums over; on failure sets match.whyNot.
bool findRead(rec::RecurrenceOp op, unsigned index, MatrixStateMatch &match) {
  Value updated = op.getBody().getTerminator()->getOperand(index);
  int64_t rank = cast<RankedTensorType>(updated.getType()).getRank();
  linalg::LinalgOp read;
  for (OpOperand &use : updated.getUses()) {
    Operation *user = use.getOwner();
    if (isa<rec::YieldOp>(user) && use.getOperandNumber() == index)
      continue;
    auto generic = dyn_cast<linalg::LinalgOp>(user);
    if (!generic || !isBinaryContraction(generic) || use.getOperandNumber() >= 2) {
      match.whyNot = "the step reads the new state other than by contracting it with a query";
      return false;
    }
    if (read) {
      match.whyNot = "the step reads the new state more than once";
      return false;
    }
    read = generic;
  }
  if (!read) {
    match.whyNot = "no output reads the state";
    return false;
  }
  match.keyAxis = contractedAxis(read, updated, rank, match.whyNot);
  if (match.keyAxis < 0)
    return false;
  match.read = read;
  OpOperand *stateOperand = stateOperandOf(read, updated);
  match.query = read.getDpsInputOperand(stateOperand == read.getDpsInputOperand(0) ? 1 : 0);
  return true;
}

/// The factors of a product of arith.mulf in `body` (the value itself when
/// it is not one).
void collectFactors(Value value, Block &body, SmallVectorImpl<Value> &factors) {
  auto mul = value.getDefiningOp<arith::MulFOp>();
  if (mul && mul->getBlock() == &body) {
    collectFactors(mul.getLhs(), body, factors);
    collectFactors(mul.getRhs(), body, factors);
    return;
  }
  factors.push_back(value);
}

/// The value a broadcast spreads, through the unit-axis reshapes MLIRGen
/// puts before it (`x[:, None, :]`), when they leave its shape unchanged.
Value broadcastSource(linalg::BroadcastOp broadcast) {
  Value source = broadcast.getInput();
  while (Operation *def = source.getDefiningOp()) {
    if (!isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(def))
      break;
    source = def->getOperand(0);
  }
  return source.getType() == broadcast.getInput().getType() ? source : Value();
}

/// What the two matchers of a matrix state's update S' = D * S + product
/// share: the state, the two terms of its update, and the decay D. The
/// derived matcher says how a failure reads (`fail`).
template <typename Derived>
class UpdateMatcher {
protected:
  UpdateMatcher(rec::RecurrenceOp op, unsigned index, Value decayed, Value product,
                const RecurrenceAnalysis &analysis)
      : op(op), body(op.getBody()), old(body.getArgument(index)), index(index),
        rank(cast<RankedTensorType>(old.getType()).getRank()), decayed(decayed),
        product(product), analysis(analysis) {
    match.state = index;
  }

  /// D is 1 (no multiplication) or a factor that reads no state.
  bool matchDecay() {
    if (decayed == old)
      return true;
    auto mul = decayed.getDefiningOp<arith::MulFOp>();
    match.decay = mul.getLhs() == old ? mul.getRhs() : mul.getLhs();
    if (!analysis.isStateIndependent(match.decay))
      return static_cast<Derived *>(this)->fail("its decay depends on a state");
    return true;
  }

  rec::RecurrenceOp op;
  Block &body;
  Value old;
  unsigned index;
  int64_t rank;
  Value decayed, product;
  const RecurrenceAnalysis &analysis;
  MatrixStateMatch match;
};

/// S' = D * S + product, where product reads the old state: the delta rule
/// S' = D * S + k (v - c * S^T w)^T, D and c per head. Each step of the
/// match fails with the reason the step's IR is not the delta rule.
class DeltaRuleMatcher : UpdateMatcher<DeltaRuleMatcher> {
  friend UpdateMatcher<DeltaRuleMatcher>;

public:
  DeltaRuleMatcher(rec::RecurrenceOp op, unsigned index, Value decayed, Value product,
                   const RecurrenceAnalysis &analysis)
      : UpdateMatcher(op, index, decayed, product, analysis) {
    match.deltaRule = true;
  }

  MatrixStateMatch run() {
    bool matched = matchDecay() && matchAddedFactors() && matchDifference() &&
                   matchCorrection() && checkStateUses() && checkCorrectionAxes() &&
                   matchRead() && assignAxes() && checkScales();
    match.matched = matched;
    return match;
  }

private:
  bool fail(const std::string &why) {
    match.whyNot = "it follows the delta rule, but " + why;
    match.deltaRule = false;
    return false;
  }
  bool notTheDifference() { return fail("the factor that reads the state is not v - c * S^T w"); }

  /// What is added: broadcasts, one of them of v - c * S^T w.
  bool matchAddedFactors() {
    SmallVector<Value> factors;
    collectFactors(product, body, factors);
    for (Value factor : factors) {
      if (!invariantAxes(factor, rank))
        return fail("what it adds is not a product of broadcasts");
      if (analysis.isStateIndependent(factor)) {
        match.keyFactors.push_back(factor);
        continue;
      }
      if (valueBroadcast)
        return fail("more than one factor of what it adds reads the state");
      valueBroadcast = factor.getDefiningOp<linalg::BroadcastOp>();
      if (!valueBroadcast)
        return fail("what it adds is not a product of broadcasts");
      match.valueFactor = factor;
    }
    if (match.keyFactors.empty())
      return fail("what it adds has no factor besides v - c * S^T w");
    return true;
  }

  /// The scale of a state-free factor times `value`, when `value` is such
  /// a product: the scale, and `value` becomes the other factor.
  Value splitScale(Value &value) {
    auto scaled = value ? value.getDefiningOp<arith::MulFOp>() : nullptr;
    if (!scaled)
      return Value();
    bool lhsIsScale = analysis.isStateIndependent(scaled.getLhs());
    Value scale = lhsIsScale ? scaled.getLhs() : scaled.getRhs();
    value = lhsIsScale ? scaled.getRhs() : scaled.getLhs();
    return scale;
  }

  /// b * (v - c * S^T w), b per head (b joins the keys), and c.
  bool matchDifference() {
    Value difference = broadcastSource(valueBroadcast);
    match.valueScale = splitScale(difference);
    if (match.valueScale && !analysis.isStateIndependent(match.valueScale))
      return notTheDifference();
    auto sub = difference ? difference.getDefiningOp<arith::SubFOp>() : nullptr;
    if (!sub || !analysis.isStateIndependent(sub.getLhs()))
      return notTheDifference();
    match.deltaValues = sub.getLhs();
    correction = sub.getRhs();
    match.correctionScale = splitScale(correction);
    if (match.correctionScale && !analysis.isStateIndependent(match.correctionScale))
      return notTheDifference();
    return true;
  }

  /// S^T w: a contraction of the old state with a state-free key.
  bool matchCorrection() {
    match.correction = correction.getDefiningOp<linalg::LinalgOp>();
    if (!match.correction || !isBinaryContraction(match.correction) ||
        !stateOperandOf(match.correction, old))
      return notTheDifference();
    std::string why;
    match.keyAxis = contractedAxis(match.correction, old, rank, why);
    if (match.keyAxis < 0)
      return fail(why);
    oldOperand = stateOperandOf(match.correction, old);
    match.correctionKey = match.correction.getDpsInputOperand(
        oldOperand == match.correction.getDpsInputOperand(0) ? 1 : 0);
    if (!analysis.isStateIndependent(match.correctionKey->get()))
      return fail("the key it reads the state with depends on a state");
    return true;
  }

  /// The old state feeds only the decay and the correction.
  bool checkStateUses() {
    for (OpOperand &use : old.getUses()) {
      Operation *user = use.getOwner();
      if (user != decayed.getDefiningOp() && user != match.correction.getOperation() &&
          !(decayed == old && user == body.getTerminator()->getOperand(index).getDefiningOp()))
        return fail("the step reads the state other than by decaying and correcting it");
    }
    return true;
  }

  /// The correction's axes are the state's axes that the broadcast keeps,
  /// in order (its shape is unchanged on the way).
  bool checkCorrectionAxes() {
    oldMap = match.correction.getMatchingIndexingMap(oldOperand);
    AffineMap resultMap =
        match.correction.getMatchingIndexingMap(match.correction.getDpsInitOperand(0));
    for (int64_t a = 0; a < rank; ++a)
      if (!llvm::is_contained(valueBroadcast.getDimensions(), a))
        kept.push_back(a);
    if (kept.size() != resultMap.getNumResults())
      return fail("its correction is not spread over the state's axes it keeps");
    for (auto [i, axis] : llvm::enumerate(kept))
      if (axisOfLoop(oldMap, resultMap.getDimPosition(i)) != axis)
        return fail("its correction is not spread over the state's axes it keeps");
    return true;
  }

  /// The final read: a contraction over the same key axis.
  bool matchRead() {
    int64_t correctionAxis = match.keyAxis;
    if (!findRead(op, index, match)) {
      std::string reason = match.whyNot;
      return fail(reason);
    }
    if (match.keyAxis != correctionAxis)
      return fail("the read sums over another axis than the correction");
    return true;
  }

  /// The value axis: only v - c * S^T w varies along it (not k, the decay,
  /// c, w or the query); every other axis is a head axis.
  bool assignAxes() {
    AffineMap readStateMap = match.read.getMatchingIndexingMap(
        stateOperandOf(match.read, body.getTerminator()->getOperand(index)));
    AffineMap queryMap = match.read.getMatchingIndexingMap(match.query);
    AffineMap keyMap = match.correction.getMatchingIndexingMap(match.correctionKey);
    if (match.decay && !(decayInvariant = invariantAxes(match.decay, rank)))
      return fail("its decay is not a broadcast of a per-head value");
    for (int64_t a = 0; a < rank; ++a) {
      if (a == match.keyAxis)
        continue;
      bool valueVaries = llvm::is_contained(kept, a);
      bool keyVaries = llvm::any_of(match.keyFactors, [&](Value factor) {
        return !invariantAxes(factor, rank)->contains(a);
      });
      bool decayVaries = match.decay && !decayInvariant->contains(a);
      bool queryVaries = queryMap.isFunctionOfDim(readStateMap.getDimPosition(a));
      bool correctionKeyVaries = keyMap.isFunctionOfDim(oldMap.getDimPosition(a));
      if (valueVaries && !keyVaries && !decayVaries && !queryVaries && !correctionKeyVaries) {
        if (match.valueAxis >= 0)
          return fail("what it adds has more than one value axis");
        match.valueAxis = a;
      } else {
        match.headAxes.push_back(a);
      }
    }
    if (match.valueAxis < 0)
      return fail("what it adds has no value axis (one along which only v - c * S^T w varies)");
    return true;
  }

  /// One decay per head; c and b (in the correction's shape) must not vary
  /// along the value axis.
  bool checkScales() {
    if (match.decay) {
      if (!decayInvariant->contains(match.keyAxis))
        return fail("its decay varies along the key axis (the chunked delta rule takes one "
                    "decay per head)");
      match.decayKind = ChunkDecay::PerHead;
    }
    int64_t position = llvm::find(kept, match.valueAxis) - kept.begin();
    auto perHead = [&](Value scale) {
      auto invariant = invariantAxes(scale, cast<RankedTensorType>(scale.getType()).getRank());
      return invariant && invariant->contains(position);
    };
    if (match.correctionScale && !perHead(match.correctionScale))
      return fail("its correction's scale c varies along the value axis (it must be one value "
                  "per head)");
    if (match.valueScale && !perHead(match.valueScale))
      return fail("the scale of v - c * S^T w varies along the value axis (it must be one "
                  "value per head)");
    return true;
  }

  linalg::BroadcastOp valueBroadcast;
  Value correction;
  OpOperand *oldOperand = nullptr;
  AffineMap oldMap;
  SmallVector<int64_t> kept;
  std::optional<llvm::SmallDenseSet<int64_t>> decayInvariant;
};

} // namespace

std::string MatrixStateMatch::describe() const {
  if (deltaRule)
    return std::string("delta-rule updates with ") + decayName(decayKind) + ", read by a query";
  return std::string("outer-product updates with ") + decayName(decayKind) + ", read by a query";
}

namespace {

/// S' = D * S + a b^T with a and b broadcasts: the decayed outer product.
/// Each step of the match fails with the reason the step's IR is not one.
class OuterProductMatcher : UpdateMatcher<OuterProductMatcher> {
  friend UpdateMatcher<OuterProductMatcher>;

public:
  OuterProductMatcher(rec::RecurrenceOp op, unsigned index, arith::AddFOp sum, Value decayed,
                      Value product, const RecurrenceAnalysis &analysis)
      : UpdateMatcher(op, index, decayed, product, analysis), sum(sum) {}

  MatrixStateMatch run() {
    match.matched = matchDecay() && checkStateUses() && matchOuterProduct() &&
                    findRead(op, index, match) && matchFactors() && assignAxes();
    return match;
  }

private:
  bool fail(const std::string &why) {
    match.whyNot = why;
    return false;
  }

  /// The old state feeds only the update.
  bool checkStateUses() {
    for (OpOperand &use : old.getUses()) {
      Operation *user = use.getOwner();
      if (user != sum.getOperation() && user != decayed.getDefiningOp())
        return fail("the step reads the state other than by decaying it");
    }
    return true;
  }

  /// The outer product of two broadcasts.
  bool matchOuterProduct() {
    outer = product.getDefiningOp<arith::MulFOp>();
    if (!outer)
      return fail("what it adds is not an outer product of two broadcasts");
    factorA = invariantAxes(outer.getLhs(), rank);
    factorB = invariantAxes(outer.getRhs(), rank);
    if (!factorA || !factorB || !outer.getLhs().getDefiningOp<linalg::BroadcastOp>() ||
        !outer.getRhs().getDefiningOp<linalg::BroadcastOp>())
      return fail("what it adds is not an outer product of two broadcasts");
    return true;
  }

  /// The key factor is the one that varies along the key axis the read sums
  /// over; the decay is a broadcast of a per-head or per-key value.
  bool matchFactors() {
    bool aVaries = !factorA->contains(match.keyAxis), bVaries = !factorB->contains(match.keyAxis);
    if (aVaries == bVaries)
      return fail(aVaries ? "both factors of the outer product vary along the key axis"
                          : "no factor of the outer product varies along the key axis");
    match.keyFactor = aVaries ? outer.getLhs() : outer.getRhs();
    match.valueFactor = aVaries ? outer.getRhs() : outer.getLhs();
    keyInvariant = aVaries ? &*factorA : &*factorB;
    valueInvariant = aVaries ? &*factorB : &*factorA;
    if (match.decay) {
      auto axes = invariantAxes(match.decay, rank);
      if (!axes)
        return fail("its decay is not a broadcast of a per-head or per-key value");
      decayInvariant = *axes;
    }
    return true;
  }

  /// The value axis: only the value factor varies along it (not the key
  /// factor, the decay or the query); every other axis is a head axis.
  bool assignAxes() {
    linalg::LinalgOp read = match.read;
    Value updated = body.getTerminator()->getOperand(index);
    AffineMap stateMap = read.getMatchingIndexingMap(stateOperandOf(read, updated));
    AffineMap queryMap = read.getMatchingIndexingMap(match.query);
    bool decayAlongValues = false;
    for (int64_t a = 0; a < rank; ++a) {
      if (a == match.keyAxis)
        continue;
      bool keyVaries = !keyInvariant->contains(a), valueVaries = !valueInvariant->contains(a);
      bool decayVaries = match.decay && !decayInvariant.contains(a);
      bool queryVaries = queryMap.isFunctionOfDim(stateMap.getDimPosition(a));
      if (valueVaries && !keyVaries && !queryVaries && decayVaries)
        decayAlongValues = true;
      if (valueVaries && !keyVaries && !decayVaries && !queryVaries) {
        if (match.valueAxis >= 0)
          return fail("its outer product has more than one value axis");
        match.valueAxis = a;
      } else {
        match.headAxes.push_back(a);
      }
    }
    if (match.valueAxis < 0)
      return fail(decayAlongValues
                      ? "its decay varies along the value axis (the chunked form takes one "
                        "decay per head or per key row)"
                      : "its outer product has no value axis (one along which only the values "
                        "vary)");
    if (match.decay)
      match.decayKind =
          decayInvariant.contains(match.keyAxis) ? ChunkDecay::PerHead : ChunkDecay::PerKey;
    return true;
  }

  arith::AddFOp sum;
  arith::MulFOp outer;
  std::optional<llvm::SmallDenseSet<int64_t>> factorA, factorB;
  const llvm::SmallDenseSet<int64_t> *keyInvariant = nullptr, *valueInvariant = nullptr;
  llvm::SmallDenseSet<int64_t> decayInvariant;
};

} // namespace

MatrixStateMatch matchMatrixState(rec::RecurrenceOp op, unsigned index) {
  MatrixStateMatch refused;
  refused.state = index;
  auto fail = [&](const std::string &why) {
    refused.whyNot = why;
    return refused;
  };
  Block &body = op.getBody();
  Value old = body.getArgument(index);
  if (cast<RankedTensorType>(old.getType()).getRank() < 2)
    return fail("it is not a matrix");
  RecurrenceAnalysis analysis(op);
  Value updated = body.getTerminator()->getOperand(index);

  // S' = decayed + product.
  auto sum = updated.getDefiningOp<arith::AddFOp>();
  if (!sum || sum->getBlock() != &body)
    return fail("its update is not a sum of the (decayed) state and an outer product");
  auto isDecayedState = [&](Value value) {
    if (value == old)
      return true;
    auto mul = value.getDefiningOp<arith::MulFOp>();
    return mul && (mul.getLhs() == old) != (mul.getRhs() == old);
  };
  Value decayed = sum.getLhs(), product = sum.getRhs();
  if (!isDecayedState(decayed))
    std::swap(decayed, product);
  // A product that reads the state through a contraction: the delta rule.
  if (isDecayedState(decayed) && !analysis.isStateIndependent(product) &&
      llvm::any_of(old.getUsers(), [](Operation *user) {
        auto generic = dyn_cast<linalg::LinalgOp>(user);
        return generic && isBinaryContraction(generic);
      }))
    return DeltaRuleMatcher(op, index, decayed, product, analysis).run();
  if (!isDecayedState(decayed) || !analysis.isStateIndependent(product))
    return fail("its update is not a sum of the (decayed) state and an outer product");
  return OuterProductMatcher(op, index, sum, decayed, product, analysis).run();
}

bool autoChunksMatrixStates(rec::RecurrenceOp op) {
  if (!op.getBody().getOps<rec::AttentionOp>().empty())
    return false;
  RecurrenceAnalysis analysis(op);
  bool anyMatched = false;
  for (unsigned i = 0; i < op.getNumStates(); ++i) {
    if (matchMatrixState(op, i).matched)
      anyMatched = true;
    else if (analysis.getStates()[i].kind != StateKind::ElementwiseAffine)
      return false;
  }
  return anyMatched;
}

int64_t autoChunkSize(rec::RecurrenceOp op, const MatrixStateMatch &match, int64_t cap) {
  auto type = cast<RankedTensorType>(op.getBody().getArgument(match.state).getType());
  int64_t widest = std::max(type.getDimSize(match.keyAxis), type.getDimSize(match.valueAxis));
  int64_t size = 16;
  while (size < widest && size < cap)
    size *= 2;
  return std::min(size, cap);
}

} // namespace seqc
