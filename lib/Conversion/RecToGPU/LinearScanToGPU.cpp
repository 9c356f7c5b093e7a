//===- LinearScanToGPU.cpp - rec.linear_scan to a single-pass GPU scan ----===//
//
// convert-linear-scan-to-gpu: h[t] = a[t] * h[t-1] + b[t] on device buffers
// (h[t+1] for a reverse scan: the same kernel, reading time backwards)
// as one kernel of a single-pass scan with decoupled look-back. One thread
// per (batch, channel) lane streaming over time would leave a GPU nearly
// idle for few channels and long sequences, and a three-pass scan (reduce,
// carry, rescan) reads a and b twice; this reads them once in both regimes.
//
// A tile is 32 channels (one per lane of a warp, so that each load is one
// 128-byte line) by L = warps x steps-per-thread steps. Thread (w, lane)
// loads its S steps into registers and reduces them to the affine map
// h -> A h + B; the block composes its warps' maps through shared memory;
// warp 0 publishes the tile's map, finds the state entering the tile by
// looking back over its predecessors (their maps while only those are
// published, stopping at the first inclusive state), and publishes the
// tile's inclusive state. Flags are per channel, so each lane publishes
// and reads its own channel with no cross-lane ordering. Tiles are claimed
// from an atomic counter in order, tile-major over the lane groups, so a
// tile waits only for tiles that are already running: no deadlock, however
// many tiles there are.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "seqc/Conversion/Utils/LoweringUtils.h"
#include "RecOps.h"

namespace seqc {
#define GEN_PASS_DEF_CONVERTLINEARSCANTOGPU
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;
using seqc::ChannelView;
using seqc::indexConstant;

namespace {

constexpr int64_t kWarpSize = 32;
/// Flag values of a channel of a tile.
constexpr int64_t kAggregatePublished = 1, kInclusivePublished = 2;

Value f32Const(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(static_cast<float>(value)));
}

Value i32Const(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIntOp::create(b, loc, b.getI32Type(), value);
}

/// The affine map h -> a h + b after `first` then `second`.
std::pair<Value, Value> compose(OpBuilder &b, Location loc, std::pair<Value, Value> first,
                                std::pair<Value, Value> second) {
  Value a = arith::MulFOp::create(b, loc, second.first, first.first);
  Value c = math::FmaOp::create(b, loc, second.first, first.second, second.second);
  return {a, c};
}

Value fma(OpBuilder &b, Location loc, Value a, Value h, Value c) {
  return math::FmaOp::create(b, loc, a, h, c);
}

/// A fence at GPU scope: release after publishing, acquire after reading a
/// flag, so that the data behind a flag is seen once the flag is.
void deviceFence(OpBuilder &b, Location loc, LLVM::AtomicOrdering ordering) {
  LLVM::FenceOp::create(b, loc, ordering, "device");
}

/// The kernel of one rec.linear_scan, built stage by stage: the host side
/// (sizes, the T = 0 case, the look-back buffers, the launch), then in the
/// kernel the ticket, each thread's steps, warp 0's look-back and the
/// states.
class ScanKernelBuilder {
public:
  ScanKernelBuilder(rec::LinearScanOp scan, int64_t warps, int64_t stepsPerThread)
      : scan(scan), loc(scan.getLoc()), b(scan), warps(warps),
        stepsPerThread(stepsPerThread), tileSteps(warps * stepsPerThread) {}

