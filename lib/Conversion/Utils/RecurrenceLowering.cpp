//===- RecurrenceLowering.cpp - rec ops of a model body to loops ----------===//
//
// The half of the model lowering (ModelLowering.h) that turns the rec ops
// of an entry's body into loops over tensors: scf.forall where steps are
// independent (batch rows; every (b, t) of a stateless recurrence), scf.for
// over time where they are not; rec.attention into its history buffers and
// a softmax loop; rec.scan into rec.linear_scan, which the targets lower on
// buffers.
//
//===----------------------------------------------------------------------===//
#include "RecurrenceLowering.h"

#include "seqc/Conversion/Utils/LoweringUtils.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

#include <limits>

using namespace mlir;
using seqc::emptyTensor;
using seqc::f32Constant;
using seqc::indexConstant;

namespace {

OpFoldResult sizeOf(OpBuilder &b, Location loc, Value tensor, int64_t dim) {
  auto type = cast<RankedTensorType>(tensor.getType());
  if (!type.isDynamicDim(dim))
    return b.getIndexAttr(type.getDimSize(dim));
  return tensor::DimOp::create(b, loc, tensor, dim).getResult();
}

/// Offsets, sizes and strides of the slice of `whole` at `lead` on its
/// leading axes (each of size 1, dropped in the slice), whole elsewhere.
struct SliceSpec {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  RankedTensorType sliceType;
};

SliceSpec leadingSlice(OpBuilder &b, Location loc, Value whole, ValueRange lead) {
  auto type = cast<RankedTensorType>(whole.getType());
  SliceSpec spec;
  for (Value index : lead) {
    spec.offsets.push_back(index);
    spec.sizes.push_back(b.getIndexAttr(1));
  }
  for (int64_t d = lead.size(); d < type.getRank(); ++d) {
    spec.offsets.push_back(b.getIndexAttr(0));
    spec.sizes.push_back(sizeOf(b, loc, whole, d));
  }
  spec.strides.assign(type.getRank(), b.getIndexAttr(1));
  spec.sliceType =
      RankedTensorType::get(type.getShape().drop_front(lead.size()), type.getElementType());
  return spec;
}

Value extractAt(OpBuilder &b, Location loc, Value whole, ValueRange lead) {
  SliceSpec s = leadingSlice(b, loc, whole, lead);
  return tensor::ExtractSliceOp::create(b, loc, s.sliceType, whole, s.offsets, s.sizes,
                                        s.strides);
}

Value insertAt(OpBuilder &b, Location loc, Value part, Value whole, ValueRange lead) {
  SliceSpec s = leadingSlice(b, loc, whole, lead);
  return tensor::InsertSliceOp::create(b, loc, part, whole, s.offsets, s.sizes, s.strides);
}

/// The sizes are computed with `body` (before the forall's terminator, which
/// holds nothing but the inserts).
void parallelInsertAt(OpBuilder &body, OpBuilder &terminator, Location loc, Value part,
                      Value whole, ValueRange lead) {
  SliceSpec s = leadingSlice(body, loc, whole, lead);
  tensor::ParallelInsertSliceOp::create(terminator, loc, part, whole, s.offsets, s.sizes,
                                        s.strides);
}



//===----------------------------------------------------------------------===//
// Attention with its history
//===----------------------------------------------------------------------===//

/// The key/value history of one rec.attention for one batch row.
struct AttentionHistory {
  Value keys, values; // memref<? x heads x Dk>, memref<? x heads x Dv>
  Value scratch;      // memref<heads x Dv>: the step's output
  int64_t heads, keyDim, valueDim;
};

/// [L..., D] -> [prod(L), D] (a rank-1 [D] becomes [1, D]).
Value toHeadMatrix(OpBuilder &b, Location loc, Value tensor, int64_t heads) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto matrix = RankedTensorType::get({heads, type.getShape().back()}, type.getElementType());
  if (type.getRank() == 1)
    return tensor::ExpandShapeOp::create(b, loc, matrix, tensor,
                                         SmallVector<ReassociationIndices>{{0, 1}});
  if (type.getRank() == 2)
    return tensor;
  ReassociationIndices lead;
  for (int64_t d = 0; d + 1 < type.getRank(); ++d)
    lead.push_back(d);
  return tensor::CollapseShapeOp::create(
      b, loc, matrix, tensor,
      SmallVector<ReassociationIndices>{lead, {type.getRank() - 1}});
}

