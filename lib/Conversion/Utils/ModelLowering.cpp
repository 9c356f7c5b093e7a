//===- ModelLowering.cpp - rec models to ABI entry points, for any target -===//
//
// A rec.model becomes its kernel's C entry point, M_forward(B, T, pointers...)
// -> status (or M_forward_cuda with a leading stream). The entry point checks
// the sizes and the pointers (a bad call returns a code, it never aborts),
// wraps the caller's arrays as memrefs and runs the model's ops on tensors,
// which One-Shot Bufferize later places in the caller's buffers; its rec
// ops become loops (RecurrenceLowering.cpp) and its runtime queries calls of
// the target's runtime.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Utils/ModelLowering.h"

#include "RecurrenceLowering.h"
#include "seqc/Conversion/Utils/LoweringUtils.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using seqc::TargetRuntime;

namespace {

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

Value statusConstant(OpBuilder &b, Location loc, seqc_status code) {
  return arith::ConstantIntOp::create(b, loc, b.getI32Type(), code);
}

/// The entry point `name` runs `kernel` through the runtime's guard,
/// guard([stream,] thunk, args), which turns a failure anywhere in the
/// kernel (a failed allocation; on the GPU also a failed driver call) into
/// a status code: the arguments travel in a struct on the stack, and the
/// thunk unpacks them and calls the kernel. With a leading stream, the
/// guard also receives it, so that the runtime knows where to enqueue work.
void buildGuardedEntry(OpBuilder &b, Location loc, StringRef name, func::FuncOp kernel,
                       const TargetRuntime &runtime) {
  MLIRContext *ctx = b.getContext();
  auto module = kernel->getParentOfType<ModuleOp>();
  Type i32 = b.getI32Type(), ptr = LLVM::LLVMPointerType::get(ctx);
  ArrayRef<Type> argTypes = kernel.getFunctionType().getInputs();
  auto structType = LLVM::LLVMStructType::getLiteral(ctx, argTypes);
  SmallVector<Type> guardArgs;
  if (runtime.leadingStream)
    guardArgs.push_back(ptr);
  guardArgs.append({ptr, ptr});
  func::FuncOp guardFunction = seqc::declareRuntimeFunction(
      module, runtime.callGuarded, b.getFunctionType(guardArgs, {i32}));
  OpBuilder::InsertionGuard insertionGuard(b);
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
  if (runtime.leadingStream)
    guardOperands.push_back(body->getArgument(0));
  guardOperands.append({functionPtr, args});
  Value result = func::CallOp::create(b, loc, guardFunction, guardOperands).getResult(0);
  func::ReturnOp::create(b, loc, result);
}

/// The kernel's arguments by ABI group (language.md sections 5 and 8);
/// the groups a model's kind does not have are empty.
struct EntryArguments {
  rec::ModelKind kind;
  Value stream; // the CUDA stream, for a target with a leading stream
  Value batch64, length64;
  ValueRange inputs, params, inits, outputs, finals;
  Value tape;
  ValueRange outputCotangents, finalCotangents, inputGradients, paramGradients, initGradients;

  EntryArguments(rec::ModelOp model, Block *entry, bool leadingStream)
      : kind(model.getModelKind()) {
    unsigned first = leadingStream ? 1 : 0;
    if (leadingStream)
      stream = entry->getArgument(0);
    batch64 = entry->getArgument(first);
    length64 = entry->getArgument(first + 1);
    ValueRange pointers = entry->getArguments().drop_front(first + 2);
    unsigned nInput = model.getNumInputs(), nParam = model.getNumParams(),
             nState = model.getNumStates(), nOutput = model.getNumOutputs();
    auto take = [&](unsigned n) {
      ValueRange group = pointers.take_front(n);
      pointers = pointers.drop_front(n);
      return group;
    };
    inputs = take(nInput);
    params = take(nParam);
    inits = take(nState);
    if (kind == rec::ModelKind::Forward || kind == rec::ModelKind::ForwardTape) {
      outputs = take(nOutput);
      finals = take(nState);
    }
    if (kind != rec::ModelKind::Forward)
      tape = take(1)[0];
    if (kind == rec::ModelKind::Backward) {
      outputCotangents = take(nOutput);
      finalCotangents = take(nState);
      inputGradients = take(nInput);
      paramGradients = take(nParam);
      initGradients = take(nState);
    }
  }

