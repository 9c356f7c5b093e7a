//===- ProjectionsToTiles.cpp - Hoisted projections as register-tiled loops ===//
//
// convert-projections-to-tiles: the contractions rec-hoist-matmuls makes,
// y[b, t, h] += sum_d x[b, t, d] * w[d, h] on buffers, become a parallel
// loop over blocks of steps whose body is a register-tiled matmul: a tile of
// 4 steps x 32 channels is held in 8 vector accumulators while d runs, so
// each vector of w loaded feeds 4 FMAs and each x[., d] broadcast feeds 2.
// convert-linalg-to-loops would instead compute one dot product per output,
// reading all of w for every step, on one thread.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "LoweringUtils.h"
#include "RecOps.h"

#include "mlir/IR/Matchers.h"

namespace seqc {
#define GEN_PASS_DEF_CONVERTPROJECTIONSTOTILES
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;
using seqc::hasUnitInnerStride;
using seqc::indexConstant;
using seqc::kVectorWidth;

namespace {

/// Steps and vectors of channels in one register tile (8 accumulators of
/// 16 lanes: half of AVX-512's registers).
constexpr int64_t kTileSteps = 4;
constexpr int64_t kTileVectors = 2;
/// Steps per parallel iteration.
constexpr int64_t kStepsPerBlock = 64;

/// The body yield(addf(out, mulf(in0, in1))).
bool isMultiplyAdd(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 3)
    return false;
  auto mul = dyn_cast<arith::MulFOp>(&body.front());
  auto add = dyn_cast<arith::AddFOp>(mul ? mul->getNextNode() : nullptr);
  if (!mul || !add || body.getTerminator()->getOperand(0) != add.getResult())
    return false;
  Value in0 = body.getArgument(0), in1 = body.getArgument(1), out = body.getArgument(2);
  bool mulOfInputs = (mul.getLhs() == in0 && mul.getRhs() == in1) ||
                     (mul.getLhs() == in1 && mul.getRhs() == in0);
  bool addsOut = (add.getLhs() == out && add.getRhs() == mul.getResult()) ||
                 (add.getRhs() == out && add.getLhs() == mul.getResult());
  return mulOfInputs && addsOut;
}

/// The maps of a projection whose channel axis elementwise fusion has
/// expanded into `channels` axes (a multi-head projection read per head):
/// (b, t, d), (d, h...), (b, t, h...) over (b, t, h..., d); one channel
/// axis is rec-hoist-matmuls' own form.
SmallVector<AffineMap> projectionMaps(MLIRContext *ctx, unsigned channels) {
  unsigned loops = channels + 3;
  AffineExpr reduced = getAffineDimExpr(loops - 1, ctx);
  SmallVector<AffineExpr> heads;
  for (unsigned c = 0; c < channels; ++c)
    heads.push_back(getAffineDimExpr(2 + c, ctx));
  SmallVector<AffineExpr> weights = {reduced}, outputs = {getAffineDimExpr(0, ctx),
                                                          getAffineDimExpr(1, ctx)};
  weights.append(heads);
  outputs.append(heads);
  return {AffineMap::get(loops, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx), reduced},
                         ctx),
          AffineMap::get(loops, 0, weights, ctx), AffineMap::get(loops, 0, outputs, ctx)};
}

/// The contraction of rec-hoist-matmuls: maps (b, t, d), (d, h) -> (b, t, h)
/// over (b, t, h, d) (or h expanded into several axes, in buffers that can
/// be viewed with one again), body out + in0 * in1, f32 buffers with
/// static D and H.
bool isProjection(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumLoops() < 4)
    return false;
  unsigned channels = op.getNumLoops() - 3;
  if (channels == 1 &&
      op.getIndexingMapsArray() != rec::getProjectionIndexingMaps(op.getContext()))
    return false;
  if (op.getIndexingMapsArray() != projectionMaps(op.getContext(), channels))
    return false;
  auto iterators = op.getIteratorTypesArray();
  if (iterators.back() != utils::IteratorType::reduction)
    return false;
  for (Value operand : op->getOperands()) {
    auto type = cast<MemRefType>(operand.getType());
    if (!type.getElementType().isF32() || !hasUnitInnerStride(type))
      return false;
  }
  auto weights = cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto outputs = cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!weights.hasStaticShape())
    return false;
  if (channels > 1 && (!weights.getLayout().isIdentity() || !outputs.getLayout().isIdentity()))
    return false;
  return isMultiplyAdd(op);
}

