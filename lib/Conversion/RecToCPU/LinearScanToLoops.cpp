//===- LinearScanToLoops.cpp - rec.linear_scan on buffers to threaded loops ===//
//
// convert-linear-scan-to-loops: h[t] = a[t] * h[t-1] + b[t] on buffers (or
// h[t+1] for a reverse scan, the same loops reading time backwards),
// computed in place in the states' buffer (step t reads step t-1 back from
// it, still in L1), vectorised across channels, and split across threads as
// the runtime's plan says (seqc_scan_plan in runtime/seqc_runtime.c; B is
// known only at call time, and whether splitting time pays depends on the
// machine's bandwidth):
//  - over batch rows and blocks of channels: independent, no extra work;
//  - over time, where rows and blocks do not fill the cores, in one of two
//    ways. The three-phase chunked scan: phase 1 scans each row's first
//    chunk from the true initial state while the other threads reduce the
//    next chunks to their aggregates (prod a, and the scan from zero);
//    phase 2 chains the aggregates into each chunk's entering state; phase
//    3 scans the chunks from those states. It reads the reduced chunks'
//    inputs twice from memory. The chained scan: threads claim L2-sized
//    chunks in order, reduce one, wait for the state entering it, publish
//    the state leaving it, and scan it again from their cache, so memory
//    sees no more traffic than the sequential scan.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "seqc/Conversion/Utils/LoweringUtils.h"
#include "seqc/Runtime/seqc_abi.h"
#include "RecOps.h"

#include <limits>

namespace seqc {
#define GEN_PASS_DEF_CONVERTLINEARSCANTOLOOPS
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;
using seqc::ChannelView;
using seqc::channelsCollapsible;
using seqc::collapseChannels;
using seqc::f32Splat;
using seqc::hasUnitInnerStride;
using seqc::indexConstant;
using seqc::kVectorWidth;

namespace {

constexpr llvm::StringLiteral kScanPlan = SEQC_RUNTIME_NAME(seqc_scan_plan);
constexpr llvm::StringLiteral kPause = SEQC_RUNTIME_NAME(seqc_pause);
/// Bytes of a cache line (and of kVectorWidth f32 lanes).
constexpr int64_t kCacheLine = 64;

/// Collapses the channel axes after the `lead` ones. A buffer whose channels
/// are not contiguous (a state carried by a loop over segments of time) is
/// copied into a dense one first, and an output copied back after the scan.
ChannelView viewChannels(OpBuilder &b, OpBuilder &after, Location loc, Value buffer,
                         unsigned lead, bool isOutput) {
  auto type = cast<MemRefType>(buffer.getType());
  if (type.getRank() > lead && (!channelsCollapsible(type, lead) || !hasUnitInnerStride(type))) {
    SmallVector<Value> sizes;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        sizes.push_back(memref::DimOp::create(b, loc, buffer, d));
    auto denseType = MemRefType::get(type.getShape(), type.getElementType());
    Value dense = memref::AllocOp::create(b, loc, denseType, sizes);
    if (isOutput)
      linalg::CopyOp::create(after, loc, dense, buffer);
    else
      linalg::CopyOp::create(b, loc, buffer, dense);
    memref::DeallocOp::create(after, loc, dense);
    buffer = dense;
  }
  return collapseChannels(b, loc, buffer, lead);
}

/// Emits `body(builder, channel, width)` over channels [begin, end): vectors
/// of kVectorWidth, then single lanes for the rest.
void forChannels(OpBuilder &b, Location loc, Value begin, Value end,
                 function_ref<void(OpBuilder &, Value, int64_t)> body) {
  Value width = indexConstant(b, loc, kVectorWidth);
  Value span = arith::SubIOp::create(b, loc, end, begin);
  Value vectorEnd = arith::AddIOp::create(
      b, loc, begin,
      arith::MulIOp::create(b, loc, arith::DivUIOp::create(b, loc, span, width), width));
  scf::ForOp::create(b, loc, begin, vectorEnd, width, ValueRange{},
                     [&](OpBuilder &b, Location, Value c, ValueRange) {
                       body(b, c, kVectorWidth);
                       scf::YieldOp::create(b, loc);
                     });
  scf::ForOp::create(b, loc, vectorEnd, end, indexConstant(b, loc, 1), ValueRange{},
                     [&](OpBuilder &b, Location, Value c, ValueRange) {
                       body(b, c, 1);
                       scf::YieldOp::create(b, loc);
                     });
}

Value multiplyAdd(OpBuilder &b, Location loc, Value x, Value y, Value z) {
  return arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, x, y), z);
}