Value fromHeadMatrix(OpBuilder &b, Location loc, Value matrix, RankedTensorType type) {
  if (type.getRank() == 2)
    return matrix;
  if (type.getRank() == 1)
    return tensor::CollapseShapeOp::create(b, loc, type, matrix,
                                           SmallVector<ReassociationIndices>{{0, 1}});
  ReassociationIndices lead;
  for (int64_t d = 0; d + 1 < type.getRank(); ++d)
    lead.push_back(d);
  return tensor::ExpandShapeOp::create(
      b, loc, type, matrix, SmallVector<ReassociationIndices>{lead, {type.getRank() - 1}});
}

AttentionHistory allocateHistory(OpBuilder &b, Location loc, rec::AttentionOp op, Value length) {
  auto q = cast<RankedTensorType>(op.getQ().getType());
  auto v = cast<RankedTensorType>(op.getV().getType());
  AttentionHistory h;
  h.keyDim = q.getShape().back();
  h.valueDim = v.getShape().back();
  h.heads = 1;
  for (int64_t d : q.getShape().drop_back())
    h.heads *= d;
  Type f32 = b.getF32Type();
  h.keys = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, h.heads, h.keyDim}, f32), ValueRange{length});
  h.values = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, h.heads, h.valueDim}, f32),
      ValueRange{length});
  h.scratch = memref::AllocOp::create(b, loc, MemRefType::get({h.heads, h.valueDim}, f32));
  return h;
}

