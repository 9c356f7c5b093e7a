//===- LinearScanToLoops.cpp - rec.linear_scan on buffers to threaded loops ===//
//
// convert-linear-scan-to-loops: h[t] = a[t] * h[t-1] + b[t] on buffers,
// computed in place in the states' buffer (step t reads step t-1 back from
// it, still in L1), vectorised across channels, and split across threads as
// the runtime's plan says (seqc_scan_plan in runtime/seqc_runtime.c; B is
// known only at call time, and whether splitting time pays depends on the
// machine's bandwidth):
//  - over batch rows and blocks of channels: independent, no extra work;
//  - over time, where rows and blocks do not fill the cores: the three-phase
//    chunked scan. Phase 1 scans each row's first chunk from the true initial
//    state while the other threads reduce the next chunks to their
//    aggregates (prod a, and the scan from zero); phase 2 chains the
//    aggregates into each chunk's entering state; phase 3 scans the chunks
//    from those states. The inputs are read twice in the reduced chunks,
//    which is why the plan weighs it against the bandwidth.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "RecOps.h"

#include <limits>

namespace seqc {
#define GEN_PASS_DEF_CONVERTLINEARSCANTOLOOPS
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kScanPlan = "seqc_scan_plan";
/// f32 lanes of one vector: an AVX-512 register; LLVM splits it on narrower
/// targets.
constexpr int64_t kVectorWidth = 16;

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

/// A buffer of the scan seen as [B, T, C] (sequences) or [B, C] (states):
/// channel axes collapsed into one, absent for a scalar state.
struct ChannelView {
  Value memref;
  bool hasChannels;

  SmallVector<Value> indices(ValueRange lead, Value channel) const {
    SmallVector<Value> all(lead.begin(), lead.end());
    if (hasChannels)
      all.push_back(channel);
    return all;
  }
  Value load(OpBuilder &b, Location loc, ValueRange lead, Value channel, int64_t width) const {
    SmallVector<Value> at = indices(lead, channel);
    if (width == 1)
      return memref::LoadOp::create(b, loc, memref, at);
    return vector::LoadOp::create(b, loc, VectorType::get({width}, b.getF32Type()), memref, at);
  }
  void store(OpBuilder &b, Location loc, Value value, ValueRange lead, Value channel) const {
    SmallVector<Value> at = indices(lead, channel);
    if (isa<VectorType>(value.getType()))
      vector::StoreOp::create(b, loc, value, memref, at);
    else
      memref::StoreOp::create(b, loc, value, memref, at);
  }
};

bool hasUnitInnerStride(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.empty() || strides.back() == 1;
}

/// Collapses the channel axes after the `lead` ones. A buffer whose channels
/// are not contiguous (never made by seqc's own lowering, but legal) is
/// copied into a dense one first, and an output copied back after the scan.
ChannelView viewChannels(OpBuilder &b, OpBuilder &after, Location loc, Value buffer,
                         unsigned lead, bool isOutput) {
  auto type = cast<MemRefType>(buffer.getType());
  if (type.getRank() == lead)
    return {buffer, false};
  SmallVector<ReassociationIndices> groups;
  for (unsigned d = 0; d < lead; ++d)
    groups.push_back({d});
  ReassociationIndices channels;
  for (unsigned d = lead; d < type.getRank(); ++d)
    channels.push_back(d);
  groups.push_back(channels);
  if (!memref::CollapseShapeOp::isGuaranteedCollapsible(type, groups) ||
      !hasUnitInnerStride(type)) {
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
    type = denseType;
  }
  if (channels.size() == 1)
    return {buffer, true};
  auto collapsed = memref::CollapseShapeOp::computeCollapsedType(type, groups);
  return {memref::CollapseShapeOp::create(b, loc, collapsed, buffer, groups), true};
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

  /// states[row, t] for t in [begin, end), from `entering` at begin.
  void scanSteps(OpBuilder &b, Value row, Value c0, Value c1, Value begin, Value end,
                 const ChannelView &entering, ValueRange enteringLead) {
    Value nonEmpty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, begin, end);
    auto guard = scf::IfOp::create(b, loc, nonEmpty, /*withElseRegion=*/false);
    OpBuilder inner = OpBuilder::atBlockBegin(guard.thenBlock());
    forChannels(inner, loc, c0, c1, [&](OpBuilder &b, Value c, int64_t width) {
      Value a = coefficients.load(b, loc, {row, begin}, c, width);
      Value h = entering.load(b, loc, enteringLead, c, width);
      Value x = offsets.load(b, loc, {row, begin}, c, width);
      states.store(b, loc, multiplyAdd(b, loc, a, h, x), {row, begin}, c);
    });
    Value one = indexConstant(inner, loc, 1);
    Value second = arith::AddIOp::create(inner, loc, begin, one);
    scf::ForOp::create(
        inner, loc, second, end, one, ValueRange{},
        [&](OpBuilder &b, Location, Value t, ValueRange) {
          Value previous = arith::SubIOp::create(b, loc, t, one);
          forChannels(b, loc, c0, c1, [&](OpBuilder &b, Value c, int64_t width) {
            Value a = coefficients.load(b, loc, {row, t}, c, width);
            Value h = states.load(b, loc, {row, previous}, c, width);
            Value x = offsets.load(b, loc, {row, t}, c, width);
            states.store(b, loc, multiplyAdd(b, loc, a, h, x), {row, t}, c);
          });
          scf::YieldOp::create(b, loc);
        });
  }

