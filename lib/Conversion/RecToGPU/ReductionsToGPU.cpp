//===- ReductionsToGPU.cpp - Full reductions of device buffers as kernels -===//
//
// convert-reductions-to-gpu: a linalg op on the host that reduces device
// buffers to one scalar (every loop a reduction, a rank-0 output), such as
// the Newton iteration's residual max |H - F| / (1 + |F|) over B x T x H,
// would otherwise become one GPU thread walking the whole space
// (convert-parallel-to-gpu keeps reductions sequential inside a thread).
// This pass makes it a grid-stride kernel instead: each thread folds its
// share of the linearised space into a register, each block folds its
// threads' values through shared memory, and one thread per block folds
// the block's value into the output with an atomic read-modify-write (a
// compare-and-swap loop, so any combiner works and NaN propagates as the
// combiner says). The output keeps its initial value as the fold's start,
// as linalg's semantics say.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "seqc/Conversion/Utils/LoweringUtils.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/IRMapping.h"

namespace seqc {
#define GEN_PASS_DEF_CONVERTREDUCTIONSTOGPU
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;
using seqc::indexConstant;

namespace {

/// Blocks of one reduction kernel at most: enough to fill a GPU, few
/// enough that the atomics on the one output do not queue up.
constexpr int64_t kMaxBlocks = 1024;

/// The parts of a full reduction `out = combine(out, value(inputs))`.
struct FullReduction {
  linalg::GenericOp op;
  Operation *combiner;    // the op of the body that takes the output's value
  Value perElement;       // the combiner's other operand
  TypedAttr neutral;      // combine(neutral, x) == x
};

std::optional<FullReduction> matchFullReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 || op.getNumLoops() == 0)
    return std::nullopt;
  if (op.getNumReductionLoops() != op.getNumLoops())
    return std::nullopt;
  auto output = dyn_cast<MemRefType>(op.getDpsInitOperand(0)->get().getType());
  if (!output || output.getRank() != 0 || !output.getElementType().isF32())
    return std::nullopt;
  Block *body = op.getBody();
  BlockArgument accumulator = body->getArguments().back();
  Value yielded = body->getTerminator()->getOperand(0);
  Operation *combiner = yielded.getDefiningOp();
  if (!combiner || combiner->getBlock() != body || combiner->getNumOperands() != 2 ||
      !accumulator.hasOneUse() || accumulator.getUses().begin()->getOwner() != combiner)
    return std::nullopt;
  std::optional<TypedAttr> neutral = arith::getNeutralElement(combiner);
  if (!neutral)
    return std::nullopt;
  Value other = combiner->getOperand(combiner->getOperand(0) == accumulator ? 1 : 0);
  if (other == accumulator)
    return std::nullopt;
  return FullReduction{op, combiner, other, *neutral};
}

/// The combiner applied to (accumulated, next), with the operands in the
/// order the body had them.
Value combine(OpBuilder &b, const FullReduction &reduction, Value accumulated, Value next) {
  linalg::GenericOp op = reduction.op;
  IRMapping mapping;
  mapping.map(op.getBody()->getArguments().back(), accumulated);
  mapping.map(reduction.perElement, next);
  return b.clone(*reduction.combiner, mapping)->getResult(0);
}