  LogicalResult build() {
    if (failed(viewOperands()))
      return failure();
    emitHostSide();
    OpBuilder k = OpBuilder::atBlockBegin(&launch.getBody().front());
    claimTicket(k);
    loadSteps(k);
    auto lookBack = scf::IfOp::create(
        k, loc, arith::CmpIOp::create(k, loc, arith::CmpIPredicate::eq, warp, indexConstant(k, loc, 0)),
        false);
    OpBuilder w = OpBuilder::atBlockBegin(lookBack.thenBlock());
    lookBackAndPublish(w);
    gpu::BarrierOp::create(k, loc);
    storeStates(k);
    gpu::TerminatorOp::create(k, loc);
    b.setInsertionPointAfter(launch);
    for (Value buffer : {aggregateA, aggregateB, inclusive, flags, counter})
      memref::DeallocOp::create(b, loc, buffer);
    return success();
  }

private:
  /// Each operand with its channel axes as one. The scan needs them
  /// contiguous: an operand whose layout does not say so (a loop's carried
  /// state has a fully dynamic one) is copied into a dense buffer first, and
  /// a result copied back after (the copies become kernels like any
  /// host-level linalg op).
  LogicalResult viewOperands() {
    OpBuilder after(scan->getContext());
    after.setInsertionPointAfter(scan);
    auto view = [&](Value operand, unsigned lead, bool isResult) {
      auto type = cast<MemRefType>(operand.getType());
      if (!seqc::channelsCollapsible(type, lead)) {
        SmallVector<Value> sizes;
        for (int64_t d = 0; d < type.getRank(); ++d)
          if (type.isDynamicDim(d))
            sizes.push_back(memref::DimOp::create(b, loc, operand, d));
        Value dense = memref::AllocOp::create(
            b, loc, MemRefType::get(type.getShape(), type.getElementType()), sizes);
        if (isResult)
          linalg::CopyOp::create(after, loc, dense, operand);
        else
          linalg::CopyOp::create(b, loc, operand, dense);
        memref::DeallocOp::create(after, loc, dense);
        operand = dense;
      }
      return std::make_pair(operand, seqc::collapseChannels(b, loc, operand, lead));
    };
    a = view(scan.getCoefficients(), 2, false).second;
    offsets = view(scan.getOffsets(), 2, false).second;
    states = view(scan.getStates(), 2, true).second;
    std::tie(initBuffer, init) = view(scan.getInit(), 1, false);
    std::tie(finalBuffer, final) = view(scan.getFinalState(), 1, true);
    return success();
  }