  /// The aggregate of steps [begin, end): product[c] = prod a[t, c] and
  /// sum[c] = the scan from zero, in the [B, chunks, C] buffers at `lead`.
  void reduceSteps(OpBuilder &b, Value row, Value c0, Value c1, Value begin, Value end,
                   const ChannelView &product, const ChannelView &sum, ValueRange lead) {
    forChannels(b, loc, c0, c1, [&](OpBuilder &b, Value c, int64_t width) {
      Type f32 = b.getF32Type();
      auto constant = [&](double value) -> Value {
        Value scalar = arith::ConstantOp::create(b, loc, b.getFloatAttr(f32, value));
        if (width == 1)
          return scalar;
        return vector::BroadcastOp::create(b, loc, VectorType::get({width}, f32), scalar);
      };
      product.store(b, loc, constant(1.0), lead, c);
      sum.store(b, loc, constant(0.0), lead, c);
    });
    scf::ForOp::create(
        b, loc, begin, end, indexConstant(b, loc, 1), ValueRange{},
        [&](OpBuilder &b, Location, Value t, ValueRange) {
          forChannels(b, loc, c0, c1, [&](OpBuilder &b, Value c, int64_t width) {
            Value a = coefficients.load(b, loc, {row, t}, c, width);
            Value x = offsets.load(b, loc, {row, t}, c, width);
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
    Type type = value.getType();
    Type f32 = b.getF32Type();
    auto splat = [&](double x) -> Value {
      Value scalar = arith::ConstantOp::create(b, loc, b.getFloatAttr(f32, x));
      if (auto vectorType = dyn_cast<VectorType>(type))
        return vector::BroadcastOp::create(b, loc, vectorType, scalar);
      return scalar;
    };
    Value tiny = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                                       math::AbsFOp::create(b, loc, value),
                                       splat(static_cast<double>(std::numeric_limits<float>::min())));
    return arith::SelectOp::create(b, loc, tiny, splat(0.0), value);
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
    Value last = arith::SubIOp::create(thenBuilder, loc, length, indexConstant(thenBuilder, loc, 1));
    copyChannels(thenBuilder, c0, c1, states, {row, last}, final, {row});
    OpBuilder elseBuilder = OpBuilder::atBlockBegin(choose.elseBlock());
    copyChannels(elseBuilder, c0, c1, init, {row}, final, {row});
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
    if (module.lookupSymbol(kScanPlan))
      return;
    OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
    Type i64 = b.getI64Type();
    auto decl = func::FuncOp::create(b, module.getLoc(), kScanPlan,
                                     b.getFunctionType({i64, i64, i64}, {i64}));
    decl.setPrivate();
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
                      Value()};
    Value batch = memref::DimOp::create(b, loc, op.getCoefficients(), 0);
    Value length = memref::DimOp::create(b, loc, op.getCoefficients(), 1);
    scan.channels = scan.states.hasChannels
                        ? Value(memref::DimOp::create(b, loc, scan.states.memref, 2))
                        : indexConstant(b, loc, 1);
    Value zero = indexConstant(b, loc, 0), one = indexConstant(b, loc, 1);

    // The plan: (channel blocks << 32) | time chunks per row.
    Type i64 = b.getI64Type();
    auto toI64 = [&](Value index) -> Value {
      return arith::IndexCastOp::create(b, loc, i64, index);
    };
    Value plan = func::CallOp::create(b, loc, kScanPlan, TypeRange{i64},
                                      ValueRange{toI64(batch), toI64(length),
                                                 toI64(scan.channels)})
                     .getResult(0);
    auto toIndex = [&](Value value) -> Value {
      return arith::IndexCastOp::create(b, loc, b.getIndexType(), value);
    };
    Value blocks = toIndex(
        arith::ShRUIOp::create(b, loc, plan, arith::ConstantIntOp::create(b, loc, i64, 32)));
    Value chunks = toIndex(
        arith::AndIOp::create(b, loc, plan, arith::ConstantIntOp::create(b, loc, i64, 0xffffffff)));
    // Blocks of whole vectors: ceil(ceil(C / blocks) / 16) * 16 channels.
    Value vector = indexConstant(b, loc, kVectorWidth);
    Value blockWidth = arith::MulIOp::create(
        b, loc,
        arith::CeilDivUIOp::create(b, loc,
                                   arith::CeilDivUIOp::create(b, loc, scan.channels, blocks),
                                   vector),
        vector);
    auto blockRange = [&](OpBuilder &b, Value block) -> std::pair<Value, Value> {
      Value begin = arith::MinUIOp::create(b, loc, arith::MulIOp::create(b, loc, block, blockWidth),
                                           scan.channels);
      Value end = arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, begin, blockWidth),
                                         scan.channels);
      return {begin, end};
    };

    Value split = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, chunks, one);
    auto choice = scf::IfOp::create(b, loc, split, /*withElseRegion=*/true);

