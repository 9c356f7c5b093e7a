//===- TileContractions.cpp - f32 contractions as register-tiled loops -===//
//
// seqc-tile-contractions: a contraction on buffers,
//   C[.., m, .., n] += sum_r A[.., m, .., r, ..] * B[.., r, .., n],
// becomes loops around a register tile of 6 rows of m x 2 vectors of n:
// the 12 accumulators stay in registers while r runs, so each vector of B
// loaded feeds 6 FMAs and each element of A broadcast feeds 2. That is the
// AVX2 micro-kernel shape of BLIS and OpenBLAS (12 accumulators, 2 vectors
// of B and a broadcast fill 16 registers); a 4 x 2 tile of 16-lane vectors
// in the first version split into 16 AVX2 accumulators and spilled.
// The hoisted projections (m = steps, n = channels, r = model width), the
// matmuls inside a chunk of the chunked form and the backward's weight
// gradients (m, n the weight's axes, r time, summed over batch rows around
// the tiles) are such contractions.
// convert-linalg-to-loops would compute one output at a time instead, its
// sum over r through memory or across vector lanes.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "seqc/Conversion/Utils/LoweringUtils.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"

namespace seqc {
#define GEN_PASS_DEF_TILECONTRACTIONS
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;
using seqc::hasUnitInnerStride;
using seqc::indexConstant;

namespace {

/// Rows of m and vectors of n in one register tile.
constexpr int64_t kTileRows = 6;
constexpr int64_t kTileVectors = 2;
/// Rows per parallel iteration of a contraction not already inside a
/// parallel loop: whole tiles.
constexpr int64_t kRowsPerBlock = 10 * kTileRows;
/// Steps of r per pass of the tiles when r is one of several reductions:
/// 256 steps of a weight gradient's two factors (for 128 + 64 channels,
/// 192 KiB) stay in L2.
constexpr int64_t kReducedBlock = 256;

/// The body yield(addf(out, mulf(in0, in1))).
bool isMultiplyAdd(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 3)
    return false;
  auto mul = dyn_cast<arith::MulFOp>(&body.front());
  auto add = dyn_cast_if_present<arith::AddFOp>(mul ? mul->getNextNode() : nullptr);
  if (!mul || !add || body.getTerminator()->getOperand(0) != add.getResult())
    return false;
  Value in0 = body.getArgument(0), in1 = body.getArgument(1), out = body.getArgument(2);
  bool mulOfInputs = (mul.getLhs() == in0 && mul.getRhs() == in1) ||
                     (mul.getLhs() == in1 && mul.getRhs() == in0);
  bool addsOut = (add.getLhs() == out && add.getRhs() == mul.getResult()) ||
                 (add.getRhs() == out && add.getLhs() == mul.getResult());
  return mulOfInputs && addsOut;
}

/// What each loop of a contraction is to the tile.
struct TileRoles {
  /// Input operand numbers: A, read one element at a time and broadcast,
  /// and B, read as vectors along n.
  unsigned broadcast, vectors;
  /// n: the innermost axis of the output and of B; A does not have it.
  unsigned columns;
  /// m: a loop of A and the output that B does not have (the innermost such
  /// in the output's order); none for a matvec.
  std::optional<unsigned> rows;
  /// r, the reduction the tile runs over; the others (a weight gradient's
  /// sum over batch rows, when r is time) are loops around the tiles, each
  /// tile adding its sum into the output.
  unsigned reduced;
  SmallVector<unsigned> outerReduced;
  /// The output's other loops, in its order.
  SmallVector<unsigned> outer;
};

std::optional<TileRoles> tileRoles(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !isMultiplyAdd(op))
    return std::nullopt;
  for (Value operand : op->getOperands()) {
    auto type = dyn_cast<MemRefType>(operand.getType());
    if (!type || !type.getElementType().isF32() || type.getRank() == 0)
      return std::nullopt;
  }
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!llvm::all_of(maps, [](AffineMap map) { return map.isProjectedPermutation(); }))
    return std::nullopt;
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  if (reductions.empty())
    return std::nullopt;
  TileRoles roles;
  roles.reduced = reductions.back();
  roles.outerReduced.assign(reductions.begin(), reductions.end() - 1);
  AffineMap out = maps[2];
  if (out.getNumResults() != op.getNumParallelLoops() ||
      llvm::any_of(reductions, [&](unsigned loop) { return out.isFunctionOfDim(loop); }))
    return std::nullopt;
  roles.columns = out.getDimPosition(out.getNumResults() - 1);
  auto innermostIsColumns = [&](AffineMap map) {
    return map.getNumResults() > 0 &&
           map.getDimPosition(map.getNumResults() - 1) == roles.columns;
  };
  if (innermostIsColumns(maps[1]) && !maps[0].isFunctionOfDim(roles.columns)) {
    roles.broadcast = 0;
    roles.vectors = 1;
  } else if (innermostIsColumns(maps[0]) && !maps[1].isFunctionOfDim(roles.columns)) {
    roles.broadcast = 1;
    roles.vectors = 0;
  } else {
    return std::nullopt;
  }
  auto vectorType = cast<MemRefType>(op->getOperand(roles.vectors).getType());
  auto outType = cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!hasUnitInnerStride(vectorType) || !hasUnitInnerStride(outType) ||
      outType.isDynamicDim(outType.getRank() - 1))
    return std::nullopt;
  for (unsigned i = out.getNumResults() - 1; i-- > 0 && !roles.rows;) {
    unsigned loop = out.getDimPosition(i);
    if (maps[roles.broadcast].isFunctionOfDim(loop) && !maps[roles.vectors].isFunctionOfDim(loop))
      roles.rows = loop;
  }
  for (unsigned i = 0; i + 1 < out.getNumResults(); ++i)
    if (out.getDimPosition(i) != roles.rows)
      roles.outer.push_back(out.getDimPosition(i));
  return roles;
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

