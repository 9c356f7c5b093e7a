//===- RecToCPU.cpp - rec models to ABI functions with loops over tensors -===//
//
// convert-rec-to-cpu: each rec.model becomes its kernel's C entry point,
// M_forward(B, T, pointers...) -> status. The entry point checks the sizes and
// the pointers (a bad call returns a code, it never aborts), wraps the
// caller's arrays as memrefs and runs the model's ops on tensors, which
// One-Shot Bufferize later places in the caller's buffers. The rec ops become
// loops: scf.forall where steps are independent (batch rows; every (b, t) of a
// stateless recurrence), scf.for over time where they are not.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "LoweringUtils.h"
#include "ModelLowering.h"
#include "RecOps.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/IR/IRMapping.h"

namespace seqc {
#define GEN_PASS_DEF_CONVERTRECTOCPU
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;
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

/// tensor.empty of `type`, with `dynamicSizes` for its dynamic axes in order.
Value emptyTensor(OpBuilder &b, Location loc, Type type, ValueRange dynamicSizes) {
  auto tensorType = cast<RankedTensorType>(type);
  return tensor::EmptyOp::create(b, loc, tensorType.getShape(), tensorType.getElementType(),
                                 dynamicSizes);
}

Value f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(static_cast<float>(value)));
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
/// time in order.
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
      [&](OpBuilder &b, Location loc, Value t, ValueRange iterArgs) {
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

/// h[t] = a[t] * h[t-1] + b[t] as rec.linear_scan into fresh destinations:
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
      ValueRange{op.getCoefficients(), op.getOffsets(), op.getInit(), states, final});
  op->replaceAllUsesWith(scan.getResults());
  op->erase();
}

//===----------------------------------------------------------------------===//
// The ABI entry point
//===----------------------------------------------------------------------===//

/// A memref over the caller's dense row-major array at `pointer`: the
/// descriptor is assembled in the LLVM dialect and cast back, and the cast
/// pair cancels after the conversion to LLVM.
Value memrefFromPointer(OpBuilder &b, Location loc, Value pointer, MemRefType type,
                        ValueRange dynamicSizes) {
  MLIRContext *ctx = b.getContext();
  LLVMTypeConverter converter(ctx);
  Type descriptorType = converter.convertType(type);
  Type i64 = b.getI64Type();
  Value descriptor = LLVM::PoisonOp::create(b, loc, descriptorType);
  descriptor = LLVM::InsertValueOp::create(b, loc, descriptor, pointer, ArrayRef<int64_t>{0});
  descriptor = LLVM::InsertValueOp::create(b, loc, descriptor, pointer, ArrayRef<int64_t>{1});
  descriptor = LLVM::InsertValueOp::create(
      b, loc, descriptor, LLVM::ConstantOp::create(b, loc, i64, 0), ArrayRef<int64_t>{2});
  SmallVector<Value> sizes;
  unsigned next = 0;
  for (int64_t d = 0; d < type.getRank(); ++d)
    sizes.push_back(type.isDynamicDim(d)
                        ? dynamicSizes[next++]
                        : Value(LLVM::ConstantOp::create(b, loc, i64, type.getDimSize(d))));
  Value stride = LLVM::ConstantOp::create(b, loc, i64, 1);
  for (int64_t d = type.getRank() - 1; d >= 0; --d) {
    descriptor = LLVM::InsertValueOp::create(b, loc, descriptor, sizes[d],
                                             ArrayRef<int64_t>{3, d});
    descriptor = LLVM::InsertValueOp::create(b, loc, descriptor, stride,
                                             ArrayRef<int64_t>{4, d});
    stride = LLVM::MulOp::create(b, loc, stride, sizes[d]);
  }
  return UnrealizedConversionCastOp::create(b, loc, type, descriptor).getResult(0);
}

Value isNull(OpBuilder &b, Location loc, Value pointer) {
  Value null = LLVM::ZeroOp::create(b, loc, pointer.getType());
  return LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, pointer, null);
}

MemRefType memrefTypeOf(Type tensorType) {
  auto type = cast<RankedTensorType>(tensorType);
  return MemRefType::get(type.getShape(), type.getElementType());
}

} // namespace