  /// The pointers that must not be NULL when B * T > 0.
  SmallVector<Value> required(unsigned nState) const {
    SmallVector<Value> pointers(inputs);
    llvm::append_range(pointers, params);
    llvm::append_range(pointers, outputs);
    if (kind == rec::ModelKind::ForwardTape && nState > 0)
      pointers.push_back(tape);
    return pointers;
  }
};

/// The number of pointer arguments of `model`'s entry point.
unsigned numPointerArguments(rec::ModelOp model) {
  unsigned nInput = model.getNumInputs(), nParam = model.getNumParams(),
           nState = model.getNumStates(), nOutput = model.getNumOutputs();
  unsigned common = nInput + nParam + nState;
  switch (model.getModelKind()) {
  case rec::ModelKind::Forward:
    return common + nOutput + nState;
  case rec::ModelKind::ForwardTape:
    return common + nOutput + nState + 1;
  case rec::ModelKind::Backward:
    return common + 1 + nOutput + nState + common;
  }
  llvm_unreachable("model kind");
}

/// The saved states per batch row: T, or ceil(T / C) with a tape interval
/// C (i64).
Value tapeSteps(OpBuilder &b, Location loc, rec::ModelOp model, Value length64) {
  std::optional<uint64_t> interval = model.getTapeInterval();
  if (!interval)
    return length64;
  return arith::CeilDivSIOp::create(
      b, loc, length64, arith::ConstantIntOp::create(b, loc, b.getI64Type(), *interval));
}

/// The byte offset of tape part `part` (each state after every step, or
/// every tape interval, in declaration order, then the saved projections)
/// and, for `part` = the number of parts, the tape's total size:
/// B * (saved steps) * (elements of a step) floats per part.
Value tapeOffset(OpBuilder &b, Location loc, rec::ModelOp model, Value batch64, Value length64,
                 unsigned part) {
  int64_t floats = 0;
  for (Type type : model.getTapeTypes().take_front(part)) {
    int64_t elements = 1;
    for (int64_t d : cast<RankedTensorType>(type).getShape().drop_front(2))
      elements *= d;
    floats += elements;
  }
  Type i64 = b.getI64Type();
  Value steps = arith::MulIOp::create(b, loc, batch64, tapeSteps(b, loc, model, length64));
  return arith::MulIOp::create(b, loc, steps,
                               arith::ConstantIntOp::create(b, loc, i64, 4 * floats));
}

/// `pointer` advanced by `bytes`.
Value offsetPointer(OpBuilder &b, Location loc, Value pointer, Value bytes) {
  return LLVM::GEPOp::create(b, loc, pointer.getType(), b.getI8Type(), pointer,
                             ArrayRef<LLVM::GEPArg>{bytes});
}

/// The checks of language.md section 5 in front of the kernel: B < 0 or
/// T < 0 returns SEQC_STATUS_BAD_SIZE, a NULL input, param or output when
/// B * T > 0 SEQC_STATUS_NULL_POINTER. Returns the status of the whole
/// kernel; `b` is left in the branch where the arguments are good, which
/// must yield a status.
Value checkArguments(OpBuilder &b, Location loc, const EntryArguments &args,
                     unsigned numStates) {
  Type i64 = b.getI64Type(), i32 = b.getI32Type();
  Value zero64 = arith::ConstantIntOp::create(b, loc, i64, 0);
  auto compare = [&](arith::CmpIPredicate predicate, Value size) {
    return arith::CmpIOp::create(b, loc, predicate, size, zero64);
  };
  Value negative = arith::OrIOp::create(b, loc, compare(arith::CmpIPredicate::slt, args.batch64),
                                        compare(arith::CmpIPredicate::slt, args.length64));
  auto checkSizes = scf::IfOp::create(b, loc, TypeRange{i32}, negative, true, true);
  OpBuilder thenBuilder = OpBuilder::atBlockEnd(checkSizes.thenBlock());
  scf::YieldOp::create(thenBuilder, loc, statusConstant(thenBuilder, loc, SEQC_STATUS_BAD_SIZE));

  b.setInsertionPointToStart(checkSizes.elseBlock());
  // Inputs, params and outputs are read or written only when B * T > 0.
  Value nonEmpty = arith::AndIOp::create(b, loc, compare(arith::CmpIPredicate::sgt, args.batch64),
                                         compare(arith::CmpIPredicate::sgt, args.length64));
  Value anyNull = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
  for (Value pointer : args.required(numStates))
    anyNull = arith::OrIOp::create(b, loc, anyNull, isNull(b, loc, pointer));
  Value badPointer = arith::AndIOp::create(b, loc, nonEmpty, anyNull);
  auto checkPointers = scf::IfOp::create(b, loc, TypeRange{i32}, badPointer, true, true);
  scf::YieldOp::create(b, loc, checkPointers.getResults());
  b.setInsertionPointToStart(checkPointers.thenBlock());
  scf::YieldOp::create(b, loc, statusConstant(b, loc, SEQC_STATUS_NULL_POINTER));
  b.setInsertionPointToStart(checkPointers.elseBlock());
  return checkSizes.getResult(0);
}

/// The caller's array at `pointer` as a tensor of `tensorType` (batch and
/// time from the entry's sizes).
Value wrapArray(OpBuilder &b, Location loc, const EntryArguments &args, Value pointer,
                Type tensorType) {
  auto type = cast<RankedTensorType>(tensorType);
  SmallVector<Value> dynamicSizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      dynamicSizes.push_back(d == 0 ? args.batch64 : args.length64);
  Value memref = memrefFromPointer(b, loc, pointer, memrefTypeOf(type), dynamicSizes);
  return bufferization::ToTensorOp::create(b, loc, type, memref, /*restrict=*/b.getUnitAttr());
}

/// The caller's array at `pointer` as a tensor of `type`, or, where the
/// pointer is NULL, `value` in every element.
Value wrapOrFilled(OpBuilder &b, Location loc, const EntryArguments &args, Value pointer,
                   Type type, ValueRange dynamicSizes, double value) {
  auto select = scf::IfOp::create(b, loc, TypeRange{type}, isNull(b, loc, pointer), true, true);
  OpBuilder thenBuilder = OpBuilder::atBlockBegin(select.thenBlock());
  Value empty = seqc::emptyTensor(thenBuilder, loc, type, dynamicSizes);
  Value filled = linalg::FillOp::create(thenBuilder, loc,
                                        seqc::f32Constant(thenBuilder, loc, value), empty)
                     .getResult(0);
  scf::YieldOp::create(thenBuilder, loc, filled);
  OpBuilder elseBuilder = OpBuilder::atBlockBegin(select.elseBlock());
  scf::YieldOp::create(elseBuilder, loc, wrapArray(elseBuilder, loc, args, pointer, type));
  return select.getResult(0);
}

/// Maps the model's arguments to the caller's arrays: inputs and params as
/// they are, each initial state as given or, for NULL, its declared value;
/// for a backward model also the tape (at `tape`, which is never NULL
/// here) and the cotangents, NULL meaning zero.
void mapArguments(OpBuilder &b, Location loc, rec::ModelOp model, const EntryArguments &args,
                  Value batch, Value tape, IRMapping &mapping) {
  Block &body = model.getBody().front();
  mapping.map(model.getBatchSize(), batch);
  Value length = arith::IndexCastOp::create(b, loc, b.getIndexType(), args.length64);
  mapping.map(model.getLength(), length);
  ValueRange modelArgs = body.getArguments().drop_front(rec::ModelOp::kNumSizeArgs);
  unsigned nInput = args.inputs.size(), nParam = args.params.size(), nState = args.inits.size();
  for (unsigned i = 0; i < nInput + nParam; ++i) {
    Value pointer = i < nInput ? args.inputs[i] : args.params[i - nInput];
    mapping.map(modelArgs[i], wrapArray(b, loc, args, pointer, modelArgs[i].getType()));
  }
  ArrayRef<double> declared = model.getStateInit();
  for (auto [i, pointer] : llvm::enumerate(args.inits)) {
    Value arg = modelArgs[nInput + nParam + i];
    mapping.map(arg, wrapOrFilled(b, loc, args, pointer, arg.getType(), {batch}, declared[i]));
  }
  if (args.kind != rec::ModelKind::Backward)
    return;
  ValueRange rest = modelArgs.drop_front(nInput + nParam + nState);
  Value saved = tapeSteps(b, loc, model, args.length64);
  unsigned nTape = model.getTapeTypes().size();
  for (unsigned i = 0; i < nTape; ++i) {
    Value part = offsetPointer(b, loc, tape,
                               tapeOffset(b, loc, model, args.batch64, args.length64, i));
    auto type = cast<RankedTensorType>(rest[i].getType());
    Value memref = memrefFromPointer(b, loc, part, memrefTypeOf(type), {args.batch64, saved});
    mapping.map(rest[i], bufferization::ToTensorOp::create(b, loc, type, memref,
                                                           /*restrict=*/b.getUnitAttr()));
  }
  rest = rest.drop_front(nTape);
  SmallVector<Value> cotangentPointers(args.outputCotangents);
  llvm::append_range(cotangentPointers, args.finalCotangents);
  for (auto [arg, pointer] : llvm::zip(rest, cotangentPointers)) {
    bool perStep = cast<RankedTensorType>(arg.getType()).getRank() >= 2 &&
                   cast<RankedTensorType>(arg.getType()).isDynamicDim(1);
    SmallVector<Value> sizes{batch};
    if (perStep)
      sizes.push_back(length);
    mapping.map(arg, wrapOrFilled(b, loc, args, pointer, arg.getType(), sizes, 0.0));
  }
}

/// Writes `result` into the caller's array at `pointer`.
void materialize(OpBuilder &b, Location loc, Value result, Value pointer,
                 ValueRange dynamicSizes) {
  Value memref =
      memrefFromPointer(b, loc, pointer, memrefTypeOf(result.getType()), dynamicSizes);
  bufferization::MaterializeInDestinationOp::create(b, loc, TypeRange{}, result, memref,
                                                    /*restrict=*/true, /*writable=*/true);
}

/// Writes `result` into the caller's array at `pointer` unless it is NULL.
void materializeIfWanted(OpBuilder &b, Location loc, Value result, Value pointer,
                         ValueRange dynamicSizes) {
  Value wanted = arith::XOrIOp::create(b, loc, isNull(b, loc, pointer),
                                       arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
  auto write = scf::IfOp::create(b, loc, wanted, /*withElseRegion=*/false);
  OpBuilder thenBuilder = OpBuilder::atBlockBegin(write.thenBlock());
  materialize(thenBuilder, loc, result, pointer, dynamicSizes);
}

/// Writes the model's results into the caller's arrays: every output, each
/// final state and gradient the caller asked for (a pointer that is not
/// NULL), and the tape.
void writeResults(OpBuilder &b, Location loc, rec::ModelOp model, rec::ReturnOp ret,
                  const EntryArguments &args, const IRMapping &mapping) {
  auto result = [&](unsigned i) { return mapping.lookup(ret.getOperand(i)); };
  Value B = args.batch64, T = args.length64;
  unsigned next = 0;
  if (args.kind == rec::ModelKind::Backward) {
    for (Value pointer : args.inputGradients)
      materializeIfWanted(b, loc, result(next++), pointer, {B, T});
    for (Value pointer : args.paramGradients)
      materializeIfWanted(b, loc, result(next++), pointer, {});
    for (Value pointer : args.initGradients)
      materializeIfWanted(b, loc, result(next++), pointer, {B});
    return;
  }
  for (Value pointer : args.outputs)
    materialize(b, loc, result(next++), pointer, {B, T});
  for (Value pointer : args.finals)
    materializeIfWanted(b, loc, result(next++), pointer, {B});
  if (args.kind == rec::ModelKind::Forward)
    return;
  Value saved = tapeSteps(b, loc, model, T);
  for (unsigned part = 0; next < ret.getNumOperands(); ++part)
    materialize(b, loc, result(next++),
                offsetPointer(b, loc, args.tape, tapeOffset(b, loc, model, B, T, part)),
                {B, saved});
}

/// An init (tensor.empty, or a fill of one) shared by several linalg ops
/// gets a copy per op: eliminate-empty-tensors may otherwise give all of
/// them the one output buffer it picks for the first. So does an init made
/// outside the loop its op runs in (hoisted as step-invariant): used in
/// place, every step would first have to copy it.
void giveEachInitItsOwnCopy(func::FuncOp function) {
  SmallVector<OpOperand *> sharedInits;
  function.walk([&](linalg::LinalgOp linalgOp) {
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
}

/// rec.thread_count, rec.newton_report and rec.chunk_fallback_report as
/// calls of the target's runtime.
void lowerRuntimeQueries(func::FuncOp function, const TargetRuntime &runtime) {
  auto module = function->getParentOfType<ModuleOp>();
  SmallVector<Operation *> queries;
  function.walk([&](Operation *op) {
    if (isa<rec::ThreadCountOp, rec::NewtonReportOp, rec::ChunkFallbackReportOp>(op))
      queries.push_back(op);
  });
  for (Operation *op : queries) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    Type i64 = b.getI64Type(), i32 = b.getI32Type(), f32 = b.getF32Type();
    if (auto count = dyn_cast<rec::ThreadCountOp>(op)) {
      func::FuncOp callee = seqc::declareRuntimeFunction(module, runtime.threadCount,
                                                         b.getFunctionType({}, {i64}));
      count.getResult().replaceAllUsesWith(func::CallOp::create(b, loc, callee, ValueRange{}).getResult(0));
    } else if (auto report = dyn_cast<rec::NewtonReportOp>(op)) {
      func::FuncOp callee = seqc::declareRuntimeFunction(
          module, runtime.newtonReport, b.getFunctionType({i64, i32, f32}, {}));
      Value iterations = arith::IndexCastOp::create(b, loc, i64, report.getIterations());
      Value converged = arith::ExtUIOp::create(b, loc, i32, report.getConverged());
      func::CallOp::create(b, loc, callee, ValueRange{iterations, converged, report.getResidual()});
    } else {
      func::FuncOp callee = seqc::declareRuntimeFunction(module, runtime.chunkFallbackReport,
                                                         b.getFunctionType({}, {}));
      func::CallOp::create(b, loc, callee, ValueRange{});
    }
    op->erase();
  }
}

/// M_tape_bytes(B, T): the bytes M_forward_tape writes (0 for negative
/// sizes, which the entry points reject).
void buildTapeBytes(OpBuilder &b, Location loc, rec::ModelOp model, StringRef name) {
  Type i64 = b.getI64Type();
  auto function = func::FuncOp::create(b, loc, name, b.getFunctionType({i64, i64}, {i64}));
  Block *entry = function.addEntryBlock();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  Value zero = arith::ConstantIntOp::create(b, loc, i64, 0);
  Value batch = arith::MaxSIOp::create(b, loc, entry->getArgument(0), zero);
  Value length = arith::MaxSIOp::create(b, loc, entry->getArgument(1), zero);
  func::ReturnOp::create(b, loc,
                         tapeOffset(b, loc, model, batch, length, model.getTapeTypes().size()));
}

/// The tape M_backward works from: the caller's, or when it passed NULL one
/// computed now by M_forward_tape's kernel into memory of the call (with
/// room for the outputs it also writes), which `release` frees once the
/// backward is done.
Value tapeOrRecomputed(OpBuilder &b, Location loc, rec::ModelOp model,
                       const EntryArguments &args, StringRef twinSuffix,
                       std::function<void(OpBuilder &)> &release) {
  auto module = model->getParentOfType<ModuleOp>();
  MLIRContext *ctx = b.getContext();
  Type ptr = LLVM::LLVMPointerType::get(ctx), i64 = b.getI64Type();
  std::string baseName = model.getSymName().drop_back(StringRef("_backward").size()).str();
  auto tapeKernel = module.lookupSymbol<func::FuncOp>(baseName + "_forward_tape" +
                                                     twinSuffix.str() + "_unguarded");
  if (!tapeKernel)
    return args.tape;
  // Declared as finalize-memref-to-llvm declares them, which then reuses
  // the declarations (the GPU host maps them to device memory).
  auto declare = [&](StringRef name, Type type) {
    if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
      return existing;
    OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
    return LLVM::LLVMFuncOp::create(top, loc, name, type);
  };
  LLVM::LLVMFuncOp alloc = declare("_mlir_memref_to_llvm_alloc",
                                   LLVM::LLVMFunctionType::get(ptr, {i64}));
  LLVM::LLVMFuncOp free = declare("_mlir_memref_to_llvm_free",
                                  LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr}));
  Value missing = isNull(b, loc, args.tape);
  auto select = scf::IfOp::create(b, loc, TypeRange{ptr}, missing, true, true);
  OpBuilder thenBuilder = OpBuilder::atBlockBegin(select.thenBlock());
  Value steps = arith::MulIOp::create(thenBuilder, loc, args.batch64, args.length64);
  Value tapeBytes = tapeOffset(thenBuilder, loc, model, args.batch64, args.length64,
                               model.getTapeTypes().size());
  // The outputs go after the tape; the final states are not wanted.
  SmallVector<Value> outputBytes;
  Value bytes = tapeBytes;
  unsigned nState = model.getNumStates();
  // The output cotangents' types: the outputs'.
  for (Type type : model.getArgumentTypes()
                       .take_back(model.getNumOutputs() + nState)
                       .take_front(model.getNumOutputs())) {
    int64_t elements = 1;
    for (int64_t d : cast<RankedTensorType>(type).getShape().drop_front(2))
      elements *= d;
    outputBytes.push_back(bytes);
    bytes = arith::AddIOp::create(
        thenBuilder, loc, bytes,
        arith::MulIOp::create(thenBuilder, loc, steps,
                              arith::ConstantIntOp::create(thenBuilder, loc, i64, 4 * elements)));
  }
  Value one = arith::ConstantIntOp::create(thenBuilder, loc, i64, 1);
  bytes = arith::MaxSIOp::create(thenBuilder, loc, bytes, one);
  Value memory = LLVM::CallOp::create(thenBuilder, loc, alloc, ValueRange{bytes}).getResult();
  SmallVector<Value> operands;
  if (args.stream)
    operands.push_back(args.stream);
  operands.append({args.batch64, args.length64});
  llvm::append_range(operands, args.inputs);
  llvm::append_range(operands, args.params);
  llvm::append_range(operands, args.inits);
  for (Value offset : outputBytes)
    operands.push_back(offsetPointer(thenBuilder, loc, memory, offset));
  for (unsigned i = 0; i < nState; ++i)
    operands.push_back(LLVM::ZeroOp::create(thenBuilder, loc, ptr));
  operands.push_back(memory);
  func::CallOp::create(thenBuilder, loc, tapeKernel, operands);
  scf::YieldOp::create(thenBuilder, loc, memory);
  OpBuilder elseBuilder = OpBuilder::atBlockBegin(select.elseBlock());
  scf::YieldOp::create(elseBuilder, loc, args.tape);
  Value tape = select.getResult(0);
  release = [=](OpBuilder &b) {
    auto freeIt = scf::IfOp::create(b, loc, missing, /*withElseRegion=*/false);
    OpBuilder inner = OpBuilder::atBlockBegin(freeIt.thenBlock());
    LLVM::CallOp::create(inner, loc, free, ValueRange{tape});
  };
  return tape;
}

} // namespace