struct TileLowering {
  Location loc;
  TileRoles roles;
  Value broadcast, vectors, out;
  AffineMap broadcastMap, vectorsMap, outMap;
  /// Every loop's size; the static size of n; f32 lanes of a register.
  SmallVector<Value> sizes;
  int64_t columns, lanes;
  bool fromZero;
  /// The part of r the tiles being emitted sum over (all of it unless set).
  Value reducedBegin, reducedEnd;

  /// The indices of an operand with `map` when the loops have `values`.
  static SmallVector<Value> at(AffineMap map, ArrayRef<Value> values) {
    SmallVector<Value> indices;
    for (unsigned i = 0; i < map.getNumResults(); ++i)
      indices.push_back(values[map.getDimPosition(i)]);
    return indices;
  }

  /// out[rows from row0, columns column0 .. column0 + count * width) summed
  /// over all r in count * rows accumulators of `width` lanes; `loops`
  /// holds the outer loops' values.
  void emitTile(OpBuilder &b, SmallVector<Value> loops, Value row0, int64_t rows, Value column0,
                int64_t count, int64_t width) {
    Type f32 = b.getF32Type();
    Type accType = width == 1 ? f32 : Type(VectorType::get({width}, f32));
    auto offset = [&](Value base, int64_t by) -> Value {
      return by == 0 ? base
                     : b.createOrFold<arith::AddIOp>(loc, base, indexConstant(b, loc, by));
    };
    SmallVector<Value> rowValues, columnValues;
    for (int64_t i = 0; i < rows; ++i)
      rowValues.push_back(roles.rows ? offset(row0, i) : Value());
    for (int64_t j = 0; j < count; ++j)
      columnValues.push_back(offset(column0, j * width));
    // The loop values at tile element (i, j).
    auto place = [&](SmallVector<Value> values, int64_t i, int64_t j) {
      if (roles.rows)
        values[*roles.rows] = rowValues[i];
      values[roles.columns] = columnValues[j];
      return values;
    };
    auto loadOf = [&](OpBuilder &b, Value buffer, ArrayRef<Value> indices) -> Value {
      if (width == 1)
        return memref::LoadOp::create(b, loc, buffer, indices);
      return vector::LoadOp::create(b, loc, cast<VectorType>(accType), buffer, indices);
    };
    SmallVector<Value> initial;
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(accType));
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < count; ++j)
        initial.push_back(fromZero ? zero : loadOf(b, out, at(outMap, place(loops, i, j))));
    auto loop = scf::ForOp::create(
        b, loc, reducedBegin ? reducedBegin : indexConstant(b, loc, 0),
        reducedEnd ? reducedEnd : sizes[roles.reduced], indexConstant(b, loc, 1), initial,
        [&](OpBuilder &b, Location, Value r, ValueRange acc) {
          SmallVector<Value> inner = loops;
          inner[roles.reduced] = r;
          SmallVector<Value> weights;
          for (int64_t j = 0; j < count; ++j)
            weights.push_back(loadOf(b, vectors, at(vectorsMap, place(inner, 0, j))));
          SmallVector<Value> next;
          for (int64_t i = 0; i < rows; ++i) {
            Value element =
                memref::LoadOp::create(b, loc, broadcast, at(broadcastMap, place(inner, i, 0)));
            if (width > 1)
              element = vector::BroadcastOp::create(b, loc, accType, element);
            for (int64_t j = 0; j < count; ++j) {
              Value a = acc[i * count + j];
              next.push_back(width == 1
                                 ? Value(math::FmaOp::create(b, loc, element, weights[j], a))
                                 : Value(vector::FMAOp::create(b, loc, element, weights[j], a)));
            }
          }
          scf::YieldOp::create(b, loc, next);
        });
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < count; ++j) {
        Value value = loop.getResult(i * count + j);
        SmallVector<Value> indices = at(outMap, place(loops, i, j));
        if (width == 1)
          memref::StoreOp::create(b, loc, value, out, indices);
        else
          vector::StoreOp::create(b, loc, value, out, indices);
      }
  }

  /// All of n for `rows` rows from row0: tiles of kTileVectors vectors,
  /// then single vectors, then single lanes (n is static).
  void emitColumns(OpBuilder &b, ArrayRef<Value> loops, Value row0, int64_t rows) {
    SmallVector<Value> values(loops);
    int64_t tileWidth = kTileVectors * lanes;
    int64_t tiled = columns / tileWidth * tileWidth;
    int64_t vectored = columns / lanes * lanes;
    if (tiled > 0)
      scf::ForOp::create(b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, tiled),
                         indexConstant(b, loc, tileWidth), ValueRange{},
                         [&](OpBuilder &b, Location, Value column0, ValueRange) {
                           emitTile(b, values, row0, rows, column0, kTileVectors, lanes);
                           scf::YieldOp::create(b, loc);
                         });
    for (int64_t column = tiled; column < vectored; column += lanes)
      emitTile(b, values, row0, rows, indexConstant(b, loc, column), 1, lanes);
    if (vectored < columns)
      scf::ForOp::create(b, loc, indexConstant(b, loc, vectored), indexConstant(b, loc, columns),
                         indexConstant(b, loc, 1), ValueRange{},
                         [&](OpBuilder &b, Location, Value column, ValueRange) {
                           emitTile(b, values, row0, rows, column, 1, 1);
                           scf::YieldOp::create(b, loc);
                         });
  }

  /// emitRows inside the loops of the reductions other than r. There r is
  /// long (time) and the tiles each add into the output anyway: they run
  /// over kReducedBlock steps of r at a time, which the tiles of a thread's
  /// rows then read from its L2 rather than each from memory.
  void emitRowsOverOuterReductions(OpBuilder &b, SmallVector<Value> &loops, Value begin,
                                   Value end, std::optional<int64_t> count, unsigned depth = 0) {
    if (roles.outerReduced.empty())
      return emitRows(b, loops, begin, end, count);
    if (depth == roles.outerReduced.size()) {
      Value block = indexConstant(b, loc, kReducedBlock);
      Value length = sizes[roles.reduced];
      scf::ForOp::create(b, loc, indexConstant(b, loc, 0), length, block, ValueRange{},
                         [&](OpBuilder &b, Location, Value r0, ValueRange) {
                           reducedBegin = r0;
                           reducedEnd = arith::MinUIOp::create(
                               b, loc, arith::AddIOp::create(b, loc, r0, block), length);
                           emitRows(b, loops, begin, end, count);
                           reducedBegin = reducedEnd = Value();
                           scf::YieldOp::create(b, loc);
                         });
      return;
    }
    unsigned loop = roles.outerReduced[depth];
    scf::ForOp::create(b, loc, indexConstant(b, loc, 0), sizes[loop], indexConstant(b, loc, 1),
                       ValueRange{}, [&](OpBuilder &b, Location, Value iv, ValueRange) {
                         loops[loop] = iv;
                         emitRowsOverOuterReductions(b, loops, begin, end, count, depth + 1);
                         scf::YieldOp::create(b, loc);
                       });
  }

  /// Rows [begin, end) of m: tiles of kTileRows rows, then the rest as one
  /// tile when `count` (end - begin) is static, else one row at a time.
  void emitRows(OpBuilder &b, ArrayRef<Value> loops, Value begin, Value end,
                std::optional<int64_t> count) {
    if (!roles.rows)
      return emitColumns(b, loops, Value(), 1);
    Value tileRows = indexConstant(b, loc, kTileRows);
    Value tiledEnd;
    if (count)
      tiledEnd = b.createOrFold<arith::AddIOp>(
          loc, begin, indexConstant(b, loc, *count / kTileRows * kTileRows));
    else
      tiledEnd = arith::AddIOp::create(
          b, loc, begin,
          arith::MulIOp::create(
              b, loc,
              arith::DivUIOp::create(b, loc, arith::SubIOp::create(b, loc, end, begin), tileRows),
              tileRows));
    SmallVector<Value> values(loops);
    if (!count || *count >= kTileRows)
      scf::ForOp::create(b, loc, begin, tiledEnd, tileRows, ValueRange{},
                         [&](OpBuilder &b, Location, Value row0, ValueRange) {
                           emitColumns(b, values, row0, kTileRows);
                           scf::YieldOp::create(b, loc);
                         });
    if (count) {
      if (*count % kTileRows)
        emitColumns(b, values, tiledEnd, *count % kTileRows);
      return;
    }
    scf::ForOp::create(b, loc, tiledEnd, end, indexConstant(b, loc, 1), ValueRange{},
                       [&](OpBuilder &b, Location, Value row, ValueRange) {
                         emitColumns(b, values, row, 1);
                         scf::YieldOp::create(b, loc);
                       });
  }
};