/// Appends k and v of step t to the history and computes
/// o[h] = sum_i softmax_i(scale q[h] . k[i, h]) v[i, h] over the window.
Value lowerAttention(OpBuilder &b, Location loc, rec::AttentionOp op,
                     const AttentionHistory &hist, Value t, Value q, Value k, Value v) {
  auto storeRow = [&](Value tensor, Value history, int64_t dim) {
    Value matrix = toHeadMatrix(b, loc, tensor, hist.heads);
    auto rowType = cast<MemRefType>(memref::SubViewOp::inferRankReducedResultType(
        {hist.heads, dim}, cast<MemRefType>(history.getType()),
        ArrayRef<int64_t>{ShapedType::kDynamic, 0, 0}, ArrayRef<int64_t>{1, hist.heads, dim},
        ArrayRef<int64_t>{1, 1, 1}));
    Value row = memref::SubViewOp::create(
        b, loc, rowType, history, ArrayRef<OpFoldResult>{t, b.getIndexAttr(0), b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(hist.heads),
                               b.getIndexAttr(dim)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1), b.getIndexAttr(1)});
    bufferization::MaterializeInDestinationOp::create(b, loc, TypeRange{}, matrix, row,
                                                      /*restrict=*/false, /*writable=*/true);
  };
  storeRow(k, hist.keys, hist.keyDim);
  storeRow(v, hist.values, hist.valueDim);
  Value qMatrix = toHeadMatrix(b, loc, q, hist.heads);

  Value c0 = indexConstant(b, loc, 0), c1 = indexConstant(b, loc, 1);
  Value end = arith::AddIOp::create(b, loc, t, c1);
  Value begin = c0;
  if (auto window = static_cast<int64_t>(op.getWindow())) {
    // max(0, t + 1 - window)
    Value w = indexConstant(b, loc, window);
    Value start = arith::SubIOp::create(b, loc, end, arith::MinSIOp::create(b, loc, end, w));
    begin = start;
  }
  Value scale = f32Constant(b, loc, op.getScale().convertToDouble());
  Value zero = f32Constant(b, loc, 0.0);
  Value negInf = f32Constant(b, loc, -std::numeric_limits<float>::infinity());
  Value keyDim = indexConstant(b, loc, hist.keyDim);
  Value valueDim = indexConstant(b, loc, hist.valueDim);

  auto score = [&](OpBuilder &b, Value head, Value i) -> Value {
    auto dot = scf::ForOp::create(
        b, loc, c0, keyDim, c1, ValueRange{zero},
        [&](OpBuilder &b, Location loc, Value d, ValueRange acc) {
          Value qd = tensor::ExtractOp::create(b, loc, qMatrix, ValueRange{head, d});
          Value kd = memref::LoadOp::create(b, loc, hist.keys, ValueRange{i, head, d});
          Value sum = arith::AddFOp::create(b, loc, acc[0], arith::MulFOp::create(b, loc, qd, kd));
          scf::YieldOp::create(b, loc, sum);
        });
    return arith::MulFOp::create(b, loc, dot.getResult(0), scale);
  };

  scf::ForOp::create(
      b, loc, c0, indexConstant(b, loc, hist.heads), c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value head, ValueRange) {
        auto maxLoop = scf::ForOp::create(
            b, loc, begin, end, c1, ValueRange{negInf},
            [&](OpBuilder &b, Location loc, Value i, ValueRange acc) {
              scf::YieldOp::create(b, loc,
                                   Value(arith::MaximumFOp::create(b, loc, acc[0], score(b, head, i))));
            });
        Value maximum = maxLoop.getResult(0);
        scf::ForOp::create(b, loc, c0, valueDim, c1, ValueRange{},
                           [&](OpBuilder &b, Location loc, Value d, ValueRange) {
                             memref::StoreOp::create(b, loc, zero, hist.scratch,
                                                     ValueRange{head, d});
                             scf::YieldOp::create(b, loc);
                           });
        auto sumLoop = scf::ForOp::create(
            b, loc, begin, end, c1, ValueRange{zero},
            [&](OpBuilder &b, Location loc, Value i, ValueRange acc) {
              Value p = math::ExpOp::create(
                  b, loc, arith::SubFOp::create(b, loc, score(b, head, i), maximum));
              scf::ForOp::create(
                  b, loc, c0, valueDim, c1, ValueRange{},
                  [&](OpBuilder &b, Location loc, Value d, ValueRange) {
                    Value old = memref::LoadOp::create(b, loc, hist.scratch, ValueRange{head, d});
                    Value vd = memref::LoadOp::create(b, loc, hist.values, ValueRange{i, head, d});
                    Value updated =
                        arith::AddFOp::create(b, loc, old, arith::MulFOp::create(b, loc, p, vd));
                    memref::StoreOp::create(b, loc, updated, hist.scratch, ValueRange{head, d});
                    scf::YieldOp::create(b, loc);
                  });
              scf::YieldOp::create(b, loc, Value(arith::AddFOp::create(b, loc, acc[0], p)));
            });
        Value denominator = sumLoop.getResult(0);
        scf::ForOp::create(b, loc, c0, valueDim, c1, ValueRange{},
                           [&](OpBuilder &b, Location loc, Value d, ValueRange) {
                             Value x = memref::LoadOp::create(b, loc, hist.scratch,
                                                              ValueRange{head, d});
                             memref::StoreOp::create(b, loc,
                                                     arith::DivFOp::create(b, loc, x, denominator),
                                                     hist.scratch, ValueRange{head, d});
                             scf::YieldOp::create(b, loc);
                           });
        scf::YieldOp::create(b, loc);
      });
  auto matrixType = RankedTensorType::get({hist.heads, hist.valueDim}, b.getF32Type());
  Value result = bufferization::ToTensorOp::create(b, loc, matrixType, hist.scratch,
                                                   /*restrict=*/b.getUnitAttr());
  return fromHeadMatrix(b, loc, result, cast<RankedTensorType>(op.getType()));
}