/// The entry point `name` runs `kernel` through the runtime's guard,
/// guard([stream,] thunk, args), which turns a failure anywhere in the
/// kernel (a failed allocation; on the GPU also a failed driver call) into
/// a status code: the arguments travel in a struct on the stack, and the
/// thunk unpacks them and calls the kernel. With a leading stream, the
/// guard also receives it, so that the runtime knows where to enqueue work.
static void buildGuardedEntry(OpBuilder &b, Location loc, StringRef name, func::FuncOp kernel,
                              const seqc::EntryConvention &convention) {
  MLIRContext *ctx = b.getContext();
  auto module = kernel->getParentOfType<ModuleOp>();
  Type i32 = b.getI32Type(), ptr = LLVM::LLVMPointerType::get(ctx);
  ArrayRef<Type> argTypes = kernel.getFunctionType().getInputs();
  auto structType = LLVM::LLVMStructType::getLiteral(ctx, argTypes);
  SmallVector<Type> guardArgs;
  if (convention.leadingStream)
    guardArgs.push_back(ptr);
  guardArgs.append({ptr, ptr});
  if (!module.lookupSymbol(convention.guard)) {
    OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
    func::FuncOp::create(top, loc, convention.guard, top.getFunctionType(guardArgs, {i32}))
        .setPrivate();
  }
  OpBuilder::InsertionGuard guard(b);
  auto field = [&](OpBuilder &b, Value base, unsigned index) -> Value {
    return LLVM::GEPOp::create(b, loc, ptr, structType, base,
                               ArrayRef<LLVM::GEPArg>{0, int32_t(index)});
  };

  auto thunkType = b.getFunctionType({ptr}, {i32});
  auto thunk = func::FuncOp::create(b, loc, (name + "_thunk").str(), thunkType);
  thunk.setPrivate();
  Block *thunkEntry = thunk.addEntryBlock();
  b.setInsertionPointToStart(thunkEntry);
  SmallVector<Value> unpacked;
  for (auto [index, type] : llvm::enumerate(argTypes))
    unpacked.push_back(
        LLVM::LoadOp::create(b, loc, type, field(b, thunkEntry->getArgument(0), index)));
  Value status = func::CallOp::create(b, loc, kernel, unpacked).getResult(0);
  func::ReturnOp::create(b, loc, status);

  b.setInsertionPointAfter(thunk);
  auto entry = func::FuncOp::create(b, loc, name, kernel.getFunctionType());
  Block *body = entry.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value one = LLVM::ConstantOp::create(b, loc, b.getI64Type(), 1);
  Value args = LLVM::AllocaOp::create(b, loc, ptr, structType, one);
  for (auto [index, arg] : llvm::enumerate(body->getArguments()))
    LLVM::StoreOp::create(b, loc, arg, field(b, args, index));
  Value function = func::ConstantOp::create(b, loc, thunkType, thunk.getSymName());
  Value functionPtr = UnrealizedConversionCastOp::create(b, loc, ptr, function).getResult(0);
  SmallVector<Value> guardOperands;
  if (convention.leadingStream)
    guardOperands.push_back(body->getArgument(0));
  guardOperands.append({functionPtr, args});
  Value result =
      func::CallOp::create(b, loc, convention.guard, TypeRange{i32}, guardOperands).getResult(0);
  func::ReturnOp::create(b, loc, result);
}

