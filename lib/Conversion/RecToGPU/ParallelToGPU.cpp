//===- ParallelToGPU.cpp - Work on device buffers into gpu.launch ops -----===//
//
// convert-parallel-to-gpu: for --target nvptx every f32 buffer of a model's
// host function lives in device memory, so the host may touch none of them.
// This pass moves every loop and linalg op on them into kernels, one thread
// per iteration of the outermost parallel loop, and makes what a kernel
// allocates for itself private memory where it can. The host keeps the
// control flow, the sizes, and the bookkeeping of the deallocation pipeline
// (index and i1 buffers, which become stack buffers).
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "seqc/Conversion/Utils/LoweringUtils.h"
#include "seqc/Runtime/seqc_abi.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace seqc {
#define GEN_PASS_DEF_CONVERTPARALLELTOGPU
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;
using seqc::indexConstant;

namespace {

/// Private memory a kernel may take per thread for one buffer.
constexpr int64_t kMaxPrivateBytes = 16384;

bool insideParallelWork(Operation *op) {
  return op->getParentOfType<scf::ParallelOp>() || op->getParentOfType<gpu::LaunchOp>();
}

bool isDeviceBuffer(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && memref.getElementType().isF32();
}

/// A static buffer allocated and freed in the same block (not yielded, its
/// one dealloc beside it) needs no heap: one private buffer per thread,
/// made at the kernel's entry, serves every time the block runs.
void privatiseTemporaries(gpu::LaunchOp launch) {
  SmallVector<std::pair<memref::AllocOp, memref::DeallocOp>> promotable;
  launch.getBody().walk([&](memref::AllocOp alloc) {
    MemRefType type = alloc.getType();
    if (!type.hasStaticShape() || !type.getElementType().isIntOrIndexOrFloat())
      return;
    int64_t bits = type.getElementType().isIndex() ? 64 : type.getElementTypeBitWidth();
    if (type.getNumElements() * bits / 8 > kMaxPrivateBytes)
      return;
    if (memref::DeallocOp dealloc = seqc::blockLocalDealloc(alloc))
      promotable.push_back({alloc, dealloc});
  });
  OpBuilder entry = OpBuilder::atBlockBegin(&launch.getBody().front());
  for (auto [alloc, dealloc] : promotable) {
    Value buffer = memref::AllocaOp::create(entry, alloc.getLoc(), alloc.getType(),
                                            alloc.getAlignmentAttr());
    alloc.replaceAllUsesWith(buffer);
    dealloc.erase();
    alloc.erase();
  }
}

/// ceil(a / b) for a >= 0, b > 0.
Value ceilDiv(OpBuilder &b, Location loc, Value a, Value divisor) {
  return arith::CeilDivUIOp::create(b, loc, a, divisor);
}

/// Replaces the outermost `loop` by a launch of ceil(N / blockSize) blocks
/// of blockSize threads, thread i running iteration i of the linearised
/// space (innermost fastest), when N > 0.
gpu::LaunchOp launchParallelLoop(scf::ParallelOp loop, int64_t blockSize) {
  Location loc = loop.getLoc();
  OpBuilder b(loop);
  SmallVector<Value> counts;
  Value total = indexConstant(b, loc, 1);
  for (auto [lower, upper, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    Value span = arith::SubIOp::create(b, loc, upper, lower);
    Value zero = indexConstant(b, loc, 0);
    span = arith::MaxSIOp::create(b, loc, span, zero);
    Value count = ceilDiv(b, loc, span, step);
    counts.push_back(count);
    total = arith::MulIOp::create(b, loc, total, count);
  }
  Value nonEmpty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, total,
                                         indexConstant(b, loc, 0));
  auto guard = scf::IfOp::create(b, loc, nonEmpty, /*withElseRegion=*/false);
  b.setInsertionPointToStart(guard.thenBlock());
  Value threads = indexConstant(b, loc, blockSize);
  Value one = indexConstant(b, loc, 1);
  Value blocks = ceilDiv(b, loc, total, threads);
  auto launch = gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one, one);
  OpBuilder body = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value linear = arith::AddIOp::create(
      body, loc, arith::MulIOp::create(body, loc, launch.getBlockIds().x, threads),
      launch.getThreadIds().x);
  Value inRange = arith::CmpIOp::create(body, loc, arith::CmpIPredicate::ult, linear, total);
  auto active = scf::IfOp::create(body, loc, inRange, /*withElseRegion=*/false);
  gpu::TerminatorOp::create(body, loc);

  OpBuilder inner = OpBuilder::atBlockBegin(active.thenBlock());
  SmallVector<Value> ivs(counts.size());
  Value rest = linear;
  for (int64_t d = counts.size() - 1; d >= 0; --d) {
    Value index = d == 0 ? rest : arith::RemUIOp::create(inner, loc, rest, counts[d]);
    if (d > 0)
      rest = arith::DivUIOp::create(inner, loc, rest, counts[d]);
    ivs[d] = arith::AddIOp::create(
        inner, loc, loop.getLowerBound()[d],
        arith::MulIOp::create(inner, loc, index, loop.getStep()[d]));
  }
  Block *loopBody = loop.getBody();
  for (auto [iv, value] : llvm::zip(loopBody->getArguments(), ivs))
    iv.replaceAllUsesWith(value);
  // Everything but the scf.reduce terminator moves into the kernel.
  Block *target = active.thenBlock();
  target->getOperations().splice(target->getTerminator()->getIterator(),
                                 loopBody->getOperations(), loopBody->begin(),
                                 std::prev(loopBody->end()));
  loop.erase();
  return launch;
}

