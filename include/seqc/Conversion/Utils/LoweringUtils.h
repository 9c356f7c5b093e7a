//===- LoweringUtils.h - Helpers shared by the CPU and GPU lowerings ------===//
//
// What the conversions of lib/Conversion (RecToCPU, RecToGPU) share: the
// vector width they emit for, small builders (constants, runtime function
// declarations, element addresses) and the view of a scan's buffers.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CONVERSION_UTILS_LOWERINGUTILS_H
#define SEQC_CONVERSION_UTILS_LOWERINGUTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"

namespace seqc {

/// f32 lanes of the vectors the buffer lowerings emit: an AVX-512 register
/// (LLVM splits it on narrower targets) and one 64-byte cache line.
constexpr int64_t kVectorWidth = 16;

inline mlir::Value indexConstant(mlir::OpBuilder &b, mlir::Location loc, int64_t value) {
  return mlir::arith::ConstantIndexOp::create(b, loc, value);
}

inline mlir::Value f32Constant(mlir::OpBuilder &b, mlir::Location loc, double value) {
  return mlir::arith::ConstantOp::create(b, loc, b.getF32FloatAttr(static_cast<float>(value)));
}

/// An f32 constant, or its splat over `width` lanes when width > 1.
inline mlir::Value f32Splat(mlir::OpBuilder &b, mlir::Location loc, double value,
                            int64_t width) {
  mlir::Type f32 = b.getF32Type();
  mlir::Value scalar = mlir::arith::ConstantOp::create(b, loc, b.getFloatAttr(f32, value));
  if (width == 1)
    return scalar;
  return mlir::vector::BroadcastOp::create(b, loc, mlir::VectorType::get({width}, f32), scalar);
}

/// Whether the innermost axis of `type` is contiguous (vector loads need it).
inline bool hasUnitInnerStride(mlir::MemRefType type) {
  llvm::SmallVector<int64_t> strides;
  int64_t offset;
  if (mlir::failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.empty() || strides.back() == 1;
}

/// A buffer of a scan seen as [B, T, C] (sequences) or [B, C] (states):
/// channel axes collapsed into one, absent for a scalar state. Shared by the
/// CPU and GPU lowerings of rec.linear_scan.
struct ChannelView {
  mlir::Value memref;
  bool hasChannels;

  llvm::SmallVector<mlir::Value> indices(mlir::ValueRange lead, mlir::Value channel) const {
    llvm::SmallVector<mlir::Value> all(lead.begin(), lead.end());
    if (hasChannels)
      all.push_back(channel);
    return all;
  }
  mlir::Value load(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange lead,
                   mlir::Value channel, int64_t width) const {
    llvm::SmallVector<mlir::Value> at = indices(lead, channel);
    if (width == 1)
      return mlir::memref::LoadOp::create(b, loc, memref, at);
    return mlir::vector::LoadOp::create(
        b, loc, mlir::VectorType::get({width}, b.getF32Type()), memref, at);
  }
  void store(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value, mlir::ValueRange lead,
             mlir::Value channel) const {
    llvm::SmallVector<mlir::Value> at = indices(lead, channel);
    if (mlir::isa<mlir::VectorType>(value.getType()))
      mlir::vector::StoreOp::create(b, loc, value, memref, at);
    else
      mlir::memref::StoreOp::create(b, loc, value, memref, at);
  }
};

/// The reassociation that keeps the `lead` axes of a rank-`rank` buffer and
/// merges the rest (its channel axes) into one.
inline llvm::SmallVector<mlir::ReassociationIndices> channelGroups(unsigned rank,
                                                                   unsigned lead) {
  llvm::SmallVector<mlir::ReassociationIndices> groups;
  for (unsigned d = 0; d < lead; ++d)
    groups.push_back({d});
  mlir::ReassociationIndices channels;
  for (unsigned d = lead; d < rank; ++d)
    channels.push_back(d);
  groups.push_back(channels);
  return groups;
}

/// Whether the axes after `lead` can be collapsed without a copy.
inline bool channelsCollapsible(mlir::MemRefType type, unsigned lead) {
  return type.getRank() == lead || mlir::memref::CollapseShapeOp::isGuaranteedCollapsible(
                                       type, channelGroups(type.getRank(), lead));
}

/// `buffer` seen with its axes after `lead` as one (channelsCollapsible
/// must hold).
inline ChannelView collapseChannels(mlir::OpBuilder &b, mlir::Location loc, mlir::Value buffer,
                                    unsigned lead) {
  auto type = mlir::cast<mlir::MemRefType>(buffer.getType());
  if (type.getRank() == lead)
    return {buffer, false};
  if (type.getRank() == lead + 1)
    return {buffer, true};
  auto groups = channelGroups(type.getRank(), lead);
  auto collapsed = mlir::memref::CollapseShapeOp::computeCollapsedType(type, groups);
  return {mlir::memref::CollapseShapeOp::create(b, loc, collapsed, buffer, groups), true};
}

/// The only dealloc of `alloc` when it sits in the alloc's own block and
/// nothing else frees it: the buffer lives within one run of that block (a
/// loop iteration), so one buffer made before the block can serve every run.
/// Null otherwise (no dealloc, several, or one elsewhere: the buffer escapes
/// the iteration, e.g. yielded as the next state).
inline mlir::memref::DeallocOp blockLocalDealloc(mlir::memref::AllocOp alloc) {
  mlir::memref::DeallocOp dealloc;
  for (mlir::Operation *user : alloc->getUsers())
    if (auto candidate = mlir::dyn_cast<mlir::memref::DeallocOp>(user)) {
      if (dealloc || candidate->getBlock() != alloc->getBlock())
        return nullptr;
      dealloc = candidate;
    }
  return dealloc;
}

/// The private declaration of runtime function `name` (seqc_abi.h) in
/// `module`, made on first use.
mlir::func::FuncOp declareRuntimeFunction(mlir::ModuleOp module, llvm::StringRef name,
                                          mlir::FunctionType type);

/// !llvm.ptr to element `indices` of the f32 buffer `memref`: its aligned
/// base plus 4 x (offset + sum of index x stride). For what a memref op will
/// not do: the host's read of a device scalar through the launcher, a
/// reduction kernel's compare-and-swap on its output.
mlir::Value f32ElementPointer(mlir::OpBuilder &b, mlir::Location loc, mlir::Value memref,
                              mlir::ValueRange indices);

} // namespace seqc

#endif // SEQC_CONVERSION_UTILS_LOWERINGUTILS_H