//===----------------------------------------------------------------------===//
// Recurrences and scans
//===----------------------------------------------------------------------===//

/// Clones the step of `recurrence` at the builder's insertion point, with
/// `states` and `inputs` for its arguments; returns what it yields.
SmallVector<Value> cloneStep(OpBuilder &b, rec::RecurrenceOp recurrence, ValueRange states,
                             ValueRange inputs, Value t,
                             const DenseMap<Operation *, AttentionHistory> &histories) {
  Block &body = recurrence.getBody();
  IRMapping mapping;
  mapping.map(body.getArguments().take_front(states.size()), states);
  mapping.map(body.getArguments().drop_front(states.size()), inputs);
  for (Operation &op : body.without_terminator()) {
    if (auto attention = dyn_cast<rec::AttentionOp>(op)) {
      Value o = lowerAttention(b, attention.getLoc(), attention, histories.at(&op), t,
                               mapping.lookupOrDefault(attention.getQ()), mapping.lookupOrDefault(attention.getK()),
                               mapping.lookupOrDefault(attention.getV()));
      mapping.map(attention.getResult(), o);
      continue;
    }
    b.clone(op, mapping);
  }
  SmallVector<Value> yielded;
  for (Value value : body.getTerminator()->getOperands())
    yielded.push_back(mapping.lookupOrDefault(value));
  return yielded;
}

/// Ends a lowering into `forall`: each of `values` goes into the shared
/// output of the same position at `lead`, and the forall's results replace
/// those of `op`.
void finishForall(OpBuilder &inner, scf::ForallOp forall, Operation *op, ValueRange values,
                  ValueRange lead) {
  OpBuilder terminator = OpBuilder::atBlockEnd(forall.getTerminator().getBody());
  for (auto [value, out] : llvm::zip(values, forall.getRegionIterArgs()))
    parallelInsertAt(inner, terminator, op->getLoc(), value, out, lead);
  op->replaceAllUsesWith(forall.getResults());
  op->erase();
}

/// A recurrence whose steps are independent: every (b, t) in parallel.
void lowerStatelessRecurrence(OpBuilder &b, rec::RecurrenceOp op) {
  Location loc = op.getLoc();
  Value batch = op.getBatch(), length = op.getLength();
  SmallVector<Value> outs;
  for (Type type : op.getResultTypes())
    outs.push_back(emptyTensor(b, loc, type, {batch, length}));
  auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{batch, length}, outs,
                                      std::nullopt);
  OpBuilder inner = OpBuilder::atBlockBegin(forall.getBody());
  SmallVector<Value> ivs(forall.getInductionVars());
  SmallVector<Value> inputs;
  for (Value input : op.getInputs())
    inputs.push_back(extractAt(inner, loc, input, ivs));
  DenseMap<Operation *, AttentionHistory> noHistories;
  SmallVector<Value> yielded = cloneStep(inner, op, ValueRange{}, inputs, ivs[1], noHistories);
  finishForall(inner, forall, op, yielded, ivs);
}