/// Marks a parallel loop whose iterations are each worth a thread (the
/// runtime's plan has already sized it): convert-parallel-to-runtime passes
/// this cost on instead of its static estimate.
void markHeavy(scf::ParallelOp loop) {
  OpBuilder b(loop);
  loop->setAttr(seqc::kIterationCostAttr, b.getI64IntegerAttr(int64_t(1) << 40));
}

struct ScanLowering {
  Location loc;
  ChannelView coefficients, offsets, init, states, final;
  Value channels; // C, index
  /// T-1 for a reverse scan, null otherwise: every strategy below works in
  /// the scan's own order, and only the sequences' accesses flip it.
  Value reverseLast;

  /// Where step t of the scan's order lies in the sequences.
  Value at(OpBuilder &b, Value t) {
    return reverseLast ? arith::SubIOp::create(b, loc, reverseLast, t).getResult() : t;
  }

  /// states[row, t] for t in [begin, end), from `entering` at begin.
  void scanSteps(OpBuilder &b, Value row, Value c0, Value c1, Value begin, Value end,
                 const ChannelView &entering, ValueRange enteringLead) {
    Value nonEmpty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, begin, end);
    auto guard = scf::IfOp::create(b, loc, nonEmpty, /*withElseRegion=*/false);
    OpBuilder inner = OpBuilder::atBlockBegin(guard.thenBlock());
    Value firstAt = at(inner, begin);
    forChannels(inner, loc, c0, c1, [&](OpBuilder &b, Value c, int64_t width) {
      Value a = coefficients.load(b, loc, {row, firstAt}, c, width);
      Value h = entering.load(b, loc, enteringLead, c, width);
      Value x = offsets.load(b, loc, {row, firstAt}, c, width);
      states.store(b, loc, multiplyAdd(b, loc, a, h, x), {row, firstAt}, c);
    });
    Value one = indexConstant(inner, loc, 1);
    Value second = arith::AddIOp::create(inner, loc, begin, one);
    scf::ForOp::create(
        inner, loc, second, end, one, ValueRange{},
        [&](OpBuilder &b, Location, Value t, ValueRange) {
          Value previous = at(b, arith::SubIOp::create(b, loc, t, one));
          Value current = at(b, t);
          forChannels(b, loc, c0, c1, [&](OpBuilder &b, Value c, int64_t width) {
            Value a = coefficients.load(b, loc, {row, current}, c, width);
            Value h = states.load(b, loc, {row, previous}, c, width);
            Value x = offsets.load(b, loc, {row, current}, c, width);
            states.store(b, loc, multiplyAdd(b, loc, a, h, x), {row, current}, c);
          });
          scf::YieldOp::create(b, loc);
        });
  }

  /// The aggregate of steps [begin, end): product[c] = prod a[t, c] and
  /// sum[c] = the scan from zero, in the [B, chunks, C] buffers at `lead`.
  void reduceSteps(OpBuilder &b, Value row, Value c0, Value c1, Value begin, Value end,
                   const ChannelView &product, const ChannelView &sum, ValueRange lead) {
    forChannels(b, loc, c0, c1, [&](OpBuilder &b, Value c, int64_t width) {
      product.store(b, loc, f32Splat(b, loc, 1.0, width), lead, c);
      sum.store(b, loc, f32Splat(b, loc, 0.0, width), lead, c);
    });
    scf::ForOp::create(
        b, loc, begin, end, indexConstant(b, loc, 1), ValueRange{},
        [&](OpBuilder &b, Location, Value t, ValueRange) {
          Value current = at(b, t);
          forChannels(b, loc, c0, c1, [&](OpBuilder &b, Value c, int64_t width) {
            Value a = coefficients.load(b, loc, {row, current}, c, width);
            Value x = offsets.load(b, loc, {row, current}, c, width);
            Value p = product.load(b, loc, lead, c, width);
            Value s = sum.load(b, loc, lead, c, width);
            sum.store(b, loc, multiplyAdd(b, loc, a, s, x), lead, c);
            product.store(b, loc, flushSubnormal(b, arith::MulFOp::create(b, loc, a, p)), lead,
                          c);
          });
          scf::YieldOp::create(b, loc);
        });
  }

  /// A product of many decays below 1 underflows, and with every factor in
  /// (0.5, 1) it sticks at the smallest subnormal (half an ulp rounds up),
  /// where each further multiply is tens of times slower on x86. Below
  /// FLT_MIN it scales the entering state to less than 1e-38 of itself,
  /// nothing an f32 result can show: it becomes 0.
  Value flushSubnormal(OpBuilder &b, Value value) {
    auto vectorType = dyn_cast<VectorType>(value.getType());
    int64_t width = vectorType ? vectorType.getNumElements() : 1;
    Value tiny = arith::CmpFOp::create(
        b, loc, arith::CmpFPredicate::OLT, math::AbsFOp::create(b, loc, value),
        f32Splat(b, loc, static_cast<double>(std::numeric_limits<float>::min()), width));
    return arith::SelectOp::create(b, loc, tiny, f32Splat(b, loc, 0.0, width), value);
  }


  /// entering[next] = product[agg] * entering[previous] + sum[agg] over
  /// channels [c0, c1): the state after a chunk from the one before it.
  void chain(OpBuilder &b, Value row, Value c0, Value c1, const ChannelView &product,
             const ChannelView &sum, ValueRange agg, const ChannelView &entering,
             ValueRange previous, ValueRange next) {
    forChannels(b, loc, c0, c1, [&](OpBuilder &b, Value c, int64_t width) {
      Value a = product.load(b, loc, agg, c, width);
      Value h = entering.load(b, loc, previous, c, width);
      Value x = sum.load(b, loc, agg, c, width);
      entering.store(b, loc, multiplyAdd(b, loc, a, h, x), next, c);
    });
  }

  /// to[toLead] = from[fromLead] over channels [c0, c1).
  void copyChannels(OpBuilder &b, Value c0, Value c1, const ChannelView &from,
                    ValueRange fromLead, const ChannelView &to, ValueRange toLead) {
    forChannels(b, loc, c0, c1, [&](OpBuilder &b, Value c, int64_t width) {
      to.store(b, loc, from.load(b, loc, fromLead, c, width), toLead, c);
    });
  }

  /// final[row] = states[row, T-1], or init[row] when T = 0.
  void writeFinal(OpBuilder &b, Value row, Value c0, Value c1, Value length) {
    Value zero = indexConstant(b, loc, 0);
    Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, length, zero);
    auto choose = scf::IfOp::create(b, loc, any, /*withElseRegion=*/true);
    OpBuilder thenBuilder = OpBuilder::atBlockBegin(choose.thenBlock());
    Value last = at(thenBuilder, arith::SubIOp::create(thenBuilder, loc, length,
                                                       indexConstant(thenBuilder, loc, 1)));
    copyChannels(thenBuilder, c0, c1, states, {row, last}, final, {row});
    OpBuilder elseBuilder = OpBuilder::atBlockBegin(choose.elseBlock());
    copyChannels(elseBuilder, c0, c1, init, {row}, final, {row});
  }
};

