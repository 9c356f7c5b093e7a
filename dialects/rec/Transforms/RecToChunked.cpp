//===- RecToChunked.cpp - Matrix states and attention in chunked ops ------===//
//
// A matrix state that matchMatrixState recognises (S' = D * S + A * B, read
// only as sum_key q * S') leaves its recurrence for a rec.chunked, in three
// parts:
//   - the per-step query, key, value and decay, brought into the canonical
//     layout ([H, K] and [H, V], heads flattened, key before value) inside
//     the step and computed for all steps by a stateless recurrence;
//   - rec.chunked, from the state's initial value (also made canonical), to
//     the reads of every step and the final state (made the cell's again);
//   - the rest of the recurrence, without the state, taking each step's read
//     as an input where it contracted the state; its other states (an
//     mLSTM's normaliser) are left to rec-to-scan.
// rec.chunked works on log decays, so a decay must not be negative: unless
// the cell has none, the kernel checks that every decay of the call is >= 0
// and runs the original recurrence when one is not (or is NaN). A decay of
// 0 (or one that underflows) is clamped to exp(-30) per step, which forgets
// as completely.
//
// A delta-rule state (S' = D * S + k (v - c * S^T w)^T) leaves for a
// rec.chunked_delta the same way, with the keys the product of the factors
// of k, the values v spread as v - c * S^T w is, and c folded into w.
//
// An attention that matchAttention accepts leaves its recurrence the same
// way, for a rec.chunked_attention: its keys and values (and per-step
// queries) with the heads flattened, computed for all steps; a learned
// query cloned before the recurrence; the rest of the recurrence taking
// the attention's output as an input. It needs no fallback: it has no
// decay whose sign could break it.
//
//===----------------------------------------------------------------------===//
#include "Passes.h"
#include "ScalarReductions.h"
#include "StepOutlining.h"

#include "seqc/Analysis/AttentionAnalysis.h"
#include "seqc/Analysis/MatrixStateAnalysis.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::rec {
#define GEN_PASS_DEF_RECTOCHUNKED
#include "Passes.h.inc"

namespace {

/// The smallest log decay of one step: exp(-30) ~ 1e-13 forgets the past as
/// completely as 0, and keeps sums of a chunk's log decays precise.
constexpr double kMinLogDecay = -30.0;

/// How a tensor over some of the state's axes maps onto a canonical one:
/// `order` lists its axes (state axes, in the tensor's order) as they
/// must appear (heads first, then one key or value axis); heads collapse
/// into one axis (a unit axis when there are none).
struct Layout {
  SmallVector<int64_t> axes;  // the state axes the tensor has, in its order
  SmallVector<int64_t> order; // the same axes: heads (state order), then the others
  unsigned numHeads;
};

Layout layoutWithout(const seqc::MatrixStateMatch &match, int64_t rank, int64_t dropped,
                     int64_t last) {
  Layout layout;
  for (int64_t a = 0; a < rank; ++a)
    if (a != dropped)
      layout.axes.push_back(a);
  layout.order.assign(match.headAxes.begin(), match.headAxes.end());
  layout.order.push_back(last);
  layout.numHeads = match.headAxes.size();
  return layout;
}

/// The reassociation between [lead..., trailing...] and [lead..., 1,
/// trailing...]: the unit head axis joins the last leading axis (or the
/// first trailing one when there is no leading axis).
SmallVector<ReassociationIndices> unitHeadGroups(unsigned lead, unsigned trailing) {
  SmallVector<ReassociationIndices> groups;
  for (unsigned d = 0; d + 1 < lead; ++d)
    groups.push_back({d});
  if (lead > 0)
    groups.push_back({lead - 1, lead});
  for (unsigned t = 0; t < trailing; ++t) {
    int64_t d = lead + 1 + t;
    if (lead == 0 && t == 0)
      groups.push_back({0, 1});
    else
      groups.push_back({d});
  }
  return groups;
}

/// The reassociation between [lead..., heads..., trailing...] and
/// [lead..., H, trailing...].
SmallVector<ReassociationIndices> headGroups(unsigned lead, unsigned heads, unsigned trailing) {
  SmallVector<ReassociationIndices> groups;
  for (unsigned d = 0; d < lead; ++d)
    groups.push_back({d});
  ReassociationIndices group;
  for (unsigned h = 0; h < heads; ++h)
    group.push_back(lead + h);
  groups.push_back(group);
  for (unsigned t = 0; t < trailing; ++t)
    groups.push_back({lead + heads + t});
  return groups;
}

Value transposeTo(OpBuilder &b, Location loc, Value value, ArrayRef<int64_t> permutation) {
  if (llvm::equal(permutation, llvm::seq<int64_t>(0, permutation.size())))
    return value;
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, value), permuted;
  for (int64_t p : permutation)
    permuted.push_back(sizes[p]);
  Value empty = tensor::EmptyOp::create(b, loc, permuted, type.getElementType());
  return linalg::TransposeOp::create(b, loc, value, empty, permutation).getResult()[0];
}