    // Rows and channel blocks in parallel, each streaming over all of time.
    {
      OpBuilder eb = OpBuilder::atBlockBegin(choice.elseBlock());
      auto loop = scf::ParallelOp::create(
          eb, loc, ValueRange{zero, zero}, ValueRange{batch, blocks}, ValueRange{one, one},
          [&](OpBuilder &b, Location, ValueRange ivs) {
            auto [c0, c1] = blockRange(b, ivs[1]);
            scan.scanSteps(b, ivs[0], c0, c1, zero, length, scan.init, {ivs[0]});
            scan.writeFinal(b, ivs[0], c0, c1, length);
          });
      markHeavy(loop);
    }

    // Time in `chunks` chunks of w steps after a first chunk of s0 steps,
    // with 3 s0 = 2 w so that phase 1 balances (see seqc_predict):
    // w = ceil(3 T / (3 chunks + 2)).
    OpBuilder tb = OpBuilder::atBlockBegin(choice.thenBlock());
    {
      OpBuilder &b = tb;
      Value three = indexConstant(b, loc, 3);
      Value w = arith::CeilDivUIOp::create(
          b, loc, arith::MulIOp::create(b, loc, length, three),
          arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, chunks, three),
                                indexConstant(b, loc, 2)));
      Value covered = arith::MinUIOp::create(b, loc, arith::MulIOp::create(b, loc, chunks, w),
                                             length);
      Value first = arith::SubIOp::create(b, loc, length, covered);
      auto chunkRange = [&](OpBuilder &b, Value j) -> std::pair<Value, Value> {
        Value begin = arith::MinUIOp::create(
            b, loc, arith::AddIOp::create(b, loc, first, arith::MulIOp::create(b, loc, j, w)),
            length);
        Value end = arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, begin, w),
                                           length);
        return {begin, end};
      };
      auto carriesType = MemRefType::get(
          {ShapedType::kDynamic, ShapedType::kDynamic, ShapedType::kDynamic}, b.getF32Type());
      auto allocate = [&]() -> ChannelView {
        return {memref::AllocOp::create(b, loc, carriesType,
                                        ValueRange{batch, chunks, scan.channels}),
                true};
      };
      ChannelView product = allocate(), sum = allocate(), entering = allocate();

      // Phase 1: the first chunk scanned, the next ones reduced.
      auto phase1 = scf::ParallelOp::create(
          b, loc, ValueRange{zero, zero, zero}, ValueRange{batch, chunks, blocks},
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
                              {row, arith::SubIOp::create(sb, loc, first, one)}, entering,
                              {row, zero});
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
            scf::ForOp::create(
                b, loc, one, chunks, one, ValueRange{},
                [&](OpBuilder &b, Location, Value j, ValueRange) {
                  Value previous = arith::SubIOp::create(b, loc, j, one);
                  forChannels(b, loc, zero, scan.channels,
                              [&](OpBuilder &b, Value c, int64_t width) {
                                Value a = product.load(b, loc, {row, j}, c, width);
                                Value h = entering.load(b, loc, {row, previous}, c, width);
                                Value x = sum.load(b, loc, {row, j}, c, width);
                                entering.store(b, loc, multiplyAdd(b, loc, a, h, x), {row, j}, c);
                              });
                  scf::YieldOp::create(b, loc);
                });
            scf::YieldOp::create(b, loc);
          });

      // Phase 3: every chunk scanned from its entering state.
      auto phase3 = scf::ParallelOp::create(
          b, loc, ValueRange{zero, zero, zero}, ValueRange{batch, chunks, blocks},
          ValueRange{one, one, one}, [&](OpBuilder &b, Location, ValueRange ivs) {
            Value row = ivs[0], j = ivs[1];
            auto [c0, c1] = blockRange(b, ivs[2]);
            auto [begin, end] = chunkRange(b, j);
            scan.scanSteps(b, row, c0, c1, begin, end, entering, {row, j});
          });
      markHeavy(phase3);
      // The final states, once every chunk is written (the last chunks may
      // be empty when T is short, so no one chunk can be trusted with it).
      scf::ForOp::create(b, loc, zero, batch, one, ValueRange{},
                         [&](OpBuilder &b, Location, Value row, ValueRange) {
                           scan.writeFinal(b, row, zero, scan.channels, length);
                           scf::YieldOp::create(b, loc);
                         });
      for (const ChannelView &buffer : {product, sum, entering})
        memref::DeallocOp::create(b, loc, buffer.memref);
    }
    op.erase();
  }
};

} // namespace