/// A linalg.fill of 0.0 into `buffer` right before `op`: the tile can start
/// from zero and the fill (a pass over the whole output) can go.
linalg::FillOp zeroFillBefore(Operation *op, Value buffer) {
  auto fill = dyn_cast_or_null<linalg::FillOp>(op->getPrevNode());
  if (!fill || !fill.hasPureBufferSemantics() || fill.getOutputs()[0] != buffer)
    return {};
  FloatAttr value;
  if (!matchPattern(fill.getInputs()[0], m_Constant(&value)) || !value.getValue().isZero())
    return {};
  return fill;
}

struct ProjectionLowering {
  Location loc;
  Value x, w, y; // [B, T, D], [D, H], [B, T, H]
  int64_t depth, width;
  bool fromZero;

  /// y[b, t0 .. t0+steps, h0 .. h0+vectors*lanes] over all d, accumulators
  /// in registers.
  void emitTile(OpBuilder &b, Value row, Value t0, int64_t steps, Value h0, int64_t vectors,
                int64_t lanes) {
    Type f32 = b.getF32Type();
    Type accType = lanes == 1 ? f32 : Type(VectorType::get({lanes}, f32));
    auto step = [&](int64_t i) -> Value {
      return i == 0 ? t0 : Value(arith::AddIOp::create(b, loc, t0, indexConstant(b, loc, i)));
    };
    auto channel = [&](OpBuilder &b, int64_t j) -> Value {
      return j == 0 ? h0
                    : Value(arith::AddIOp::create(b, loc, h0, indexConstant(b, loc, j * lanes)));
    };
    auto load = [&](OpBuilder &b, Value buffer, ValueRange at) -> Value {
      if (lanes == 1)
        return memref::LoadOp::create(b, loc, buffer, at);
      return vector::LoadOp::create(b, loc, cast<VectorType>(accType), buffer, at);
    };
    SmallVector<Value> steps_;
    for (int64_t i = 0; i < steps; ++i)
      steps_.push_back(step(i));
    SmallVector<Value> initial;
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(accType));
    for (int64_t i = 0; i < steps; ++i)
      for (int64_t j = 0; j < vectors; ++j)
        initial.push_back(fromZero ? zero : load(b, y, {row, steps_[i], channel(b, j)}));
    auto loop = scf::ForOp::create(
        b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, depth), indexConstant(b, loc, 1),
        initial, [&](OpBuilder &b, Location, Value d, ValueRange acc) {
          SmallVector<Value> weights;
          for (int64_t j = 0; j < vectors; ++j)
            weights.push_back(load(b, w, {d, channel(b, j)}));
          SmallVector<Value> next;
          for (int64_t i = 0; i < steps; ++i) {
            Value input = memref::LoadOp::create(b, loc, x, ValueRange{row, steps_[i], d});
            if (lanes > 1)
              input = vector::BroadcastOp::create(b, loc, accType, input);
            for (int64_t j = 0; j < vectors; ++j) {
              Value a = acc[i * vectors + j];
              next.push_back(lanes == 1
                                 ? Value(math::FmaOp::create(b, loc, input, weights[j], a))
                                 : Value(vector::FMAOp::create(b, loc, input, weights[j], a)));
            }
          }
          scf::YieldOp::create(b, loc, next);
        });
    for (int64_t i = 0; i < steps; ++i)
      for (int64_t j = 0; j < vectors; ++j) {
        Value value = loop.getResult(i * vectors + j);
        SmallVector<Value> at = {row, steps_[i], channel(b, j)};
        if (lanes == 1)
          memref::StoreOp::create(b, loc, value, y, at);
        else
          vector::StoreOp::create(b, loc, value, y, at);
      }
  }

  /// All channels for `steps` steps from t0: tiles of kTileVectors vectors,
  /// then single vectors, then single lanes (H is static).
  void emitSteps(OpBuilder &b, Value row, Value t0, int64_t steps) {
    int64_t tileWidth = kTileVectors * kVectorWidth;
    int64_t tiled = width / tileWidth * tileWidth;
    int64_t vectored = width / kVectorWidth * kVectorWidth;
    if (tiled > 0)
      scf::ForOp::create(b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, tiled),
                         indexConstant(b, loc, tileWidth), ValueRange{},
                         [&](OpBuilder &b, Location, Value h0, ValueRange) {
                           emitTile(b, row, t0, steps, h0, kTileVectors, kVectorWidth);
                           scf::YieldOp::create(b, loc);
                         });
    for (int64_t h = tiled; h < vectored; h += kVectorWidth)
      emitTile(b, row, t0, steps, indexConstant(b, loc, h), 1, kVectorWidth);
    if (vectored < width)
      scf::ForOp::create(b, loc, indexConstant(b, loc, vectored), indexConstant(b, loc, width),
                         indexConstant(b, loc, 1), ValueRange{},
                         [&](OpBuilder &b, Location, Value h, ValueRange) {
                           emitTile(b, row, t0, steps, h, 1, 1);
                           scf::YieldOp::create(b, loc);
                         });
  }
};