/// What the runtime's plan says (seqc_scan_plan in runtime/seqc_runtime.c):
/// bits 0-31 the threads per row and channel block ("lanes", 1: no time
/// split), bits 32-47 the channel blocks, bit 62 the chained strategy.
constexpr int64_t kPlanBlocksShift = 32;
constexpr int64_t kPlanChainedBit = 62;
/// A chained chunk's a and b fit in 256 KiB (32768 channel-steps), so the
/// scan that follows the reduction reads them from a core's L2.
constexpr int64_t kChunkChannelSteps = 32768;

/// Emits the loops of one scan: the plan decides at run time among rows in
/// parallel, the three-phase split and the chained split.
struct ScanEmitter {
  ScanLowering &scan;
  Location loc;
  Value batch, length, zero, one;
  Value blocks, lanes, blockWidth;

  std::pair<Value, Value> blockRange(OpBuilder &b, Value block) {
    Value begin = arith::MinUIOp::create(b, loc, arith::MulIOp::create(b, loc, block, blockWidth),
                                         scan.channels);
    Value end = arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, begin, blockWidth),
                                       scan.channels);
    return {begin, end};
  }

  MemRefType dynamicType(Type element, unsigned rank) {
    return MemRefType::get(SmallVector<int64_t>(rank, ShapedType::kDynamic), element);
  }

  /// [B, n, C] f32 scratch, each [C] row padded to whole cache lines and
  /// the buffer aligned to one: threads write neighbouring rows at every
  /// step, and rows sharing a line would bounce it between their cores.
  ChannelView allocateStates(OpBuilder &b, Value n) {
    Value vector = indexConstant(b, loc, kVectorWidth);
    Value padded = arith::MulIOp::create(
        b, loc, arith::CeilDivUIOp::create(b, loc, scan.channels, vector), vector);
    return {memref::AllocOp::create(b, loc, dynamicType(b.getF32Type(), 3),
                                    ValueRange{batch, n, padded},
                                    b.getI64IntegerAttr(kCacheLine)),
            true};
  }

  /// The final states, once every step is written.
  void writeFinals(OpBuilder &b) {
    scf::ForOp::create(b, loc, zero, batch, one, ValueRange{},
                       [&](OpBuilder &b, Location, Value row, ValueRange) {
                         scan.writeFinal(b, row, zero, scan.channels, length);
                         scf::YieldOp::create(b, loc);
                       });
  }

  /// Rows and channel blocks in parallel, each streaming over all of time.
  void emitRows(OpBuilder &b) {
    auto loop = scf::ParallelOp::create(
        b, loc, ValueRange{zero, zero}, ValueRange{batch, blocks}, ValueRange{one, one},
        [&](OpBuilder &b, Location, ValueRange ivs) {
          auto [c0, c1] = blockRange(b, ivs[1]);
          scan.scanSteps(b, ivs[0], c0, c1, zero, length, scan.init, {ivs[0]});
          scan.writeFinal(b, ivs[0], c0, c1, length);
        });
    markHeavy(loop);
  }

  /// Time in `lanes` chunks of w steps after a first chunk of s0 steps, with
  /// 3 s0 = 2 w so that phase 1 balances (see seqc_predict_phases):
  /// w = ceil(3 T / (3 lanes + 2)).
  void emitThreePhase(OpBuilder &b) {
    Value three = indexConstant(b, loc, 3);
    Value w = arith::CeilDivUIOp::create(
        b, loc, arith::MulIOp::create(b, loc, length, three),
        arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, lanes, three),
                              indexConstant(b, loc, 2)));
    Value covered =
        arith::MinUIOp::create(b, loc, arith::MulIOp::create(b, loc, lanes, w), length);
    Value first = arith::SubIOp::create(b, loc, length, covered);
    auto chunkRange = [&](OpBuilder &b, Value j) -> std::pair<Value, Value> {
      Value begin = arith::MinUIOp::create(
          b, loc, arith::AddIOp::create(b, loc, first, arith::MulIOp::create(b, loc, j, w)),
          length);
      Value end =
          arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, begin, w), length);
      return {begin, end};
    };
    ChannelView product = allocateStates(b, lanes), sum = allocateStates(b, lanes),
                entering = allocateStates(b, lanes);

    // Phase 1: the first chunk scanned, the next ones reduced.
    auto phase1 = scf::ParallelOp::create(
        b, loc, ValueRange{zero, zero, zero}, ValueRange{batch, lanes, blocks},
        ValueRange{one, one, one}, [&](OpBuilder &b, Location, ValueRange ivs) {
          Value row = ivs[0], k = ivs[1];
          auto [c0, c1] = blockRange(b, ivs[2]);
          Value isFirst = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, k, zero);
          auto which = scf::IfOp::create(b, loc, isFirst, /*withElseRegion=*/true);
          OpBuilder fb = OpBuilder::atBlockBegin(which.thenBlock());
          scan.scanSteps(fb, row, c0, c1, zero, first, scan.init, {row});
          Value scanned = arith::CmpIOp::create(fb, loc, arith::CmpIPredicate::ugt, first, zero);
          auto enter = scf::IfOp::create(fb, loc, scanned, /*withElseRegion=*/true);
          OpBuilder sb = OpBuilder::atBlockBegin(enter.thenBlock());
          scan.copyChannels(sb, c0, c1, scan.states,
                            {row, scan.at(sb, arith::SubIOp::create(sb, loc, first, one))},
                            entering, {row, zero});
          OpBuilder ib = OpBuilder::atBlockBegin(enter.elseBlock());
          scan.copyChannels(ib, c0, c1, scan.init, {row}, entering, {row, zero});
          OpBuilder rb = OpBuilder::atBlockBegin(which.elseBlock());
          auto [begin, end] = chunkRange(rb, arith::SubIOp::create(rb, loc, k, one));
          scan.reduceSteps(rb, row, c0, c1, begin, end, product, sum, {row, k});
        });
    markHeavy(phase1);

    // Phase 2: the state entering chunk j from the one entering chunk j-1
    // and the aggregate of chunk j-1 (a few vectors per row: no threads).
    scf::ForOp::create(
        b, loc, zero, batch, one, ValueRange{},
        [&](OpBuilder &b, Location, Value row, ValueRange) {
          scf::ForOp::create(b, loc, one, lanes, one, ValueRange{},
                             [&](OpBuilder &b, Location, Value j, ValueRange) {
                               scan.chain(b, row, zero, scan.channels, product, sum,
                                          {row, j}, entering,
                                          {row, arith::SubIOp::create(b, loc, j, one)},
                                          {row, j});
                               scf::YieldOp::create(b, loc);
                             });
          scf::YieldOp::create(b, loc);
        });

    // Phase 3: every chunk scanned from its entering state.
    auto phase3 = scf::ParallelOp::create(
        b, loc, ValueRange{zero, zero, zero}, ValueRange{batch, lanes, blocks},
        ValueRange{one, one, one}, [&](OpBuilder &b, Location, ValueRange ivs) {
          Value row = ivs[0], j = ivs[1];
          auto [c0, c1] = blockRange(b, ivs[2]);
          auto [begin, end] = chunkRange(b, j);
          scan.scanSteps(b, row, c0, c1, begin, end, entering, {row, j});
        });
    markHeavy(phase3);
    // The last chunks may be empty when T is short: no one chunk can be
    // trusted with the final state.
    writeFinals(b);
    for (const ChannelView &buffer : {product, sum, entering})
      memref::DeallocOp::create(b, loc, buffer.memref);
  }

  /// The chained split, a single pass: time in chunks small enough for L2;
  /// `lanes` threads per row and channel block claim chunks in order from a
  /// shared counter. Each reduces its chunk (reading a and b from memory),
  /// waits until the state entering the chunk is published, publishes the
  /// state entering the next one, and scans its chunk from the entering
  /// state, with a and b still in its cache. Memory traffic is the
  /// sequential scan's; a thread only waits for the one before it to finish
  /// a reduction. Chunks are claimed in order, so whatever holds the chunk a
  /// thread waits for is already past its own wait: no deadlock, even where
  /// the runtime runs the lanes one after another on fewer threads.
  void emitChained(OpBuilder &b) {
    Type i32 = b.getI32Type(), i64 = b.getI64Type();
    Value chunkSteps = arith::MaxUIOp::create(
        b, loc, indexConstant(b, loc, kVectorWidth),
        arith::DivUIOp::create(b, loc, indexConstant(b, loc, kChunkChannelSteps), blockWidth));
    Value chunks = arith::CeilDivUIOp::create(b, loc, length, chunkSteps);
    Value published = arith::AddIOp::create(b, loc, chunks, one);
    ChannelView product = allocateStates(b, lanes), sum = allocateStates(b, lanes),
                entering = allocateStates(b, published);
    Value claimed = memref::AllocOp::create(b, loc, dynamicType(i64, 2), ValueRange{batch, blocks});
    Value ready = memref::AllocOp::create(b, loc, dynamicType(i32, 3),
                                          ValueRange{batch, blocks, published});
    Value zero32 = arith::ConstantIntOp::create(b, loc, i32, 0);
    Value one32 = arith::ConstantIntOp::create(b, loc, i32, 1);
    Value zero64 = arith::ConstantIntOp::create(b, loc, i64, 0);
    Value one64 = arith::ConstantIntOp::create(b, loc, i64, 1);
    // Nothing claimed, nothing published but the initial states.
    scf::ForOp::create(
        b, loc, zero, batch, one, ValueRange{},
        [&](OpBuilder &b, Location, Value row, ValueRange) {
          scan.copyChannels(b, zero, scan.channels, scan.init, {row}, entering, {row, zero});
          scf::ForOp::create(
              b, loc, zero, blocks, one, ValueRange{},
              [&](OpBuilder &b, Location, Value block, ValueRange) {
                memref::StoreOp::create(b, loc, zero64, claimed, ValueRange{row, block});
                memref::StoreOp::create(b, loc, one32, ready, ValueRange{row, block, zero});
                scf::ForOp::create(b, loc, one, published, one, ValueRange{},
                                   [&](OpBuilder &b, Location, Value i, ValueRange) {
                                     memref::StoreOp::create(b, loc, zero32, ready,
                                                             ValueRange{row, block, i});
                                     scf::YieldOp::create(b, loc);
                                   });
                scf::YieldOp::create(b, loc);
              });
          scf::YieldOp::create(b, loc);
        });

    Value chunks64 = arith::IndexCastOp::create(b, loc, i64, chunks);
    auto loop = scf::ParallelOp::create(
        b, loc, ValueRange{zero, zero, zero}, ValueRange{batch, lanes, blocks},
        ValueRange{one, one, one}, [&](OpBuilder &b, Location, ValueRange ivs) {
          Value row = ivs[0], lane = ivs[1], block = ivs[2];
          // Plain values: a lambda below captures them.
          std::pair<Value, Value> channels = blockRange(b, block);
          Value c0 = channels.first, c1 = channels.second;
          scf::WhileOp::create(
              b, loc, TypeRange{i64}, ValueRange{},
              [&](OpBuilder &b, Location, ValueRange) {
                Value next = memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addi,
                                                         one64, claimed,
                                                         ValueRange{row, block});
                Value more =
                    arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, next, chunks64);
                scf::ConditionOp::create(b, loc, more, ValueRange{next});
              },
              [&](OpBuilder &b, Location, ValueRange args) {
                Value i = arith::IndexCastOp::create(b, loc, b.getIndexType(), args[0]);
                Value begin = arith::MulIOp::create(b, loc, i, chunkSteps);
                Value end = arith::MinUIOp::create(
                    b, loc, arith::AddIOp::create(b, loc, begin, chunkSteps), length);
                scan.reduceSteps(b, row, c0, c1, begin, end, product, sum, {row, lane});
                waitUntilSet(b, ready, {row, block, i});
                Value after = arith::AddIOp::create(b, loc, i, one);
                scan.chain(b, row, c0, c1, product, sum, {row, lane}, entering, {row, i},
                           {row, after});
                // Release: the entering state above is visible to whoever
                // sees the flag.
                memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::assign, one32, ready,
                                            ValueRange{row, block, after});
                scan.scanSteps(b, row, c0, c1, begin, end, entering, {row, i});
                scf::YieldOp::create(b, loc);
              });
        });
    markHeavy(loop);
    writeFinals(b);
    for (const ChannelView &buffer : {product, sum, entering})
      memref::DeallocOp::create(b, loc, buffer.memref);
    memref::DeallocOp::create(b, loc, claimed);
    memref::DeallocOp::create(b, loc, ready);
  }

  /// Spins (yielding the core) until flag[at] != 0; the atomic read-modify-
  /// write is the acquire that makes the published state visible.
  void waitUntilSet(OpBuilder &b, Value flags, ValueRange at) {
    Type i32 = b.getI32Type();
    Value zero32 = arith::ConstantIntOp::create(b, loc, i32, 0);
    scf::WhileOp::create(
        b, loc, TypeRange{}, ValueRange{},
        [&](OpBuilder &b, Location, ValueRange) {
          Value flag = memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::ori, zero32,
                                                   flags, at);
          Value unset = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, flag, zero32);
          scf::ConditionOp::create(b, loc, unset, ValueRange{});
        },
        [&](OpBuilder &b, Location, ValueRange) {
          func::CallOp::create(b, loc, kPause, TypeRange{}, ValueRange{});
          scf::YieldOp::create(b, loc);
        });
  }
};

