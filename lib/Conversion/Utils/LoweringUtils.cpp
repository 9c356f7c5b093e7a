//===- LoweringUtils.cpp - Helpers shared by the CPU and GPU lowerings ----===//
//
// The out-of-line half of seqc/Conversion/Utils/LoweringUtils.h.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Utils/LoweringUtils.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

using namespace mlir;

func::FuncOp seqc::declareRuntimeFunction(ModuleOp module, StringRef name, FunctionType type) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
  auto function = func::FuncOp::create(top, module.getLoc(), name, type);
  function.setPrivate();
  return function;
}

Value seqc::f32ElementPointer(OpBuilder &b, Location loc, Value memref, ValueRange indices) {
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, memref);
  Value element = metadata.getOffset();
  for (auto [index, stride] : llvm::zip(indices, metadata.getStrides()))
    element = arith::AddIOp::create(b, loc, element, arith::MulIOp::create(b, loc, index, stride));
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
  Value address = arith::AddIOp::create(
      b, loc, base, arith::MulIOp::create(b, loc, element, indexConstant(b, loc, 4)));
  Value address64 = arith::IndexCastUIOp::create(b, loc, b.getI64Type(), address);
  return LLVM::IntToPtrOp::create(b, loc, LLVM::LLVMPointerType::get(b.getContext()), address64);
}