/// output[] = combine(output[], value), atomically: a compare-and-swap
/// loop on the bits (upstream's generic_atomic_rmw lowering emits a
/// cmpxchg on f32, which LLVM rejects).
void foldAtomically(OpBuilder &b, Location loc, const FullReduction &reduction, Value value) {
  linalg::GenericOp op = reduction.op;
  Value output = op.getDpsInitOperand(0)->get();
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  Value pointer = seqc::f32ElementPointer(b, loc, output, ValueRange{});
  Value firstSeen = LLVM::LoadOp::create(b, loc, i32, pointer);
  auto retry = scf::WhileOp::create(b, loc, TypeRange{i32}, ValueRange{firstSeen});
  {
    Block *before = b.createBlock(&retry.getBefore(), {}, {i32}, {loc});
    OpBuilder w = OpBuilder::atBlockBegin(before);
    Value expected = before->getArgument(0);
    Value current = arith::BitcastOp::create(w, loc, f32, expected);
    Value desired = arith::BitcastOp::create(
        w, loc, i32, combine(w, reduction, current, value));
    auto exchange = LLVM::AtomicCmpXchgOp::create(w, loc, pointer, expected, desired,
                                                  LLVM::AtomicOrdering::monotonic,
                                                  LLVM::AtomicOrdering::monotonic);
    Value seen = LLVM::ExtractValueOp::create(w, loc, exchange, ArrayRef<int64_t>{0});
    Value swapped = LLVM::ExtractValueOp::create(w, loc, exchange, ArrayRef<int64_t>{1});
    Value failed = arith::XOrIOp::create(
        w, loc, swapped, arith::ConstantIntOp::create(w, loc, w.getI1Type(), 1));
    scf::ConditionOp::create(w, loc, failed, ValueRange{seen});
    Block *after = b.createBlock(&retry.getAfter(), {}, {i32}, {loc});
    OpBuilder a = OpBuilder::atBlockBegin(after);
    scf::YieldOp::create(a, loc, after->getArgument(0));
  }
  b.setInsertionPointAfter(retry);
}

