//===- ParallelToRuntime.cpp - scf.parallel on the runtime's threads ------===//
//
// convert-parallel-to-runtime: the generated code links with nothing but libc,
// libm and pthreads, so parallel loops call the small C runtime linked into
// every module (runtime/seqc_runtime.c) instead of OpenMP or the async
// runtime. Values a loop body uses from above are passed through a struct on
// the caller's stack, typed as the LLVM dialect will type them; unrealized
// casts bridge the two type systems until convert-to-llvm makes them agree.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "seqc/Conversion/Utils/LoweringUtils.h"
#include "seqc/Runtime/seqc_abi.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace seqc {
#define GEN_PASS_DEF_CONVERTPARALLELTORUNTIME
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kParallelFor = SEQC_RUNTIME_NAME(seqc_parallel_for);

/// A rough count of the arithmetic in one iteration, for the runtime to
/// decide whether threads pay: loops inside count as long.
int64_t estimateCost(scf::ParallelOp op) {
  int64_t cost = 0;
  bool hasLoop = false;
  op.getBody()->walk([&](Operation *inner) {
    ++cost;
    if (isa<scf::ForOp, scf::WhileOp>(inner))
      hasLoop = true;
    // Work on whole buffers (a linalg op over a step's vector) counts per element.
    for (Value operand : inner->getOperands())
      if (auto shaped = dyn_cast<MemRefType>(operand.getType()))
        if (shaped.hasStaticShape() && isa<linalg::LinalgOp>(inner))
          cost += shaped.getNumElements();
  });
  return hasLoop ? int64_t(1) << 16 : cost;
}