struct ConvertProjectionsToTilesPass
    : seqc::impl::ConvertProjectionsToTilesBase<ConvertProjectionsToTilesPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> projections;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isProjection(op))
        projections.push_back(op);
    });
    for (linalg::GenericOp op : projections)
      lower(op);
  }

  void lower(linalg::GenericOp op) {
    Location loc = op.getLoc();
    OpBuilder b(op);
    Value x = op.getDpsInputs()[0], w = op.getDpsInputs()[1], y = op.getDpsInits()[0];
    linalg::FillOp fill = zeroFillBefore(op, y);
    if (unsigned channels = op.getNumLoops() - 3; channels > 1) {
      // The channel axes as one: the buffers have identity layouts.
      ReassociationIndices heads;
      for (unsigned c = 0; c < channels; ++c)
        heads.push_back(2 + c);
      ReassociationIndices weightHeads;
      for (unsigned c = 0; c < channels; ++c)
        weightHeads.push_back(1 + c);
      w = memref::CollapseShapeOp::create(b, loc, w,
                                          SmallVector<ReassociationIndices>{{0}, weightHeads});
      y = memref::CollapseShapeOp::create(
          b, loc, y, SmallVector<ReassociationIndices>{{0}, {1}, heads});
    }
    auto weights = cast<MemRefType>(w.getType());
    ProjectionLowering lowering{loc, x, w, y, weights.getDimSize(0), weights.getDimSize(1),
                                static_cast<bool>(fill)};
    if (fill)
      fill.erase();
    Value zero = indexConstant(b, loc, 0), one = indexConstant(b, loc, 1);
    Value batch = memref::DimOp::create(b, loc, y, 0);
    Value length = memref::DimOp::create(b, loc, y, 1);
    Value perBlock = indexConstant(b, loc, kStepsPerBlock);
    Value blocks = arith::CeilDivUIOp::create(b, loc, length, perBlock);
    auto loop = scf::ParallelOp::create(
        b, loc, ValueRange{zero, zero}, ValueRange{batch, blocks}, ValueRange{one, one},
        [&](OpBuilder &b, Location, ValueRange ivs) {
          Value row = ivs[0];
          Value begin = arith::MulIOp::create(b, loc, ivs[1], perBlock);
          Value end = arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, begin, perBlock),
                                             length);
          Value tiles = arith::SubIOp::create(b, loc, end, begin);
          Value tileSteps = indexConstant(b, loc, kTileSteps);
          Value tiledEnd = arith::AddIOp::create(
              b, loc, begin,
              arith::MulIOp::create(b, loc, arith::DivUIOp::create(b, loc, tiles, tileSteps),
                                    tileSteps));
          scf::ForOp::create(b, loc, begin, tiledEnd, tileSteps, ValueRange{},
                             [&](OpBuilder &b, Location, Value t0, ValueRange) {
                               lowering.emitSteps(b, row, t0, kTileSteps);
                               scf::YieldOp::create(b, loc);
                             });
          scf::ForOp::create(b, loc, tiledEnd, end, one, ValueRange{},
                             [&](OpBuilder &b, Location, Value t, ValueRange) {
                               lowering.emitSteps(b, row, t, 1);
                               scf::YieldOp::create(b, loc);
                             });
        });
    // Each block is kStepsPerBlock matvecs of D x H: worth a thread when
    // there are a few.
    loop->setAttr(seqc::kIterationCostAttr,
                  b.getI64IntegerAttr(kStepsPerBlock * lowering.depth * lowering.width));
    op.erase();
  }
};

} // namespace