struct ConvertReductionsToGPUPass
    : seqc::impl::ConvertReductionsToGPUBase<ConvertReductionsToGPUPass> {
  using ConvertReductionsToGPUBase::ConvertReductionsToGPUBase;

  void runOnOperation() override {
    if (blockSize < 32 || blockSize > 1024 || !llvm::isPowerOf2_64(blockSize)) {
      getOperation().emitError("convert-reductions-to-gpu: block-size must be a power of two "
                               "in [32, 1024]");
      return signalPassFailure();
    }
    SmallVector<FullReduction> reductions;
    getOperation().walk([&](linalg::GenericOp op) {
      // Inside parallel work (a forall becomes a kernel too) the reduction
      // is one thread's loop.
      if (op->getParentOfType<scf::ParallelOp>() || op->getParentOfType<scf::ForallOp>() ||
          op->getParentOfType<gpu::LaunchOp>())
        return;
      if (std::optional<FullReduction> reduction = matchFullReduction(op))
        reductions.push_back(*reduction);
    });
    for (FullReduction &reduction : reductions) {
      lower(reduction);
      reduction.op.erase();
    }
  }

  void lower(const FullReduction &reduction) {
    linalg::GenericOp op = reduction.op;
    Location loc = op.getLoc();
    OpBuilder b(op);
    SmallVector<Value> sizes;
    Value total = indexConstant(b, loc, 1);
    for (Range range : cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc)) {
      Value size = getValueOrCreateConstantIndexOp(b, loc, range.size);
      sizes.push_back(size);
      total = arith::MulIOp::create(b, loc, total, size);
    }
    Value c0 = indexConstant(b, loc, 0), c1 = indexConstant(b, loc, 1);
    Value nonEmpty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, total, c0);
    auto guard = scf::IfOp::create(b, loc, nonEmpty, /*withElseRegion=*/false);
    b.setInsertionPointToStart(guard.thenBlock());
    Value threads = indexConstant(b, loc, blockSize);
    Value blocks = arith::MinUIOp::create(b, loc, arith::CeilDivUIOp::create(b, loc, total, threads),
                                          indexConstant(b, loc, kMaxBlocks));
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    auto partialsType = MemRefType::get({blockSize}, b.getF32Type(), MemRefLayoutAttrInterface{},
                                        workgroup);
    auto launch = gpu::LaunchOp::create(b, loc, blocks, c1, c1, threads, c1, c1,
                                        /*dynamicSharedMemorySize=*/nullptr,
                                        /*asyncTokenType=*/nullptr, ValueRange{},
                                        TypeRange{partialsType});
    Value partials = launch.getWorkgroupAttributions()[0];

    OpBuilder k = OpBuilder::atBlockBegin(&launch.getBody().front());
    Value thread = launch.getThreadIds().x;
    Value first = arith::AddIOp::create(
        k, loc, arith::MulIOp::create(k, loc, launch.getBlockIds().x, threads), thread);
    Value stride = arith::MulIOp::create(k, loc, launch.getGridSize().x, threads);
    Value neutral = arith::ConstantOp::create(k, loc, reduction.neutral);

    // This thread's share: elements first, first + stride, ...
    auto share = scf::ForOp::create(k, loc, first, total, stride, ValueRange{neutral});
    {
      OpBuilder s = OpBuilder::atBlockBegin(share.getBody());
      SmallVector<Value> ivs(sizes.size());
      Value rest = share.getInductionVar();
      for (int64_t d = sizes.size() - 1; d >= 0; --d) {
        ivs[d] = d == 0 ? rest : arith::RemUIOp::create(s, loc, rest, sizes[d]);
        if (d > 0)
          rest = arith::DivUIOp::create(s, loc, rest, sizes[d]);
      }
      IRMapping mapping;
      for (OpOperand *input : op.getDpsInputOperands()) {
        Value argument = op.getMatchingBlockArgument(input);
        Value source = input->get();
        if (!isa<MemRefType>(source.getType())) {
          mapping.map(argument, source);
          continue;
        }
        AffineMap map = op.getMatchingIndexingMap(input);
        SmallVector<Value> indices;
        for (unsigned r = 0; r < map.getNumResults(); ++r)
          indices.push_back(affine::AffineApplyOp::create(s, loc, map.getSubMap({r}), ivs));
        mapping.map(argument, memref::LoadOp::create(s, loc, source, indices));
      }
      for (Operation &bodyOp : op.getBody()->without_terminator()) {
        if (&bodyOp == reduction.combiner)
          continue;
        if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
          mapping.map(index.getResult(), ivs[index.getDim()]);
          continue;
        }
        s.clone(bodyOp, mapping);
      }
      Value next = mapping.lookupOrDefault(reduction.perElement);
      scf::YieldOp::create(s, loc, combine(s, reduction, share.getRegionIterArgs()[0], next));
    }

    // The block's threads, folded pairwise through shared memory.
    memref::StoreOp::create(k, loc, share.getResult(0), partials, ValueRange{thread});
    gpu::BarrierOp::create(k, loc);
    for (int64_t half = blockSize / 2; half >= 1; half /= 2) {
      Value lower = arith::CmpIOp::create(k, loc, arith::CmpIPredicate::ult, thread,
                                          indexConstant(k, loc, half));
      auto fold = scf::IfOp::create(k, loc, lower, /*withElseRegion=*/false);
      OpBuilder f = OpBuilder::atBlockBegin(fold.thenBlock());
      Value partner = arith::AddIOp::create(f, loc, thread, indexConstant(f, loc, half));
      Value mine = memref::LoadOp::create(f, loc, partials, ValueRange{thread});
      Value theirs = memref::LoadOp::create(f, loc, partials, ValueRange{partner});
      memref::StoreOp::create(f, loc, combine(f, reduction, mine, theirs), partials,
                              ValueRange{thread});
      gpu::BarrierOp::create(k, loc);
    }

    // The block's value into the output.
    Value isFirst = arith::CmpIOp::create(k, loc, arith::CmpIPredicate::eq, thread,
                                          indexConstant(k, loc, 0));
    auto publish = scf::IfOp::create(k, loc, isFirst, /*withElseRegion=*/false);
    {
      OpBuilder p = OpBuilder::atBlockBegin(publish.thenBlock());
      Value blockValue = memref::LoadOp::create(p, loc, partials, ValueRange{indexConstant(p, loc, 0)});
      foldAtomically(p, loc, reduction, blockValue);
    }
    gpu::TerminatorOp::create(k, loc);
  }
};

} // namespace