/// `value` ([lead..., its axes in layout.axes order]) as [lead..., H,
/// the non-head axes of layout.order].
Value toCanonical(OpBuilder &b, Location loc, Value value, const Layout &layout, unsigned lead) {
  SmallVector<int64_t> permutation;
  for (unsigned d = 0; d < lead; ++d)
    permutation.push_back(d);
  for (int64_t axis : layout.order)
    permutation.push_back(lead + (llvm::find(layout.axes, axis) - layout.axes.begin()));
  value = transposeTo(b, loc, value, permutation);
  auto type = cast<RankedTensorType>(value.getType());
  unsigned trailing = layout.order.size() - layout.numHeads;
  if (layout.numHeads == 1)
    return value;
  if (layout.numHeads > 1)
    return tensor::CollapseShapeOp::create(b, loc, value,
                                           headGroups(lead, layout.numHeads, trailing));
  SmallVector<int64_t> shape(type.getShape());
  shape.insert(shape.begin() + lead, 1);
  SmallVector<OpFoldResult> outputShape = tensor::getMixedSizes(b, loc, value);
  outputShape.insert(outputShape.begin() + lead, b.getIndexAttr(1));
  return tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get(shape, type.getElementType()),
                                       value, unitHeadGroups(lead, trailing), outputShape);
}

/// The inverse of toCanonical: [lead..., H, trailing...] as [lead...,
/// the axes of `targetAxes`, in that order].
Value fromCanonical(OpBuilder &b, Location loc, Value value, const Layout &layout, unsigned lead,
                    ArrayRef<int64_t> stateShape, ArrayRef<int64_t> targetAxes) {
  auto type = cast<RankedTensorType>(value.getType());
  unsigned trailing = layout.order.size() - layout.numHeads;
  if (layout.numHeads == 0) {
    value = tensor::CollapseShapeOp::create(b, loc, value, unitHeadGroups(lead, trailing));
  } else if (layout.numHeads > 1) {
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, value), outputShape;
    SmallVector<int64_t> shape;
    for (unsigned d = 0; d < lead; ++d) {
      outputShape.push_back(sizes[d]);
      shape.push_back(type.getDimSize(d));
    }
    for (int64_t axis : layout.order) {
      outputShape.push_back(b.getIndexAttr(stateShape[axis]));
      shape.push_back(stateShape[axis]);
    }
    value = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), value,
        headGroups(lead, layout.numHeads, trailing), outputShape);
  }
  SmallVector<int64_t> permutation;
  for (unsigned d = 0; d < lead; ++d)
    permutation.push_back(d);
  for (int64_t axis : targetAxes)
    permutation.push_back(lead + (llvm::find(layout.order, axis) - layout.order.begin()));
  return transposeTo(b, loc, value, permutation);
}

/// `input` broadcast along `dimensions` to the shape of `full` without its
/// axis `dropped`.
Value broadcastWithout(OpBuilder &b, Location loc, Value input, RankedTensorType full,
                       int64_t dropped, ArrayRef<int64_t> dimensions) {
  SmallVector<int64_t> shape;
  for (int64_t a = 0; a < full.getRank(); ++a)
    if (a != dropped)
      shape.push_back(full.getDimSize(a));
  Value empty = tensor::EmptyOp::create(b, loc, shape, full.getElementType());
  return linalg::BroadcastOp::create(b, loc, input, empty, dimensions).getResult()[0];
}