void seqc::lowerModelToEntry(rec::ModelOp model, const TargetRuntime &runtime) {
  MLIRContext *ctx = model.getContext();
  Location loc = model.getLoc();
  OpBuilder b(model);
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  SmallVector<Type> argTypes;
  if (runtime.leadingStream)
    argTypes.push_back(ptr);
  argTypes.append({b.getI64Type(), b.getI64Type()});
  argTypes.append(numPointerArguments(model), ptr);
  rec::ModelKind kind = model.getModelKind();
  std::string entryName = (model.getSymName() + (kind == rec::ModelKind::Forward
                                                     ? runtime.entrySuffix
                                                     : runtime.twinSuffix))
                              .str();
  auto function = func::FuncOp::create(b, loc, entryName + "_unguarded",
                                       FunctionType::get(ctx, argTypes, {b.getI32Type()}));
  function.setPrivate();
  buildGuardedEntry(b, loc, entryName, function, runtime);
  if (kind == rec::ModelKind::ForwardTape) {
    std::string base = model.getSymName().drop_back(StringRef("_forward_tape").size()).str();
    buildTapeBytes(b, loc, model, base + "_tape_bytes" + runtime.twinSuffix.str());
  }

  Block *entry = function.addEntryBlock();
  b.setInsertionPointToStart(entry);
  EntryArguments args(model, entry, runtime.leadingStream);
  Value status = checkArguments(b, loc, args, model.getNumStates());
  IRMapping mapping;
  Value batch = arith::IndexCastOp::create(b, loc, b.getIndexType(), args.batch64);
  std::function<void(OpBuilder &)> release;
  Value tape = kind == rec::ModelKind::Backward ? tapeOrRecomputed(b, loc, model, args, runtime.twinSuffix, release)
                                                : args.tape;
  mapArguments(b, loc, model, args, batch, tape, mapping);
  Block &body = model.getBody().front();
  for (Operation &op : body.without_terminator())
    b.clone(op, mapping);
  writeResults(b, loc, model, cast<rec::ReturnOp>(body.getTerminator()), args, mapping);
  if (release)
    release(b);
  scf::YieldOp::create(b, loc, statusConstant(b, loc, SEQC_STATUS_OK));
  b.setInsertionPointToEnd(entry);
  func::ReturnOp::create(b, loc, status);

  giveEachInitItsOwnCopy(function);
  lowerRecurrenceOps(function);
  lowerRuntimeQueries(function, runtime);
}