struct ConvertParallelToRuntimePass
    : seqc::impl::ConvertParallelToRuntimeBase<ConvertParallelToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<scf::ParallelOp> loops;
    module.walk([&](scf::ParallelOp op) {
      if (!op->getParentOfType<scf::ParallelOp>())
        loops.push_back(op);
    });
    if (loops.empty())
      return;
    declareRuntime(module);
    llvm::StringMap<unsigned> counters;
    for (scf::ParallelOp op : loops) {
      auto parent = op->getParentOfType<func::FuncOp>();
      std::string name =
          (parent.getSymName() + "_parallel" + Twine(counters[parent.getSymName()]++)).str();
      if (failed(outline(op, name)))
        return signalPassFailure();
    }
  }

  void declareRuntime(ModuleOp module) {
    Builder b(module.getContext());
    Type i64 = b.getI64Type(), ptr = LLVM::LLVMPointerType::get(b.getContext());
    seqc::declareRuntimeFunction(module, kParallelFor,
                                 b.getFunctionType({i64, ptr, ptr, i64}, {}));
  }

  LogicalResult outline(scf::ParallelOp op, StringRef name) {
    MLIRContext *ctx = op.getContext();
    Location loc = op.getLoc();
    LLVMTypeConverter converter(ctx);
    Type i64 = IntegerType::get(ctx, 64);
    Type ptr = LLVM::LLVMPointerType::get(ctx);
    OpBuilder b(op);

    // Trip counts, and the flattened count the runtime splits.
    SmallVector<Value> counts;
    Value total = arith::ConstantIndexOp::create(b, loc, 1);
    for (auto [lb, ub, step] : llvm::zip(op.getLowerBound(), op.getUpperBound(), op.getStep())) {
      Value span = arith::SubIOp::create(b, loc, ub, lb);
      Value count = arith::CeilDivSIOp::create(b, loc, span, step);
      counts.push_back(count);
      total = arith::MulIOp::create(b, loc, total, count);
    }

    llvm::SetVector<Value> captured;
    getUsedValuesDefinedAbove(op.getRegion(), captured);
    for (ValueRange group : {ValueRange(op.getLowerBound()), ValueRange(op.getStep()),
                             ValueRange(counts)})
      captured.insert(group.begin(), group.end());
    SmallVector<Type> fieldTypes;
    for (Value value : captured) {
      Type type = converter.convertType(value.getType());
      if (!type)
        return op.emitError() << "cannot pass a value of type " << value.getType()
                              << " to a parallel loop body";
      fieldTypes.push_back(type);
    }
    auto structType = LLVM::LLVMStructType::getLiteral(ctx, fieldTypes);

    // The caller: pack, call the runtime.
    Value one = LLVM::ConstantOp::create(b, loc, i64, 1);
    Value context = LLVM::AllocaOp::create(b, loc, ptr, structType, one);
    for (auto [index, value] : llvm::enumerate(captured)) {
      Value field = LLVM::GEPOp::create(b, loc, ptr, structType, context,
                                        ArrayRef<LLVM::GEPArg>{0, int32_t(index)});
      Value converted =
          UnrealizedConversionCastOp::create(b, loc, fieldTypes[index], value).getResult(0);
      LLVM::StoreOp::create(b, loc, converted, field);
    }
    auto bodyType = b.getFunctionType({ptr, i64, i64}, {});
    Value function = func::ConstantOp::create(b, loc, bodyType, name);
    Value functionPtr = UnrealizedConversionCastOp::create(b, loc, ptr, function).getResult(0);
    Value total64 = arith::IndexCastOp::create(b, loc, i64, total);
    int64_t staticCost = estimateCost(op);
    if (auto given = op->getAttrOfType<IntegerAttr>(seqc::kIterationCostAttr))
      staticCost = given.getInt();
    Value cost = arith::ConstantIntOp::create(b, loc, i64, staticCost);
    func::CallOp::create(b, loc, kParallelFor, TypeRange{},
                         ValueRange{total64, functionPtr, context, cost});

    // The body: unpack, loop over [begin, end) of the flattened space.
    auto parent = op->getParentOfType<func::FuncOp>();
    OpBuilder moduleBuilder(parent);
    auto outlined = func::FuncOp::create(moduleBuilder, loc, name, bodyType);
    outlined.setPrivate();
    Block *entry = outlined.addEntryBlock();
    OpBuilder fb = OpBuilder::atBlockBegin(entry);
    IRMapping mapping;
    for (auto [index, value] : llvm::enumerate(captured)) {
      Value field = LLVM::GEPOp::create(fb, loc, ptr, structType, entry->getArgument(0),
                                        ArrayRef<LLVM::GEPArg>{0, int32_t(index)});
      Value loaded = LLVM::LoadOp::create(fb, loc, fieldTypes[index], field);
      mapping.map(value,
                  UnrealizedConversionCastOp::create(fb, loc, value.getType(), loaded).getResult(0));
    }
    Type index = fb.getIndexType();
    Value begin = arith::IndexCastOp::create(fb, loc, index, entry->getArgument(1));
    Value end = arith::IndexCastOp::create(fb, loc, index, entry->getArgument(2));
    Value step = arith::ConstantIndexOp::create(fb, loc, 1);
    auto loop = scf::ForOp::create(fb, loc, begin, end, step);
    func::ReturnOp::create(fb, loc);
    OpBuilder lb = OpBuilder::atBlockBegin(loop.getBody());
    Value remaining = loop.getInductionVar();
    unsigned rank = counts.size();
    SmallVector<Value> ivs(rank);
    for (int d = rank - 1; d >= 0; --d) {
      Value count = mapping.lookup(counts[d]);
      Value position = d == 0 ? remaining : Value(arith::RemSIOp::create(lb, loc, remaining, count));
      if (d > 0)
        remaining = arith::DivSIOp::create(lb, loc, remaining, count);
      Value scaled = arith::MulIOp::create(lb, loc, position, mapping.lookup(op.getStep()[d]));
      ivs[d] = arith::AddIOp::create(lb, loc, scaled, mapping.lookup(op.getLowerBound()[d]));
    }
    for (auto [iv, value] : llvm::zip(op.getInductionVars(), ivs))
      mapping.map(iv, value);
    for (Operation &inner : op.getBody()->without_terminator())
      lb.clone(inner, mapping);
    promoteIterationBuffers(loop, fb);
    op.erase();
    return success();
  }

  /// A small static buffer that one iteration allocates and frees (a
  /// hoisted step's temporaries) would cost a malloc and a free per (b, t).
  /// It becomes one stack buffer per task, made before the task's loop:
  /// iterations do not share it, and a fresh buffer's contents are
  /// undefined anyway. (An alloca inside the loop would grow the stack at
  /// every iteration.)
  void promoteIterationBuffers(scf::ForOp loop, OpBuilder &entry) {
    constexpr int64_t kMaxStackBytes = 4096;
    Block *body = loop.getBody();
    SmallVector<std::pair<memref::AllocOp, memref::DeallocOp>> promotable;
    for (auto alloc : body->getOps<memref::AllocOp>()) {
      MemRefType type = alloc.getType();
      if (!type.hasStaticShape() || !type.getElementType().isIntOrFloat() ||
          type.getNumElements() * type.getElementTypeBitWidth() / 8 > kMaxStackBytes)
        continue;
      if (memref::DeallocOp dealloc = seqc::blockLocalDealloc(alloc))
        promotable.push_back({alloc, dealloc});
    }
    OpBuilder::InsertionGuard guard(entry);
    entry.setInsertionPoint(loop);
    for (auto [alloc, dealloc] : promotable) {
      Value buffer = memref::AllocaOp::create(entry, alloc.getLoc(), alloc.getType(),
                                              alloc.getAlignmentAttr());
      alloc.replaceAllUsesWith(buffer);
      dealloc.erase();
      alloc.erase();
    }
  }
};

} // namespace