struct TileContractionsPass
    : seqc::impl::TileContractionsBase<TileContractionsPass> {
  using TileContractionsBase::TileContractionsBase;

  void runOnOperation() override {
    if (vectorBits < 32 || vectorBits % 32) {
      getOperation().emitError() << "seqc-tile-contractions: vector-bits must be a "
                                    "positive multiple of 32, not "
                                 << static_cast<int64_t>(vectorBits);
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::GenericOp, TileRoles>> contractions;
    getOperation().walk([&](linalg::GenericOp op) {
      if (std::optional<TileRoles> roles = tileRoles(op))
        contractions.push_back({op, *roles});
    });
    for (auto &[op, roles] : contractions)
      lower(op, roles);
  }

  void lower(linalg::GenericOp op, const TileRoles &roles) {
    Location loc = op.getLoc();
    OpBuilder b(op);
    Value out = op.getDpsInits()[0];
    // With reductions around the tiles, each tile adds to the output: the
    // zero fill stays.
    linalg::FillOp fill = roles.outerReduced.empty() ? zeroFillBefore(op, out) : nullptr;
    SmallVector<Value> sizes;
    for (Range range : cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc))
      sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, range.size));
    SmallVector<int64_t> staticSizes = cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges();
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    auto outType = cast<MemRefType>(out.getType());
    TileLowering lowering{loc,
                          roles,
                          op->getOperand(roles.broadcast),
                          op->getOperand(roles.vectors),
                          out,
                          maps[roles.broadcast],
                          maps[roles.vectors],
                          maps[2],
                          sizes,
                          outType.getDimSize(outType.getRank() - 1),
                          vectorBits / 32,
                          static_cast<bool>(fill),
                          Value(),
                          Value()};
    if (fill)
      fill.erase();

    auto staticSize = [&](unsigned loop) -> std::optional<int64_t> {
      if (ShapedType::isDynamic(staticSizes[loop]))
        return std::nullopt;
      return staticSizes[loop];
    };
    Value zero = indexConstant(b, loc, 0), one = indexConstant(b, loc, 1);
    SmallVector<Value> loops(op.getNumLoops());
    bool nested = op->getParentOfType<scf::ForallOp>() || op->getParentOfType<scf::ParallelOp>();
    if (nested || (roles.outer.empty() && !roles.rows)) {
      // Already on one thread of a parallel loop: the outer loops in order.
      std::function<void(OpBuilder &, unsigned)> emitOuter = [&](OpBuilder &b, unsigned depth) {
        if (depth == roles.outer.size()) {
          Value rows = roles.rows ? sizes[*roles.rows] : Value();
          lowering.emitRowsOverOuterReductions(b, loops, zero, rows,
                                               roles.rows ? staticSize(*roles.rows) : 1);
          return;
        }
        unsigned loop = roles.outer[depth];
        scf::ForOp::create(b, loc, zero, sizes[loop], one, ValueRange{},
                           [&](OpBuilder &b, Location, Value iv, ValueRange) {
                             loops[loop] = iv;
                             emitOuter(b, depth + 1);
                             scf::YieldOp::create(b, loc);
                           });
      };
      emitOuter(b, 0);
      op.erase();
      return;
    }
    // The outer loops and blocks of kRowsPerBlock rows in parallel.
    SmallVector<Value> upper;
    for (unsigned loop : roles.outer)
      upper.push_back(sizes[loop]);
    Value perBlock = indexConstant(b, loc, kRowsPerBlock);
    if (roles.rows)
      upper.push_back(arith::CeilDivUIOp::create(b, loc, sizes[*roles.rows], perBlock));
    auto parallel = scf::ParallelOp::create(
        b, loc, SmallVector<Value>(upper.size(), zero), upper,
        SmallVector<Value>(upper.size(), one), [&](OpBuilder &b, Location, ValueRange ivs) {
          for (auto [loop, iv] : llvm::zip(roles.outer, ivs))
            loops[loop] = iv;
          if (!roles.rows)
            return lowering.emitRowsOverOuterReductions(b, loops, zero, Value(), 1);
          Value begin = arith::MulIOp::create(b, loc, ivs.back(), perBlock);
          Value end = arith::MinUIOp::create(
              b, loc, arith::AddIOp::create(b, loc, begin, perBlock), sizes[*roles.rows]);
          lowering.emitRowsOverOuterReductions(b, loops, begin, end, std::nullopt);
        });
    // An iteration is a block of rows x all of n x all of r: worth a thread
    // when there are a few.
    if (std::optional<int64_t> depth = staticSize(roles.reduced))
      parallel->setAttr(seqc::kIterationCostAttr,
                        b.getI64IntegerAttr((roles.rows ? kRowsPerBlock : 1) *
                                            lowering.columns * *depth));
    op.erase();
  }
};

} // namespace