struct ConvertLinearScanToLoopsPass
    : seqc::impl::ConvertLinearScanToLoopsBase<ConvertLinearScanToLoopsPass> {
  void runOnOperation() override {
    SmallVector<rec::LinearScanOp> scans;
    getOperation().walk([&](rec::LinearScanOp op) { scans.push_back(op); });
    for (rec::LinearScanOp op : scans) {
      if (!op.hasPureBufferSemantics()) {
        op.emitOpError() << "must be bufferized before convert-linear-scan-to-loops";
        return signalPassFailure();
      }
    }
    if (scans.empty())
      return;
    declareRuntime();
    for (rec::LinearScanOp op : scans)
      lower(op);
  }

  void declareRuntime() {
    ModuleOp module = getOperation();
    Builder b(module.getContext());
    Type i64 = b.getI64Type();
    seqc::declareRuntimeFunction(module, kScanPlan, b.getFunctionType({i64, i64, i64}, {i64}));
    seqc::declareRuntimeFunction(module, kPause, b.getFunctionType({}, {}));
  }

  void lower(rec::LinearScanOp op) {
    Location loc = op.getLoc();
    OpBuilder b(op);
    OpBuilder after(op->getContext());
    after.setInsertionPointAfter(op);
    ScanLowering scan{loc,
                      viewChannels(b, after, loc, op.getCoefficients(), 2, false),
                      viewChannels(b, after, loc, op.getOffsets(), 2, false),
                      viewChannels(b, after, loc, op.getInit(), 1, false),
                      viewChannels(b, after, loc, op.getStates(), 2, true),
                      viewChannels(b, after, loc, op.getFinalState(), 1, true),
                      Value(), Value()};
    ScanEmitter emit{scan, loc, Value(), Value(), Value(), Value(), Value(), Value(), Value()};
    emit.batch = memref::DimOp::create(b, loc, op.getCoefficients(), 0);
    emit.length = memref::DimOp::create(b, loc, op.getCoefficients(), 1);
    scan.channels = scan.states.hasChannels
                        ? Value(memref::DimOp::create(b, loc, scan.states.memref, 2))
                        : indexConstant(b, loc, 1);
    emit.zero = indexConstant(b, loc, 0);
    emit.one = indexConstant(b, loc, 1);
    if (op.getReverse())
      scan.reverseLast = arith::SubIOp::create(b, loc, emit.length, emit.one);

    Type i64 = b.getI64Type();
    auto toI64 = [&](Value index) -> Value {
      return arith::IndexCastOp::create(b, loc, i64, index);
    };
    auto bits = [&](Value value, int64_t shift, int64_t mask) -> Value {
      Value shifted = arith::ShRUIOp::create(b, loc, value,
                                             arith::ConstantIntOp::create(b, loc, i64, shift));
      return arith::AndIOp::create(b, loc, shifted,
                                   arith::ConstantIntOp::create(b, loc, i64, mask));
    };
    auto toIndex = [&](Value value) -> Value {
      return arith::IndexCastOp::create(b, loc, b.getIndexType(), value);
    };
    Value plan = func::CallOp::create(b, loc, kScanPlan, TypeRange{i64},
                                      ValueRange{toI64(emit.batch), toI64(emit.length),
                                                 toI64(scan.channels)})
                     .getResult(0);
    emit.lanes = toIndex(bits(plan, 0, 0xffffffff));
    emit.blocks = toIndex(bits(plan, kPlanBlocksShift, 0xffff));
    Value chained = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ne, bits(plan, kPlanChainedBit, 1),
        arith::ConstantIntOp::create(b, loc, i64, 0));
    // Blocks of whole vectors: ceil(ceil(C / blocks) / 16) * 16 channels.
    Value vector = indexConstant(b, loc, kVectorWidth);
    emit.blockWidth = arith::MulIOp::create(
        b, loc,
        arith::CeilDivUIOp::create(
            b, loc, arith::CeilDivUIOp::create(b, loc, scan.channels, emit.blocks), vector),
        vector);

    Value split = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, emit.lanes, emit.one);
    auto choice = scf::IfOp::create(b, loc, split, /*withElseRegion=*/true);
    OpBuilder rowsBuilder = OpBuilder::atBlockBegin(choice.elseBlock());
    emit.emitRows(rowsBuilder);
    OpBuilder splitBuilder = OpBuilder::atBlockBegin(choice.thenBlock());
    auto strategy = scf::IfOp::create(splitBuilder, loc, chained, /*withElseRegion=*/true);
    OpBuilder chainedBuilder = OpBuilder::atBlockBegin(strategy.thenBlock());
    emit.emitChained(chainedBuilder);
    OpBuilder phasesBuilder = OpBuilder::atBlockBegin(strategy.elseBlock());
    emit.emitThreePhase(phasesBuilder);
    op.erase();
  }
};

} // namespace