/// A full-shape step value that does not vary along `dropped`, without that
/// axis. A broadcast along it is taken apart (and a product of such,
/// factor by factor), so that the full shape is never made for every step
/// (a slice of a broadcast does not fold away); anything else is sliced
/// at index 0.
Value dropInvariantAxis(OpBuilder &b, Location loc, Value full, int64_t dropped) {
  auto type = cast<RankedTensorType>(full.getType());
  int64_t rank = type.getRank();
  if (auto broadcast = full.getDefiningOp<linalg::BroadcastOp>();
      broadcast && llvm::is_contained(broadcast.getDimensions(), dropped)) {
    SmallVector<int64_t> dimensions;
    for (int64_t d : broadcast.getDimensions())
      if (d != dropped)
        dimensions.push_back(d > dropped ? d - 1 : d);
    if (dimensions.empty())
      return broadcast.getInput();
    return broadcastWithout(b, loc, broadcast.getInput(), type, dropped, dimensions);
  }
  // A broadcast along other axes of a value invariant along `dropped`:
  // drop the axis from its input, then broadcast as before.
  if (auto broadcast = full.getDefiningOp<linalg::BroadcastOp>()) {
    ArrayRef<int64_t> added = broadcast.getDimensions();
    int64_t position = dropped;
    for (int64_t d : added)
      position -= d < dropped ? 1 : 0;
    // (Through the unit-axis reshapes MLIRGen puts before a broadcast.)
    Value input = broadcast.getInput();
    Value source = input;
    while (isa_and_nonnull<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(source.getDefiningOp()))
      source = source.getDefiningOp()->getOperand(0);
    if (source.getType() == input.getType())
      input = source;
    if (input.getDefiningOp<linalg::BroadcastOp>() || input.getDefiningOp<arith::MulFOp>()) {
      Value narrowed = dropInvariantAxis(b, loc, input, position);
      SmallVector<int64_t> dimensions;
      for (int64_t d : added)
        dimensions.push_back(d > dropped ? d - 1 : d);
      return broadcastWithout(b, loc, narrowed, type, dropped, dimensions);
    }
  }
  if (auto product = full.getDefiningOp<arith::MulFOp>()) {
    auto dropsCleanly = [&](Value factor) {
      auto broadcast = factor.getDefiningOp<linalg::BroadcastOp>();
      return broadcast && llvm::is_contained(broadcast.getDimensions(), dropped);
    };
    if (dropsCleanly(product.getLhs()) && dropsCleanly(product.getRhs()))
      return arith::MulFOp::create(b, loc, dropInvariantAxis(b, loc, product.getLhs(), dropped),
                                   dropInvariantAxis(b, loc, product.getRhs(), dropped));
  }
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), strides(rank, b.getIndexAttr(1)),
      sizes;
  SmallVector<int64_t> shape;
  for (int64_t a = 0; a < rank; ++a) {
    sizes.push_back(b.getIndexAttr(a == dropped ? 1 : type.getDimSize(a)));
    if (a != dropped)
      shape.push_back(type.getDimSize(a));
  }
  auto reduced = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, reduced, full, offsets, sizes, strides);
}

/// A copy of `recurrence` without state `dropped` (none when it is
/// std::nullopt) that takes `sequence` as one more input: in its step,
/// `replaced`'s result becomes what `replacement` builds from the input's
/// value at that step. The dropped state's old value is dead there (only its
/// update read it) and gets a stand-in.
RecurrenceOp withSequenceInput(
    OpBuilder &b, RecurrenceOp recurrence, std::optional<unsigned> dropped, Value sequence,
    Operation *replaced, function_ref<Value(OpBuilder &, IRMapping &, Value)> replacement) {
  Block &body = recurrence.getBody();
  Location loc = recurrence.getLoc();
  unsigned nState = recurrence.getNumStates();
  auto kept = [&](unsigned i) { return !dropped || i != *dropped; };
  SmallVector<Value> inits, inputs(recurrence.getInputs());
  SmallVector<Type> types;
  for (unsigned i = 0; i < nState; ++i)
    if (kept(i))
      inits.push_back(recurrence.getInits()[i]);
  for (auto [i, type] : llvm::enumerate(recurrence.getResultTypes()))
    if (kept(i))
      types.push_back(type);
  inputs.push_back(sequence);
  auto rest = RecurrenceOp::create(b, loc, types, recurrence.getBatch(), recurrence.getLength(),
                                   inits, inputs);
  Block &restBody = rest.getBody();
  unsigned restStates = inits.size();
  OpBuilder r = OpBuilder::atBlockBegin(&restBody);
  IRMapping mapping;
  for (unsigned i = 0, j = 0; i < nState; ++i) {
    if (kept(i)) {
      mapping.map(body.getArgument(i), restBody.getArgument(j++));
      continue;
    }
    auto type = cast<RankedTensorType>(body.getArgument(i).getType());
    mapping.map(body.getArgument(i),
                tensor::EmptyOp::create(r, loc, type.getShape(), type.getElementType()));
  }
  for (unsigned i = 0; i < recurrence.getInputs().size(); ++i)
    mapping.map(body.getArgument(nState + i), restBody.getArgument(restStates + i));
  Value perStep = restBody.getArguments().back();
  for (Operation &op : body.without_terminator()) {
    if (&op == replaced) {
      mapping.map(op.getResult(0), replacement(r, mapping, perStep));
      continue;
    }
    r.clone(op, mapping);
  }
  SmallVector<Value> yielded;
  for (auto [i, operand] : llvm::enumerate(body.getTerminator()->getOperands()))
    if (kept(i))
      yielded.push_back(mapping.lookupOrDefault(operand));
  YieldOp::create(r, loc, yielded);
  IRRewriter rewriter(r);
  (void)runRegionDCE(rewriter, rest->getRegions());
  return rest;
}