  /// The sizes, the T = 0 case (the final state is the initial one), the
  /// look-back buffers and the launch of one block per (tile, lane group).
  void emitHostSide() {
    Value c0 = indexConstant(b, loc, 0), c1 = indexConstant(b, loc, 1);
    batch = memref::DimOp::create(b, loc, states.memref, 0);
    length = memref::DimOp::create(b, loc, states.memref, 1);
    channels = states.hasChannels ? Value(memref::DimOp::create(b, loc, states.memref, 2)) : c1;
    Value empty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, length, c0);
    auto ifEmpty = scf::IfOp::create(b, loc, empty, /*withElseRegion=*/true);
    OpBuilder then = OpBuilder::atBlockBegin(ifEmpty.thenBlock());
    linalg::CopyOp::create(then, loc, initBuffer, finalBuffer);
    b.setInsertionPointToStart(ifEmpty.elseBlock());
    Value warpSize = indexConstant(b, loc, kWarpSize);
    channelGroups = arith::CeilDivUIOp::create(b, loc, channels, warpSize);
    groups = arith::MulIOp::create(b, loc, batch, channelGroups);
    tiles = arith::CeilDivUIOp::create(b, loc, length, indexConstant(b, loc, tileSteps));
    Value blocks = arith::MulIOp::create(b, loc, groups, tiles);
    Value nonEmpty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, blocks, c0);
    auto ifWork = scf::IfOp::create(b, loc, nonEmpty, /*withElseRegion=*/false);
    b.setInsertionPointToStart(ifWork.thenBlock());
    allocateLookBackState(arith::MulIOp::create(b, loc, blocks, warpSize));
    createLaunch(blocks);
  }

  /// Look-back state, one entry per (group, tile, lane), and the ticket
  /// counter; flags and counter start at zero (kernels made by
  /// convert-parallel-to-gpu).
  void allocateLookBackState(Value slots) {
    Type f32 = b.getF32Type(), i32 = b.getI32Type();
    auto f32Slots = MemRefType::get({ShapedType::kDynamic}, f32);
    auto i32Slots = MemRefType::get({ShapedType::kDynamic}, i32);
    aggregateA = memref::AllocOp::create(b, loc, f32Slots, ValueRange{slots});
    aggregateB = memref::AllocOp::create(b, loc, f32Slots, ValueRange{slots});
    inclusive = memref::AllocOp::create(b, loc, f32Slots, ValueRange{slots});
    flags = memref::AllocOp::create(b, loc, i32Slots, ValueRange{slots});
    counter = memref::AllocOp::create(b, loc, MemRefType::get({1}, i32));
    Value zero32 = i32Const(b, loc, 0);
    linalg::FillOp::create(b, loc, zero32, flags);
    linalg::FillOp::create(b, loc, zero32, counter);
  }

  void createLaunch(Value blocks) {
    Value c1 = indexConstant(b, loc, 1);
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    auto warpMaps = MemRefType::get({warps, kWarpSize}, b.getF32Type(),
                                    MemRefLayoutAttrInterface{}, workgroup);
    auto ticketSlot = MemRefType::get({1}, b.getIndexType(), MemRefLayoutAttrInterface{},
                                      workgroup);
    Value threads = indexConstant(b, loc, warps * kWarpSize);
    launch = gpu::LaunchOp::create(b, loc, blocks, c1, c1, threads, c1, c1,
                                   /*dynamicSharedMemorySize=*/nullptr,
                                   /*asyncTokenType=*/nullptr, ValueRange{},
                                   TypeRange{warpMaps, warpMaps, warpMaps, ticketSlot});
    ValueRange shared = launch.getWorkgroupAttributions();
    warpA = shared[0];
    warpB = shared[1];
    warpEntry = shared[2];
    ticketShared = shared[3];
  }

  /// The ticket: which (tile, group) this block computes, in claim order;
  /// and where its thread's lane and steps are.
  void claimTicket(OpBuilder &k) {
    zero = f32Const(k, loc, 0.0);
    one = f32Const(k, loc, 1.0);
    Value kc0 = indexConstant(k, loc, 0), kWarp = indexConstant(k, loc, kWarpSize);
    Value thread = launch.getThreadIds().x;
    warp = arith::DivUIOp::create(k, loc, thread, kWarp);
    lane = arith::RemUIOp::create(k, loc, thread, kWarp);
    Value isFirstThread = arith::CmpIOp::create(k, loc, arith::CmpIPredicate::eq, thread, kc0);
    auto claim = scf::IfOp::create(k, loc, isFirstThread, false);
    OpBuilder c = OpBuilder::atBlockBegin(claim.thenBlock());
    Value claimed = memref::AtomicRMWOp::create(c, loc, arith::AtomicRMWKind::addi,
                                                i32Const(c, loc, 1), counter, ValueRange{kc0});
    memref::StoreOp::create(c, loc,
                            arith::IndexCastUIOp::create(c, loc, c.getIndexType(), claimed),
                            ticketShared, ValueRange{kc0});
    gpu::BarrierOp::create(k, loc);
    Value ticket = memref::LoadOp::create(k, loc, ticketShared, ValueRange{kc0});
    tile = arith::DivUIOp::create(k, loc, ticket, groups);
    group = arith::RemUIOp::create(k, loc, ticket, groups);
    row = arith::DivUIOp::create(k, loc, group, channelGroups);
    channel = arith::AddIOp::create(
        k, loc,
        arith::MulIOp::create(k, loc, arith::RemUIOp::create(k, loc, group, channelGroups), kWarp),
        lane);
    channelValid = arith::CmpIOp::create(k, loc, arith::CmpIPredicate::ult, channel, channels);
    // A masked channel of the last group reads channel 0 (always there) and
    // scans the identity map; nothing of it is stored.
    safeChannel = arith::SelectOp::create(k, loc, channelValid, channel, kc0);
    firstStep = arith::AddIOp::create(
        k, loc, arith::MulIOp::create(k, loc, tile, indexConstant(k, loc, tileSteps)),
        arith::MulIOp::create(k, loc, warp, indexConstant(k, loc, stepsPerThread)));
  }

  /// Step s of this thread and whether it exists (steps past T are the
  /// identity); recomputed where needed, so that only a and b stay live in
  /// registers across the look-back.
  std::pair<Value, Value> stepAt(OpBuilder &k, int64_t s) {
    Value t = arith::AddIOp::create(k, loc, firstStep, indexConstant(k, loc, s));
    Value valid = arith::AndIOp::create(
        k, loc, channelValid, arith::CmpIOp::create(k, loc, arith::CmpIPredicate::ult, t, length));
    return {t, valid};
  }

  /// Where step t of the scan's order lies in the sequences: a reverse scan
  /// is the same kernel reading and writing time backwards.
  Value sequenceIndex(OpBuilder &k, Value t) {
    if (!scan.getReverse())
      return t;
    return arith::SubIOp::create(
        k, loc, arith::SubIOp::create(k, loc, length, indexConstant(k, loc, 1)), t);
  }

  /// This thread's steps into registers, and their map into shared memory.
  void loadSteps(OpBuilder &k) {
    Value kc0 = indexConstant(k, loc, 0);
    std::pair<Value, Value> local = {one, zero};
    for (int64_t s = 0; s < stepsPerThread; ++s) {
      auto [t, valid] = stepAt(k, s);
      Value safeT = sequenceIndex(k, arith::SelectOp::create(k, loc, valid, t, kc0));
      Value loadedA =
          memref::LoadOp::create(k, loc, a.memref, a.indices({row, safeT}, safeChannel));
      Value loadedB = memref::LoadOp::create(k, loc, offsets.memref,
                                             offsets.indices({row, safeT}, safeChannel));
      Value valueA = arith::SelectOp::create(k, loc, valid, loadedA, one);
      Value valueB = arith::SelectOp::create(k, loc, valid, loadedB, zero);
      stepA.push_back(valueA);
      stepB.push_back(valueB);
      local = compose(k, loc, local, {valueA, valueB});
    }
    memref::StoreOp::create(k, loc, local.first, warpA, ValueRange{warp, lane});
    memref::StoreOp::create(k, loc, local.second, warpB, ValueRange{warp, lane});
    gpu::BarrierOp::create(k, loc);
  }

  /// The look-back slot of (group, tile) for this lane.
  Value slotOf(OpBuilder &f, Value tileIndex) {
    Value kWarp = indexConstant(f, loc, kWarpSize);
    Value base =
        arith::AddIOp::create(f, loc, arith::MulIOp::create(f, loc, group, tiles), tileIndex);
    return arith::AddIOp::create(f, loc, arith::MulIOp::create(f, loc, base, kWarp), lane);
  }

  /// Warp 0: the tile's map, the state entering the tile, each warp's
  /// entering state, and the tile's inclusive state, published.
  void lookBackAndPublish(OpBuilder &w) {
    Value kc0 = indexConstant(w, loc, 0), kc1 = indexConstant(w, loc, 1);
    Value kWarps = indexConstant(w, loc, warps);
    auto tileMap = scf::ForOp::create(
        w, loc, kc0, kWarps, kc1, ValueRange{one, zero},
        [&](OpBuilder &f, Location loc, Value i, ValueRange map) {
          Value ai = memref::LoadOp::create(f, loc, warpA, ValueRange{i, lane});
          Value bi = memref::LoadOp::create(f, loc, warpB, ValueRange{i, lane});
          auto next = compose(f, loc, {map[0], map[1]}, {ai, bi});
          scf::YieldOp::create(f, loc, ValueRange{next.first, next.second});
        });
    Value mySlot = slotOf(w, tile);
    Value entering = enteringState(w, {tileMap.getResult(0), tileMap.getResult(1)}, mySlot);
    auto perWarp = scf::ForOp::create(
        w, loc, kc0, kWarps, kc1, ValueRange{entering},
        [&](OpBuilder &f, Location loc, Value i, ValueRange h) {
          memref::StoreOp::create(f, loc, h[0], warpEntry, ValueRange{i, lane});
          Value ai = memref::LoadOp::create(f, loc, warpA, ValueRange{i, lane});
          Value bi = memref::LoadOp::create(f, loc, warpB, ValueRange{i, lane});
          scf::YieldOp::create(f, loc, Value(fma(f, loc, ai, h[0], bi)));
        });
    Value leaving = perWarp.getResult(0);
    memref::StoreOp::create(w, loc, leaving, inclusive, ValueRange{mySlot});
    deviceFence(w, loc, LLVM::AtomicOrdering::release);
    memref::AtomicRMWOp::create(w, loc, arith::AtomicRMWKind::assign,
                                i32Const(w, loc, kInclusivePublished), flags,
                                ValueRange{mySlot});
    // The last tile's inclusive state is the final state (steps past T are
    // the identity).
    Value isLastTile = arith::CmpIOp::create(w, loc, arith::CmpIPredicate::eq, tile,
                                             arith::SubIOp::create(w, loc, tiles, kc1));
    auto writeFinal = scf::IfOp::create(
        w, loc, arith::AndIOp::create(w, loc, isLastTile, channelValid), false);
    OpBuilder f = OpBuilder::atBlockBegin(writeFinal.thenBlock());
    memref::StoreOp::create(f, loc, leaving, final.memref, final.indices({row}, channel));
  }

  /// The state entering this tile: the initial state for tile 0; else the
  /// tile's map published, then the predecessors' maps composed until one
  /// has its inclusive state.
  Value enteringState(OpBuilder &w, std::pair<Value, Value> tileMap, Value mySlot) {
    Value kc0 = indexConstant(w, loc, 0);
    Value isFirstTile = arith::CmpIOp::create(w, loc, arith::CmpIPredicate::eq, tile, kc0);
    auto entering =
        scf::IfOp::create(w, loc, TypeRange{w.getF32Type()}, isFirstTile, true, true);
    OpBuilder t = OpBuilder::atBlockBegin(entering.thenBlock());
    Value h0 = memref::LoadOp::create(t, loc, init.memref, init.indices({row}, safeChannel));
    scf::YieldOp::create(t, loc, Value(arith::SelectOp::create(t, loc, channelValid, h0, zero)));
    OpBuilder e = OpBuilder::atBlockBegin(entering.elseBlock());
    memref::StoreOp::create(e, loc, tileMap.first, aggregateA, ValueRange{mySlot});
    memref::StoreOp::create(e, loc, tileMap.second, aggregateB, ValueRange{mySlot});
    deviceFence(e, loc, LLVM::AtomicOrdering::release);
    memref::AtomicRMWOp::create(e, loc, arith::AtomicRMWKind::assign,
                                i32Const(e, loc, kAggregatePublished), flags,
                                ValueRange{mySlot});
    scf::YieldOp::create(e, loc, walkBack(e));
    return entering.getResult(0);
  }

  /// Walks back from the previous tile, composing maps, until a tile has
  /// its inclusive state (tile 0 always publishes one); returns the state.
  Value walkBack(OpBuilder &e) {
    Type indexType = e.getIndexType(), i1 = e.getI1Type(), f32 = e.getF32Type();
    Value kc1 = indexConstant(e, loc, 1);
    auto walk = scf::WhileOp::create(
        e, loc, TypeRange{indexType, f32, f32, f32, i1},
        ValueRange{arith::SubIOp::create(e, loc, tile, kc1), one, zero, zero,
                   arith::ConstantIntOp::create(e, loc, i1, 0)},
        [&](OpBuilder &c, Location loc, ValueRange args) {
          Value notDone = arith::XOrIOp::create(
              c, loc, args[4], arith::ConstantIntOp::create(c, loc, c.getI1Type(), 1));
          scf::ConditionOp::create(c, loc, notDone, args);
        },
        [&](OpBuilder &d, Location loc, ValueRange args) {
          scf::YieldOp::create(d, loc, lookBackStep(d, args));
        });
    return walk.getResult(3);
  }

  /// One step of the walk over predecessor `args[0]` with the map
  /// (args[1], args[2]) of the tiles after it.
  ValueRange lookBackStep(OpBuilder &d, ValueRange args) {
    Type indexType = d.getIndexType(), i1 = d.getI1Type(), f32 = d.getF32Type(),
         i32 = d.getI32Type();
    Value p = args[0], gA = args[1], gB = args[2];
    Value theirSlot = slotOf(d, p);
    // Spin until the predecessor has published something.
    auto spin = scf::WhileOp::create(
        d, loc, TypeRange{i32}, ValueRange{i32Const(d, loc, 0)},
        [&](OpBuilder &c, Location loc, ValueRange) {
          Value seen = memref::AtomicRMWOp::create(c, loc, arith::AtomicRMWKind::ori,
                                                   i32Const(c, loc, 0), flags,
                                                   ValueRange{theirSlot});
          Value waiting = arith::CmpIOp::create(c, loc, arith::CmpIPredicate::eq, seen,
                                                i32Const(c, loc, 0));
          scf::ConditionOp::create(c, loc, waiting, ValueRange{seen});
        },
        [&](OpBuilder &c, Location loc, ValueRange args) { scf::YieldOp::create(c, loc, args); });
    deviceFence(d, loc, LLVM::AtomicOrdering::acquire);
    Value hasInclusive = arith::CmpIOp::create(d, loc, arith::CmpIPredicate::eq, spin.getResult(0),
                                               i32Const(d, loc, kInclusivePublished));
    auto step = scf::IfOp::create(d, loc, TypeRange{indexType, f32, f32, f32, i1}, hasInclusive,
                                  true, true);
    OpBuilder t = OpBuilder::atBlockBegin(step.thenBlock());
    Value h = memref::LoadOp::create(t, loc, inclusive, ValueRange{theirSlot});
    Value state = fma(t, loc, gA, h, gB);
    scf::YieldOp::create(t, loc,
                         ValueRange{p, gA, gB, state, arith::ConstantIntOp::create(t, loc, i1, 1)});
    OpBuilder f = OpBuilder::atBlockBegin(step.elseBlock());
    Value pA = memref::LoadOp::create(f, loc, aggregateA, ValueRange{theirSlot});
    Value pB = memref::LoadOp::create(f, loc, aggregateB, ValueRange{theirSlot});
    // Their map first, then the maps of the tiles after it.
    auto combined = compose(f, loc, {pA, pB}, {gA, gB});
    scf::YieldOp::create(f, loc,
                         ValueRange{arith::SubIOp::create(f, loc, p, indexConstant(f, loc, 1)),
                                    combined.first, combined.second, zero,
                                    arith::ConstantIntOp::create(f, loc, i1, 0)});
    return step.getResults();
  }

  /// Every step from this warp's entering state, from registers.
  void storeStates(OpBuilder &k) {
    Value h = memref::LoadOp::create(k, loc, warpEntry, ValueRange{warp, lane});
    for (int64_t s = 0; s < stepsPerThread; ++s) {
      h = fma(k, loc, stepA[s], h, stepB[s]);
      auto [t, valid] = stepAt(k, s);
      auto store = scf::IfOp::create(k, loc, valid, false);
      OpBuilder st = OpBuilder::atBlockBegin(store.thenBlock());
      memref::StoreOp::create(st, loc, h, states.memref,
                              states.indices({row, sequenceIndex(st, t)}, channel));
    }
  }

  rec::LinearScanOp scan;
  Location loc;
  OpBuilder b;
  int64_t warps, stepsPerThread, tileSteps;
  ChannelView a, offsets, states, init, final;
  /// The initial and final states' buffers before their channels collapse.
  Value initBuffer, finalBuffer;
  // Host side.
  Value batch, length, channels, channelGroups, groups, tiles;
  Value aggregateA, aggregateB, inclusive, flags, counter;
  gpu::LaunchOp launch;
  // Kernel side.
  Value warpA, warpB, warpEntry, ticketShared;
  Value zero, one, warp, lane, tile, group, row, channel, channelValid, safeChannel, firstStep;
  SmallVector<Value> stepA, stepB;
};

struct ConvertLinearScanToGPUPass
    : seqc::impl::ConvertLinearScanToGPUBase<ConvertLinearScanToGPUPass> {
  using ConvertLinearScanToGPUBase::ConvertLinearScanToGPUBase;

  void runOnOperation() override {
    if (warps < 1 || warps > 32 || stepsPerThread < 1 || stepsPerThread > 64) {
      getOperation().emitError("convert-linear-scan-to-gpu: warps must be in [1, 32] and "
                               "steps-per-thread in [1, 64]");
      return signalPassFailure();
    }
    SmallVector<rec::LinearScanOp> scans;
    getOperation().walk([&](rec::LinearScanOp op) { scans.push_back(op); });
    for (rec::LinearScanOp scan : scans) {
      if (!scan.getResults().empty()) {
        scan.emitError("convert-linear-scan-to-gpu runs after bufferization");
        return signalPassFailure();
      }
      if (failed(ScanKernelBuilder(scan, warps, stepsPerThread).build()))
        return signalPassFailure();
      scan.erase();
    }
  }
};

} // namespace