constexpr llvm::StringLiteral kReadFunction = SEQC_RUNTIME_NAME(seqc_cuda_read_f32);

/// Replaces a host `memref.load` of a device buffer by a call of the
/// launcher's `float seqc_cuda_read_f32(const float *device_address)`.
void readThroughLauncher(IRRewriter &rewriter, memref::LoadOp load) {
  Location loc = load.getLoc();
  auto module = load->getParentOfType<ModuleOp>();
  auto pointer = LLVM::LLVMPointerType::get(rewriter.getContext());
  func::FuncOp function = seqc::declareRuntimeFunction(
      module, kReadFunction, rewriter.getFunctionType({pointer}, {rewriter.getF32Type()}));
  rewriter.setInsertionPoint(load);
  Value devicePointer =
      seqc::f32ElementPointer(rewriter, loc, load.getMemRef(), load.getIndices());
  rewriter.replaceOpWithNewOp<func::CallOp>(load, function, ValueRange{devicePointer});
}

struct ConvertParallelToGPUPass
    : seqc::impl::ConvertParallelToGPUBase<ConvertParallelToGPUPass> {
  using ConvertParallelToGPUBase::ConvertParallelToGPUBase;

  void runOnOperation() override {
    for (auto func : llvm::make_early_inc_range(getOperation().getOps<func::FuncOp>()))
      if (!func.isExternal() && failed(convertFunction(func)))
        return signalPassFailure();
  }

  LogicalResult convertFunction(func::FuncOp func) {
    IRRewriter rewriter(func.getContext());
    // Copies on device buffers are loops like any other work.
    SmallVector<memref::CopyOp> copies;
    func.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(copy, copy.getSource(), copy.getTarget());
    }

    // Host-level linalg ops become parallel loops (reductions inside).
    SmallVector<linalg::LinalgOp> hostLinalg;
    func.walk([&](linalg::LinalgOp op) {
      if (!insideParallelWork(op))
        hostLinalg.push_back(op);
    });
    for (linalg::LinalgOp op : hostLinalg) {
      if (op.getNumLoops() == 0) {
        // A scalar (rank-0) op has no loop to map: one iteration of one.
        rewriter.setInsertionPoint(op);
        Location loc = op.getLoc();
        auto single = scf::ParallelOp::create(rewriter, loc, ValueRange{indexConstant(rewriter, loc, 0)},
                                              ValueRange{indexConstant(rewriter, loc, 1)},
                                              ValueRange{indexConstant(rewriter, loc, 1)});
        op->moveBefore(single.getBody()->getTerminator());
      }
      rewriter.setInsertionPoint(op);
      if (failed(linalg::linalgOpToParallelLoops(rewriter, op)))
        return op->emitError("cannot turn this operation into parallel loops for the GPU");
      rewriter.eraseOp(op);
    }

    // The deallocation pipeline's bookkeeping stays on the host's stack.
    SmallVector<memref::AllocOp> hostAllocs;
    func.walk([&](memref::AllocOp alloc) {
      if (!insideParallelWork(alloc) && !isDeviceBuffer(alloc.getType()) &&
          alloc.getType().hasStaticShape())
        hostAllocs.push_back(alloc);
    });
    for (memref::AllocOp alloc : hostAllocs) {
      for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
        if (isa<memref::DeallocOp>(user))
          user->erase();
      rewriter.setInsertionPoint(alloc);
      rewriter.replaceOpWithNewOp<memref::AllocaOp>(alloc, alloc.getType(),
                                                    alloc.getAlignmentAttr());
    }

    SmallVector<scf::ParallelOp> outermost;
    func.walk([&](scf::ParallelOp loop) {
      if (!insideParallelWork(loop))
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost) {
      if (!loop.getInitVals().empty())
        return loop.emitError("a parallel reduction cannot become a GPU kernel yet");
      privatiseTemporaries(launchParallelLoop(loop, blockSize));
    }

    // A scalar the host needs from device memory (the Newton iteration's
    // residual) comes back through the launcher, which copies it on the
    // call's stream and waits for it.
    SmallVector<memref::LoadOp> hostReads;
    func.walk([&](memref::LoadOp load) {
      if (!insideParallelWork(load) && isDeviceBuffer(load.getMemRef().getType()))
        hostReads.push_back(load);
    });
    for (memref::LoadOp load : hostReads)
      readThroughLauncher(rewriter, load);

    // Whatever still reads or writes a device buffer on the host is a bug
    // of the lowering, not something to miscompile silently.
    WalkResult leftover = func.walk([&](Operation *op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return WalkResult::advance();
      Value touched;
      if (auto load = dyn_cast<memref::LoadOp>(op))
        touched = load.getMemRef();
      else if (auto store = dyn_cast<memref::StoreOp>(op))
        touched = store.getMemRef();
      else if (isa<linalg::LinalgOp, vector::TransferReadOp, vector::TransferWriteOp>(op))
        touched = op->getOperand(0);
      if (touched && isDeviceBuffer(touched.getType())) {
        op->emitError("internal error: the host would access device memory here");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    return failure(leftover.wasInterrupted());
  }
};

} // namespace