/// A step value with leading (head) axes and one trailing axis as [H, X]
/// (H = 1 without heads), and back.
Value headsFlattened(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t rank = type.getRank();
  if (rank == 2)
    return value;
  if (rank == 1)
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({1, type.getDimSize(0)}, type.getElementType()), value,
        SmallVector<ReassociationIndices>{{0, 1}});
  return tensor::CollapseShapeOp::create(b, loc, value, headGroups(0, rank - 1, 1));
}

Value headsRestored(OpBuilder &b, Location loc, Value flat, RankedTensorType type) {
  int64_t rank = type.getRank();
  if (rank == 2)
    return flat;
  if (rank == 1)
    return tensor::CollapseShapeOp::create(b, loc, type, flat,
                                           SmallVector<ReassociationIndices>{{0, 1}});
  return tensor::ExpandShapeOp::create(b, loc, type, flat, headGroups(0, rank - 1, 1));
}

/// Clones, before `recurrence`, what computes `value` in its step; `value`
/// must depend on none of the step's arguments (isStepInvariant).
Value cloneInvariant(OpBuilder &b, RecurrenceOp recurrence, Value value) {
  Block &body = recurrence.getBody();
  llvm::SetVector<Operation *> needed;
  SmallVector<Value> worklist = {value};
  while (!worklist.empty()) {
    Value next = worklist.pop_back_val();
    Operation *def = next.getDefiningOp();
    Operation *top = def ? body.findAncestorOpInBlock(*def) : nullptr;
    if (!top || !needed.insert(top))
      continue;
    top->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        worklist.push_back(operand);
    });
  }
  IRMapping mapping;
  for (Operation &op : body.without_terminator())
    if (needed.contains(&op))
      b.clone(op, mapping);
  return mapping.lookupOrDefault(value);
}

struct RecToChunkedPass : impl::RecToChunkedBase<RecToChunkedPass> {
  using RecToChunkedBase::RecToChunkedBase;

  void runOnOperation() override {
    if (chunkSize < 1) {
      getOperation()->emitError("rec-to-chunked: chunk-size must be positive");
      return signalPassFailure();
    }
    // A rewrite leaves the rest of the recurrence, where another matrix
    // state or attention of the same cell may be found; the original recurrence kept for
    // calls with a non-positive decay is not visited again.
    SmallVector<RecurrenceOp> recurrences;
    getOperation()->walk([&](RecurrenceOp op) {
      if (!op.getReverse())
        recurrences.push_back(op);
    });
    for (RecurrenceOp op : recurrences) {
      while (op) {
        // Each rewrite may erase `op`: only its result is read after it.
        bool matrixStates = !attentionOnly && (!autoRule || seqc::autoChunksMatrixStates(op));
        RecurrenceOp rest = matrixStates ? rewriteFirstMatrixState(op) : nullptr;
        if (!rest)
          rest = rewriteFirstAttention(op);
        op = rest;
      }
    }
  }

  /// Rewrites the first matrix state of `op` that matchMatrixState accepts;
  /// returns the rest of the recurrence, or null when none is accepted.
  RecurrenceOp rewriteFirstMatrixState(RecurrenceOp op) {
    for (unsigned i = 0; i < op.getNumStates(); ++i) {
      seqc::MatrixStateMatch match = seqc::matchMatrixState(op, i);
      if (match.matched)
        return rewrite(op, match);
    }
    return nullptr;
  }

