//===- MatrixStateAnalysis.cpp - Matrix states the chunkwise form takes --===//
//
// See MatrixStateAnalysis.h. The match works on the step as MLIRGen and
// rec-hoist leave it: the outer product is a product of two linalg
// broadcasts, the decay a broadcast (or a splat constant), the read a
// linalg.generic contraction (einsum, @, matvec all become one).
//
//===----------------------------------------------------------------------===//
#include "seqc/Analysis/MatrixStateAnalysis.h"

#include "seqc/Analysis/RecurrenceAnalysis.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
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
/// contraction every read of a state (einsum, @) becomes.
bool isBinaryContraction(linalg::GenericOp generic) {
  if (generic.getNumDpsInputs() != 2 || generic.getNumDpsInits() != 1 ||
      generic.getNumReductionLoops() != 1)
    return false;
  Block *body = generic.getBody();
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

} // namespace

std::string MatrixStateMatch::describe() const {
  return std::string("outer-product updates with ") + decayName(decayKind) + ", read by a query";
}

MatrixStateMatch matchMatrixState(rec::RecurrenceOp op, unsigned index) {
  MatrixStateMatch match;
  match.state = index;
  auto fail = [&](const std::string &why) {
    match.whyNot = why;
    return match;
  };
  Block &body = op.getBody();
  Value old = body.getArgument(index);
  auto type = cast<RankedTensorType>(old.getType());
  int64_t rank = type.getRank();
  if (rank < 2)
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
  if (isDecayedState(decayed) && !analysis.isStateIndependent(product) &&
      llvm::any_of(old.getUsers(), [](Operation *user) {
        auto generic = dyn_cast<linalg::GenericOp>(user);
        return generic && isBinaryContraction(generic);
      }))
    return fail("it follows the delta rule (what it adds reads the state through a "
                "contraction); the chunkwise delta rule (the WY/UT transform) is not built yet");
  if (!isDecayedState(decayed) || !analysis.isStateIndependent(product))
    return fail("its update is not a sum of the (decayed) state and an outer product");
  if (decayed != old) {
    auto mul = decayed.getDefiningOp<arith::MulFOp>();
    match.decay = mul.getLhs() == old ? mul.getRhs() : mul.getLhs();
    if (!analysis.isStateIndependent(match.decay))
      return fail("its decay depends on a state");
  }
  // The old state feeds only the update.
  for (OpOperand &use : old.getUses()) {
    Operation *user = use.getOwner();
    if (user != sum.getOperation() && user != decayed.getDefiningOp())
      return fail("the step reads the state other than by decaying it");
  }

  // The outer product of two broadcasts.
  auto outer = product.getDefiningOp<arith::MulFOp>();
  if (!outer)
    return fail("what it adds is not an outer product of two broadcasts");
  auto factorA = invariantAxes(outer.getLhs(), rank), factorB = invariantAxes(outer.getRhs(), rank);
  if (!factorA || !factorB || !outer.getLhs().getDefiningOp<linalg::BroadcastOp>() ||
      !outer.getRhs().getDefiningOp<linalg::BroadcastOp>())
    return fail("what it adds is not an outer product of two broadcasts");

  // The one read: a contraction of the new state with a query.
  linalg::GenericOp read;
  for (OpOperand &use : updated.getUses()) {
    Operation *user = use.getOwner();
    if (isa<rec::YieldOp>(user) && use.getOperandNumber() == index)
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || !isBinaryContraction(generic) || use.getOperandNumber() >= 2)
      return fail("the step reads the new state other than by contracting it with a query");
    if (read)
      return fail("the step reads the new state more than once");
    read = generic;
  }
  if (!read)
    return fail("no output reads the state");
  OpOperand *stateOperand = read.getDpsInputOperand(0)->get() == updated
                                ? read.getDpsInputOperand(0)
                                : read.getDpsInputOperand(1);
  OpOperand *query = read.getDpsInputOperand(stateOperand == read.getDpsInputOperand(0) ? 1 : 0);
  if (query->get() == updated)
    return fail("the step contracts the new state with itself");
  AffineMap stateMap = read.getMatchingIndexingMap(stateOperand);
  if (!stateMap.isProjectedPermutation() || stateMap.getNumResults() != rank ||
      read.getNumLoops() != rank)
    return fail("the read indexes the state other than by its axes");
  if (!read.getMatchingIndexingMap(query).isProjectedPermutation() ||
      !read.getMatchingIndexingMap(read.getDpsInitOperand(0)).isProjectedPermutation())
    return fail("the read indexes its query or result other than by loop axes");
  unsigned reductionLoop = 0;
  for (auto [loop, iterator] : llvm::enumerate(read.getIteratorTypesArray()))
    if (iterator == utils::IteratorType::reduction)
      reductionLoop = loop;
  auto axisOfLoop = [&](unsigned loop) -> int64_t {
    for (int64_t a = 0; a < rank; ++a)
      if (stateMap.getDimPosition(a) == loop)
        return a;
    return -1;
  };
  match.keyAxis = axisOfLoop(reductionLoop);
  if (match.keyAxis < 0)
    return fail("the read does not sum over an axis of the state");

  // Key factor: the one that varies along the key axis.
  bool aVaries = !factorA->contains(match.keyAxis), bVaries = !factorB->contains(match.keyAxis);
  if (aVaries == bVaries)
    return fail(aVaries ? "both factors of the outer product vary along the key axis"
                        : "no factor of the outer product varies along the key axis");
  match.keyFactor = aVaries ? outer.getLhs() : outer.getRhs();
  match.valueFactor = aVaries ? outer.getRhs() : outer.getLhs();
  const auto &keyInvariant = aVaries ? *factorA : *factorB;
  const auto &valueInvariant = aVaries ? *factorB : *factorA;
  llvm::SmallDenseSet<int64_t> decayInvariant;
  if (match.decay) {
    auto axes = invariantAxes(match.decay, rank);
    if (!axes)
      return fail("its decay is not a broadcast of a per-head or per-key value");
    decayInvariant = *axes;
  }
  // The value axis: only the value factor varies along it (not the key
  // factor, the decay or the query); every other axis is a head axis.
  AffineMap queryMap = read.getMatchingIndexingMap(query);
  bool decayAlongValues = false;
  for (int64_t a = 0; a < rank; ++a) {
    if (a == match.keyAxis)
      continue;
    bool keyVaries = !keyInvariant.contains(a), valueVaries = !valueInvariant.contains(a);
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
                    ? "its decay varies along the value axis (the chunkwise form takes one "
                      "decay per head or per key row)"
                    : "its outer product has no value axis (one along which only the values "
                      "vary)");
  if (match.decay)
    match.decayKind =
        decayInvariant.contains(match.keyAxis) ? ChunkDecay::PerHead : ChunkDecay::PerKey;
  match.read = read;
  match.query = query;
  match.matched = true;
  return match;
}

} // namespace seqc