void seqc::lowerModelToEntry(rec::ModelOp model, const EntryConvention &convention) {
    MLIRContext *ctx = model.getContext();
    Location loc = model.getLoc();
    OpBuilder b(model);
    Type i64 = b.getI64Type(), i32 = b.getI32Type();
    Type ptr = LLVM::LLVMPointerType::get(ctx);
    unsigned nInput = model.getNumInputs(), nParam = model.getNumParams(),
             nState = model.getNumStates(), nOutput = model.getNumOutputs();
    SmallVector<Type> argTypes;
    if (convention.leadingStream)
      argTypes.push_back(ptr);
    argTypes.append({i64, i64});
    argTypes.append(nInput + nParam + 2 * nState + nOutput, ptr);
    std::string entryName = (model.getSymName() + convention.suffix).str();
    auto func = func::FuncOp::create(b, loc, entryName + "_unguarded",
                                     FunctionType::get(ctx, argTypes, {i32}));
    func.setPrivate();
    buildGuardedEntry(b, loc, entryName, func, convention);
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    unsigned first = convention.leadingStream ? 1 : 0;
    Value batch64 = entry->getArgument(first), length64 = entry->getArgument(first + 1);
    ValueRange pointers = entry->getArguments().drop_front(first + 2);
    ValueRange inputPtrs = pointers.take_front(nInput);
    ValueRange paramPtrs = pointers.slice(nInput, nParam);
    ValueRange initPtrs = pointers.slice(nInput + nParam, nState);
    ValueRange outputPtrs = pointers.slice(nInput + nParam + nState, nOutput);
    ValueRange finalPtrs = pointers.take_back(nState);

    auto status = [&](OpBuilder &b, int code) -> Value {
      return arith::ConstantIntOp::create(b, loc, i32, code);
    };
    Value zero64 = arith::ConstantIntOp::create(b, loc, i64, 0);
    Value negative = arith::OrIOp::create(
        b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, batch64, zero64),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, length64, zero64));
    auto checkSizes = scf::IfOp::create(b, loc, TypeRange{i32}, negative, true, true);
    {
      OpBuilder thenBuilder = OpBuilder::atBlockEnd(checkSizes.thenBlock());
      scf::YieldOp::create(thenBuilder, loc, status(thenBuilder, seqc::kStatusNegativeSize));
    }
    b.setInsertionPointToStart(checkSizes.elseBlock());
    // Inputs, params and outputs are read or written only when B * T > 0.
    Value nonEmpty = arith::AndIOp::create(
        b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, batch64, zero64),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, length64, zero64));
    Value anyNull = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    for (ValueRange group : {inputPtrs, paramPtrs, outputPtrs})
      for (Value pointer : group)
        anyNull = arith::OrIOp::create(b, loc, anyNull, isNull(b, loc, pointer));
    Value badPointer = arith::AndIOp::create(b, loc, nonEmpty, anyNull);
    auto checkPointers = scf::IfOp::create(b, loc, TypeRange{i32}, badPointer, true, true);
    scf::YieldOp::create(b, loc, checkPointers.getResults());
    b.setInsertionPointToStart(checkPointers.thenBlock());
    scf::YieldOp::create(b, loc, status(b, seqc::kStatusNullPointer));

    b.setInsertionPointToStart(checkPointers.elseBlock());
    Block &body = model.getBody().front();
    IRMapping mapping;
    Value batch = arith::IndexCastOp::create(b, loc, b.getIndexType(), batch64);
    Value length = arith::IndexCastOp::create(b, loc, b.getIndexType(), length64);
    mapping.map(model.getBatchSize(), batch);
    mapping.map(model.getLength(), length);
    ValueRange modelArgs = body.getArguments().drop_front(rec::ModelOp::kNumSizeArgs);

    auto wrap = [&](OpBuilder &b, Value pointer, Type tensorType) -> std::pair<Value, Value> {
      auto type = cast<RankedTensorType>(tensorType);
      SmallVector<Value> dynamicSizes;
      for (int64_t d = 0; d < type.getRank(); ++d)
        if (type.isDynamicDim(d))
          dynamicSizes.push_back(d == 0 ? batch64 : length64);
      Value memref = memrefFromPointer(b, loc, pointer, memrefTypeOf(type), dynamicSizes);
      return {memref, bufferization::ToTensorOp::create(b, loc, type, memref,
                                                        /*restrict=*/b.getUnitAttr())};
    };
    for (unsigned i = 0; i < nInput + nParam; ++i) {
      Value pointer = i < nInput ? inputPtrs[i] : paramPtrs[i - nInput];
      mapping.map(modelArgs[i], wrap(b, pointer, modelArgs[i].getType()).second);
    }
    ArrayRef<double> declared = model.getStateInit();
    for (unsigned i = 0; i < nState; ++i) {
      Value arg = modelArgs[nInput + nParam + i];
      auto select = scf::IfOp::create(b, loc, TypeRange{arg.getType()},
                                      isNull(b, loc, initPtrs[i]), true, true);
      OpBuilder thenBuilder = OpBuilder::atBlockBegin(select.thenBlock());
      Value empty = emptyTensor(thenBuilder, loc, arg.getType(), {batch});
      Value filled = linalg::FillOp::create(thenBuilder, loc,
                                            f32Constant(thenBuilder, loc, declared[i]), empty)
                         .getResult(0);
      scf::YieldOp::create(thenBuilder, loc, filled);
      OpBuilder elseBuilder = OpBuilder::atBlockBegin(select.elseBlock());
      scf::YieldOp::create(elseBuilder, loc, wrap(elseBuilder, initPtrs[i], arg.getType()).second);
      mapping.map(arg, select.getResult(0));
    }

    for (Operation &op : body.without_terminator())
      b.clone(op, mapping);
    auto ret = cast<rec::ReturnOp>(body.getTerminator());
    for (unsigned i = 0; i < nOutput; ++i) {
      Value result = mapping.lookup(ret.getOperand(i));
      Value memref = memrefFromPointer(b, loc, outputPtrs[i], memrefTypeOf(result.getType()),
                                       {batch64, length64});
      bufferization::MaterializeInDestinationOp::create(b, loc, TypeRange{}, result, memref,
                                                        /*restrict=*/true, /*writable=*/true);
    }
    for (unsigned i = 0; i < nState; ++i) {
      Value result = mapping.lookup(ret.getOperand(nOutput + i));
      Value wanted = arith::XOrIOp::create(b, loc, isNull(b, loc, finalPtrs[i]),
                                           arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
      auto write = scf::IfOp::create(b, loc, wanted, /*withElseRegion=*/false);
      OpBuilder thenBuilder = OpBuilder::atBlockBegin(write.thenBlock());
      Value memref = memrefFromPointer(thenBuilder, loc, finalPtrs[i],
                                       memrefTypeOf(result.getType()), {batch64});
      bufferization::MaterializeInDestinationOp::create(thenBuilder, loc, TypeRange{}, result,
                                                        memref, /*restrict=*/true,
                                                        /*writable=*/true);
    }
    scf::YieldOp::create(b, loc, status(b, seqc::kStatusOk));

    b.setInsertionPointToEnd(entry);
    func::ReturnOp::create(b, loc, checkSizes.getResults());

    // An init (tensor.empty, or a fill of one) shared by several linalg ops
    // gets a copy per op: eliminate-empty-tensors may otherwise give all of
    // them the one output buffer it picks for the first. So does an init
    // made outside the loop its op runs in (hoisted as step-invariant): used
    // in place, every step would first have to copy it.
    SmallVector<OpOperand *> sharedInits;
    func.walk([&](linalg::LinalgOp linalgOp) {
      for (OpOperand &init : linalgOp.getDpsInitsMutable()) {
        Operation *def = init.get().getDefiningOp();
        if (isa_and_nonnull<tensor::EmptyOp, linalg::FillOp>(def) &&
            (!def->hasOneUse() || def->getParentRegion() != linalgOp->getParentRegion()))
          sharedInits.push_back(&init);
      }
    });
    for (OpOperand *init : sharedInits) {
      OpBuilder builder(init->getOwner());
      Operation *def = init->get().getDefiningOp();
      Operation *copy = builder.clone(*def);
      if (auto fill = dyn_cast<linalg::FillOp>(copy))
        if (Operation *empty = fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>()) {
          builder.setInsertionPoint(fill);
          fill.getOutputsMutable()[0].set(builder.clone(*empty)->getResult(0));
        }
      init->set(copy->getResult(0));
    }

    // The rec ops, now inside the function, become loops.
    SmallVector<Operation *> recOps;
    func.walk([&](Operation *op) {
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

namespace {
struct ConvertRecToCPUPass : seqc::impl::ConvertRecToCPUBase<ConvertRecToCPUPass> {
  void runOnOperation() override {
    SmallVector<rec::ModelOp> models(getOperation().getOps<rec::ModelOp>());
    for (rec::ModelOp model : models) {
      seqc::lowerModelToEntry(model, {"_forward", "seqc_call_guarded", false});
      model.erase();
    }
  }
};
} // namespace