  /// The same for the first attention that matchAttention accepts.
  RecurrenceOp rewriteFirstAttention(RecurrenceOp op) {
    for (auto attention : op.getBody().getOps<AttentionOp>()) {
      seqc::AttentionMatch match = seqc::matchAttention(attention);
      if (match.matched)
        return rewriteAttention(op, attention, match);
    }
    return nullptr;
  }

  /// The layouts of a matrix state's parts: keys (and queries, decays,
  /// corrections) over [heads, key], values over [heads, value], the state
  /// over [heads, key, value].
  struct StateLayouts {
    Layout keys, values, full;
  };

  static StateLayouts layoutsOf(const seqc::MatrixStateMatch &match, int64_t rank) {
    Layout keyLayout = layoutWithout(match, rank, match.valueAxis, match.keyAxis);
    Layout valueLayout = layoutWithout(match, rank, match.keyAxis, match.valueAxis);
    Layout fullLayout{llvm::to_vector(llvm::seq<int64_t>(0, rank)), {}, keyLayout.numHeads};
    fullLayout.order.assign(match.headAxes.begin(), match.headAxes.end());
    fullLayout.order.push_back(match.keyAxis);
    fullLayout.order.push_back(match.valueAxis);
    return {keyLayout, valueLayout, fullLayout};
  }

  /// The canonical per-step parts, written in the step before `b`'s
  /// insertion point: queries, keys, values, then the decays (when there
  /// are) and the delta rule's corrections (when it is one).
  struct StepParts {
    SmallVector<Value> values;
    unsigned decay, correction;
  };

  static StepParts canonicalParts(OpBuilder &b, Location loc, const seqc::MatrixStateMatch &match,
                                  const StateLayouts &layouts) {
    Value keyFactor = match.keyFactor, valueFactor = match.valueFactor;
    if (match.deltaRule) {
      keyFactor = match.keyFactors.front();
      for (Value factor : ArrayRef<Value>(match.keyFactors).drop_front())
        keyFactor = arith::MulFOp::create(b, loc, keyFactor, factor);
      if (match.valueScale)
        keyFactor = arith::MulFOp::create(b, loc, keyFactor,
                                          spreadLikeDifference(b, match, match.valueScale));
      valueFactor = spreadLikeDifference(b, match, match.deltaValues);
    }
    Value keys = toCanonical(b, loc, dropInvariantAxis(b, loc, keyFactor, match.valueAxis),
                             layouts.keys, 0);
    Value values = toCanonical(b, loc, dropInvariantAxis(b, loc, valueFactor, match.keyAxis),
                               layouts.values, 0);
    Value queries = toCanonical(b, loc, queryOverKeyAxes(b, match, layouts.keys), layouts.keys, 0);
    StepParts parts{{queries, keys, values}, 0, 0};
    parts.decay = parts.values.size();
    if (match.decay)
      parts.values.push_back(toCanonical(
          b, loc, dropInvariantAxis(b, loc, match.decay, match.valueAxis), layouts.keys, 0));
    parts.correction = parts.values.size();
    if (match.deltaRule)
      parts.values.push_back(corrections(b, loc, match, layouts.keys));
    return parts;
  }

  /// The delta rule's w, with its scale c folded in (c S^T w = S^T (c w)).
  static Value corrections(OpBuilder &b, Location loc, const seqc::MatrixStateMatch &match,
                           const Layout &keyLayout) {
    linalg::LinalgOp correction = match.correction;
    OpOperand *oldOperand = correction.getDpsInputOperand(
        match.correctionKey == correction.getDpsInputOperand(0) ? 1 : 0);
    Value corrections =
        operandOverKeyAxes(b, correction, oldOperand, match.correctionKey, keyLayout);
    if (match.correctionScale)
      corrections = arith::MulFOp::create(
          b, loc, corrections,
          dropInvariantAxis(b, loc, spreadLikeDifference(b, match, match.correctionScale),
                            match.valueAxis));
    return toCanonical(b, loc, corrections, keyLayout, 0);
  }