/// A recurrence with states (or attention's history): rows in parallel,
/// time in order (backwards for a reverse recurrence).
void lowerSequentialRecurrence(OpBuilder &b, rec::RecurrenceOp op) {
  Location loc = op.getLoc();
  Value batch = op.getBatch(), length = op.getLength();
  unsigned nState = op.getNumStates();
  SmallVector<Value> outs;
  for (auto [i, type] : llvm::enumerate(op.getResultTypes()))
    outs.push_back(i < nState ? emptyTensor(b, loc, type, {batch})
                              : emptyTensor(b, loc, type, {batch, length}));
  auto forall =
      scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{batch}, outs, std::nullopt);
  OpBuilder inner = OpBuilder::atBlockBegin(forall.getBody());
  Value row = forall.getInductionVars()[0];
  ValueRange shared = forall.getRegionIterArgs();

  DenseMap<Operation *, AttentionHistory> histories;
  op.getBody().walk([&](rec::AttentionOp attention) {
    histories[attention] = allocateHistory(inner, loc, attention, length);
  });

  SmallVector<Value> carried;
  for (Value init : op.getInits())
    carried.push_back(extractAt(inner, loc, init, row));
  for (Value out : shared.drop_front(nState))
    carried.push_back(extractAt(inner, loc, out, row));
  auto loop = scf::ForOp::create(
      inner, loc, indexConstant(inner, loc, 0), length, indexConstant(inner, loc, 1), carried,
      [&](OpBuilder &b, Location loc, Value iteration, ValueRange iterArgs) {
        // A reverse recurrence visits t = length-1 .. 0.
        Value t = iteration;
        if (op.getReverse())
          t = arith::SubIOp::create(
              b, loc, arith::SubIOp::create(b, loc, length, indexConstant(b, loc, 1)), iteration);
        SmallVector<Value> inputs;
        for (Value input : op.getInputs())
          inputs.push_back(extractAt(b, loc, input, {row, t}));
        SmallVector<Value> yielded =
            cloneStep(b, op, iterArgs.take_front(nState), inputs, t, histories);
        SmallVector<Value> next(yielded.begin(), yielded.begin() + nState);
        for (unsigned i = nState; i < yielded.size(); ++i)
          next.push_back(insertAt(b, loc, yielded[i], iterArgs[i], t));
        scf::YieldOp::create(b, loc, next);
      });
  finishForall(inner, forall, op, loop.getResults(), row);
}

/// h[t] = a[t] * h[t-1] + b[t] (or h[t+1], reversed) as rec.linear_scan into fresh destinations:
/// after bufferization those are the caller's arrays where the states are an
/// output, and convert-linear-scan-to-loops lowers it on buffers, where it
/// can compute in place and split time across threads.
void lowerScan(OpBuilder &b, rec::ScanOp op) {
  Location loc = op.getLoc();
  Value batch = tensor::DimOp::create(b, loc, op.getCoefficients(), 0);
  Value length = tensor::DimOp::create(b, loc, op.getCoefficients(), 1);
  Value states = emptyTensor(b, loc, op.getStates().getType(), {batch, length});
  Value final = emptyTensor(b, loc, op.getFinalState().getType(), {batch});
  auto scan = rec::LinearScanOp::create(
      b, loc, TypeRange{states.getType(), final.getType()},
      ValueRange{op.getCoefficients(), op.getOffsets(), op.getInit(), states, final},
      op->getAttrs());
  op->replaceAllUsesWith(scan.getResults());
  op->erase();
}
} // namespace

Value seqc::emptyTensor(OpBuilder &b, Location loc, Type type, ValueRange dynamicSizes) {
  auto tensorType = cast<RankedTensorType>(type);
  return tensor::EmptyOp::create(b, loc, tensorType.getShape(), tensorType.getElementType(),
                                 dynamicSizes);
}

void seqc::lowerRecurrenceOps(Operation *root) {
  SmallVector<Operation *> recOps;
  root->walk([&](Operation *op) {
    if (isa<rec::RecurrenceOp, rec::ScanOp>(op))
      recOps.push_back(op);
  });
  for (Operation *op : recOps) {
    OpBuilder builder(op);
    if (auto scan = dyn_cast<rec::ScanOp>(op)) {
      lowerScan(builder, scan);
      continue;
    }
    auto recurrence = cast<rec::RecurrenceOp>(op);
    bool hasAttention = false;
    recurrence.getBody().walk([&](rec::AttentionOp) { hasAttention = true; });
    if (recurrence.getNumStates() == 0 && !hasAttention)
      lowerStatelessRecurrence(builder, recurrence);
    else
      lowerSequentialRecurrence(builder, recurrence);
  }
}