  /// The log decays the chunked op takes: with decays, under a guard that
  /// they are all non-negative (`positive`, whose else-branch runs the
  /// original recurrence after reporting it), floored at kMinLogDecay; zero
  /// without. `b` is left where the chunked path goes.
  static Value logDecaysOf(OpBuilder &b, Location loc, RecurrenceOp recurrence,
                           const seqc::MatrixStateMatch &match, ArrayRef<Value> sequences,
                           unsigned decayPart, scf::IfOp &positive) {
    if (!match.decay)
      return splatLike(b, loc, sequences[1], 0.0);
    Value decays = sequences[decayPart];
    positive = scf::IfOp::create(b, loc, recurrence.getResultTypes(),
                                 allNonNegative(b, loc, decays), /*withElseRegion=*/true);
    OpBuilder otherwise = OpBuilder::atBlockEnd(positive.elseBlock());
    ChunkFallbackReportOp::create(otherwise, loc);
    recurrence->moveBefore(positive.elseBlock(), positive.elseBlock()->end());
    otherwise.setInsertionPointToEnd(positive.elseBlock());
    scf::YieldOp::create(otherwise, loc, recurrence.getResults());
    b.setInsertionPointToStart(positive.thenBlock());
    Value logs = math::LogOp::create(b, loc, decays);
    return arith::MaximumFOp::create(b, loc, logs, splatLike(b, loc, logs, kMinLogDecay));
  }

  /// rec.chunked or rec.chunked_delta on the sequences: its reads and final
  /// state.
  static std::pair<Value, Value> createChunkedOp(OpBuilder &b, Location loc,
                                                 const seqc::MatrixStateMatch &match,
                                                 const StepParts &parts,
                                                 ArrayRef<Value> sequences, Value logDecays,
                                                 Value init, int64_t chunk) {
    if (match.deltaRule) {
      auto chunked =
          ChunkedDeltaOp::create(b, loc, sequences[0], sequences[1], sequences[parts.correction],
                                 sequences[2], logDecays, init, chunk);
      return {chunked.getReads(), chunked.getFinalState()};
    }
    auto chunked =
        ChunkedOp::create(b, loc, sequences[0], sequences[1], sequences[2], logDecays, init, chunk);
    return {chunked.getReads(), chunked.getFinalState()};
  }

  /// Returns the rest of the recurrence.
  RecurrenceOp rewrite(RecurrenceOp recurrence, const seqc::MatrixStateMatch &match) {
    Block &body = recurrence.getBody();
    Location loc = recurrence.getLoc();
    unsigned index = match.state;
    auto stateType = cast<RankedTensorType>(body.getArgument(index).getType());
    ArrayRef<int64_t> stateShape = stateType.getShape();
    int64_t rank = stateType.getRank();
    StateLayouts layouts = layoutsOf(match, rank);

    // Under auto-rule, calls shorter than seqc::kAutoChunkMinChunks chunks
    // run a copy of the recurrence as it is, before any of the chunked
    // path's work.
    int64_t chunk = autoRule ? seqc::autoChunkSize(recurrence, match, chunkSize) : chunkSize;
    if (autoRule)
      guardByLength(recurrence, seqc::kAutoChunkMinChunks * chunk);

    // The canonical per-step parts, in the step, then for all steps.
    OpBuilder b(body.getTerminator());
    StepParts parts = canonicalParts(b, loc, match, layouts);
    SmallVector<Value> sequences = outlineStateFreeValues(b, recurrence, parts.values);

    b.setInsertionPoint(recurrence);
    scf::IfOp positive;
    Value logDecays = logDecaysOf(b, loc, recurrence, match, sequences, parts.decay, positive);
    Value init = toCanonical(b, loc, recurrence.getInits()[index], layouts.full, 1);
    auto [reads, finalState] =
        createChunkedOp(b, loc, match, parts, sequences, logDecays, init, chunk);
    SmallVector<int64_t> allAxes = llvm::to_vector(llvm::seq<int64_t>(0, rank));
    Value final = fromCanonical(b, loc, finalState, layouts.full, 1, stateShape, allAxes);

    // The rest of the recurrence, reading the state through its reads.
    linalg::LinalgOp stateRead = match.read;
    RecurrenceOp rest = withSequenceInput(
        b, recurrence, index, reads, stateRead,
        [&](OpBuilder &r, IRMapping &mapping, Value read) {
          return readFromCanonical(r, loc, match, layouts.values, stateShape, read,
                                   mapping.lookupOrDefault(stateRead.getDpsInits()[0]));
        });

    SmallVector<Value> results;
    for (unsigned i = 0, j = 0; i < recurrence.getNumResults(); ++i)
      results.push_back(i == index ? final : rest.getResult(j++));
    if (positive) {
      scf::YieldOp::create(b, loc, results);
      recurrence->replaceUsesWithIf(positive.getResults(), [&](OpOperand &use) {
        return !positive->isAncestor(use.getOwner());
      });
    } else {
      recurrence.replaceAllUsesWith(results);
      recurrence.erase();
    }
    return rest;
  }

  /// Puts `recurrence` in the then-branch of an scf.if on T >= `length`
  /// whose else-branch runs a copy of it.
  static void guardByLength(RecurrenceOp recurrence, int64_t length) {
    Location loc = recurrence.getLoc();
    OpBuilder b(recurrence);
    Value longEnough = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                             recurrence.getLength(),
                                             arith::ConstantIndexOp::create(b, loc, length));
    auto guard = scf::IfOp::create(b, loc, recurrence.getResultTypes(), longEnough,
                                   /*withElseRegion=*/true);
    OpBuilder otherwise = OpBuilder::atBlockEnd(guard.elseBlock());
    Operation *copy = otherwise.clone(*recurrence);
    scf::YieldOp::create(otherwise, loc, copy->getResults());
    recurrence->replaceAllUsesWith(guard.getResults());
    recurrence->moveBefore(guard.thenBlock(), guard.thenBlock()->end());
    OpBuilder then = OpBuilder::atBlockEnd(guard.thenBlock());
    scf::YieldOp::create(then, loc, recurrence.getResults());
  }

  /// Moves `attention` out of `recurrence` into a rec.chunked_attention
  /// over the whole sequences; returns the rest of the recurrence, which
  /// takes the attention's output as an input.
  RecurrenceOp rewriteAttention(RecurrenceOp recurrence, AttentionOp attention,
                                const seqc::AttentionMatch &match) {
    Location loc = attention.getLoc();
    OpBuilder b(recurrence.getBody().getTerminator());
    SmallVector<Value> parts = {headsFlattened(b, loc, attention.getK()),
                                headsFlattened(b, loc, attention.getV())};
    if (!match.fixedQuery)
      parts.push_back(headsFlattened(b, loc, attention.getQ()));
    SmallVector<Value> sequences = outlineStateFreeValues(b, recurrence, parts);
    b.setInsertionPoint(recurrence);
    Value queries = match.fixedQuery
                        ? headsFlattened(b, loc, cloneInvariant(b, recurrence, attention.getQ()))
                        : sequences[2];
    auto chunked = ChunkedAttentionOp::create(
        b, loc, queries, sequences[0], sequences[1], attention.getScale().convertToDouble(),
        static_cast<int64_t>(attention.getWindow()), chunkSize);
    auto resultType = cast<RankedTensorType>(attention.getType());
    RecurrenceOp rest = withSequenceInput(
        b, recurrence, std::nullopt, chunked.getOutputs(), attention,
        [&](OpBuilder &r, IRMapping &, Value output) {
          return headsRestored(r, loc, output, resultType);
        });
    recurrence.replaceAllUsesWith(rest.getResults());
    recurrence.erase();
    return rest;
  }

  /// The read's operand that is the new state (the other one is the query).
  static OpOperand *stateOperandOf(const seqc::MatrixStateMatch &match) {
    linalg::LinalgOp read = match.read;
    return read.getDpsInputOperand(match.query->getOperandNumber() == 0 ? 1 : 0);
  }

  /// The query of the read, over the state's axes without the value axis
  /// (in state order): the read's query broadcast to the heads it may lack.
  static Value queryOverKeyAxes(OpBuilder &b, const seqc::MatrixStateMatch &match,
                                const Layout &layout) {
    return operandOverKeyAxes(b, match.read, stateOperandOf(match), match.query, layout);
  }

  /// `operand` of the contraction `generic` of the state operand
  /// `stateOperand`, over the state's axes in `layout.axes` (which the
  /// contraction's loops index through the state's map).
  static Value operandOverKeyAxes(OpBuilder &b, linalg::LinalgOp generic,
                                  OpOperand *stateOperand, OpOperand *operand,
                                  const Layout &layout) {
    Location loc = generic.getLoc();
    auto stateType = cast<RankedTensorType>(stateOperand->get().getType());
    AffineMap stateMap = generic.getMatchingIndexingMap(stateOperand);
    AffineMap operandMap = generic.getMatchingIndexingMap(operand);
    // Loop of the contraction -> position among layout.axes.
    MLIRContext *ctx = b.getContext();
    SmallVector<AffineExpr> results;
    for (AffineExpr expr : operandMap.getResults()) {
      unsigned loop = cast<AffineDimExpr>(expr).getPosition();
      int64_t position = -1;
      for (auto [p, axis] : llvm::enumerate(layout.axes))
        if (stateMap.getDimPosition(axis) == loop)
          position = p;
      results.push_back(getAffineDimExpr(position, ctx));
    }
    unsigned rank = layout.axes.size();
    SmallVector<int64_t> shape;
    for (int64_t axis : layout.axes)
      shape.push_back(stateType.getDimSize(axis));
    Value empty = tensor::EmptyOp::create(b, loc, shape, stateType.getElementType());
    SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, results, ctx),
                                   AffineMap::getMultiDimIdentityMap(rank, ctx)};
    SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, empty.getType(), ValueRange{operand->get()}, ValueRange{empty}, maps,
               iterators,
               [](OpBuilder &nested, Location nestedLoc, ValueRange args) {
                 linalg::YieldOp::create(nested, nestedLoc, args[0]);
               })
        .getResult(0);
  }

  /// For the delta rule: `value`, in the shape of v - c * S^T w, spread over
  /// the state's axes as that factor is (the reshapes and the broadcast
  /// between them, cloned).
  static Value spreadLikeDifference(OpBuilder &b, const seqc::MatrixStateMatch &match,
                                    Value value) {
    SmallVector<Operation *> chain = {match.valueFactor.getDefiningOp()};
    Value input = cast<linalg::BroadcastOp>(chain.front()).getInput();
    while (isa_and_nonnull<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(input.getDefiningOp())) {
      chain.push_back(input.getDefiningOp());
      input = chain.back()->getOperand(0);
    }
    IRMapping mapping;
    mapping.map(input, value);
    Value spread;
    for (Operation *link : llvm::reverse(chain))
      spread = b.clone(*link, mapping)->getResult(0);
    return spread;
  }

  /// The read's result from the step's canonical read [H, V]: init + read,
  /// laid out as the read's output.
  static Value readFromCanonical(OpBuilder &b, Location loc, const seqc::MatrixStateMatch &match,
                                 const Layout &valueLayout, ArrayRef<int64_t> stateShape,
                                 Value canonical, Value init) {
    linalg::LinalgOp read = match.read;
    AffineMap stateMap = read.getMatchingIndexingMap(stateOperandOf(match));
    AffineMap outMap = read.getMatchingIndexingMap(read.getDpsInitOperand(0));
    // [H, V] -> [heads..., V] in valueLayout.order.
    Value spread = fromCanonical(b, loc, canonical, valueLayout, 0, stateShape,
                                 valueLayout.order);
    // The read's loops without its reduction loop, renumbered.
    unsigned reduction = stateMap.getDimPosition(match.keyAxis);
    unsigned nLoops = read.getNumLoops();
    MLIRContext *ctx = b.getContext();
    auto renumber = [&](unsigned loop) { return loop < reduction ? loop : loop - 1; };
    SmallVector<AffineExpr> spreadResults, outResults;
    for (int64_t axis : valueLayout.order)
      spreadResults.push_back(getAffineDimExpr(renumber(stateMap.getDimPosition(axis)), ctx));
    for (AffineExpr expr : outMap.getResults())
      outResults.push_back(
          getAffineDimExpr(renumber(cast<AffineDimExpr>(expr).getPosition()), ctx));
    SmallVector<AffineMap> maps = {AffineMap::get(nLoops - 1, 0, spreadResults, ctx),
                                   AffineMap::get(nLoops - 1, 0, outResults, ctx)};
    SmallVector<utils::IteratorType> iterators(nLoops - 1, utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, init.getType(), ValueRange{spread}, ValueRange{init}, maps, iterators,
               [](OpBuilder &nested, Location nestedLoc, ValueRange args) {
                 Value sum = arith::AddFOp::create(nested, nestedLoc, args[1], args[0]);
                 linalg::YieldOp::create(nested, nestedLoc, sum);
               })
        .getResult(0);
  }

  /// A tensor shaped as `like` (dynamic sizes included) filled with `value`.
  static Value splatLike(OpBuilder &b, Location loc, Value like, double value) {
    auto type = cast<RankedTensorType>(like.getType());
    Value empty = tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, like),
                                          type.getElementType());
    Value scalar = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(value)));
    return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
  }

  /// min over all elements of `decays` >= 0 (false for a NaN).
  static Value allNonNegative(OpBuilder &b, Location loc, Value decays) {
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE,
                                 minimumOfAll(b, loc, decays), zero);
  }
};

} // namespace
} // namespace mlir::rec
