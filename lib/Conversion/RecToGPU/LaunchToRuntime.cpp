//===- LaunchToRuntime.cpp - gpu.launch_func to the seqc CUDA launcher ---===//
//
// convert-launch-to-seqc-runtime: after gpu-to-llvm the host code is in the
// LLVM dialect except for gpu.launch_func (its operands already LLVM values)
// and the gpu.binary holding the PTX. Each binary becomes a constant string
// and a module slot; each launch a call of
//   seqc_cuda_launch(void **slot, const char *ptx, const char *kernel,
//                    i64 gx, gy, gz, bx, by, bz, i32 sharedBytes,
//                    void **args, i32 numArgs)
// (runtime/cuda/seqc_cuda.cpp). The launcher loads the module on first use
// in each CUDA context and enqueues on the current call's stream; a failure
// ends the call through the guard with a status code.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

namespace seqc {
#define GEN_PASS_DEF_CONVERTLAUNCHTORUNTIME
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kLaunch = "seqc_cuda_launch";

/// The PTX text of `binary`'s only object.
FailureOr<StringRef> ptxOf(gpu::BinaryOp binary) {
  ArrayAttr objects = binary.getObjects();
  if (objects.size() != 1)
    return failure();
  auto object = dyn_cast<gpu::ObjectAttr>(objects[0]);
  if (!object || object.getFormat() != gpu::CompilationTarget::Assembly)
    return failure();
  return object.getObject().getValue();
}

/// A private constant C string at module level.
LLVM::GlobalOp stringGlobal(OpBuilder &b, Location loc, StringRef name, StringRef text) {
  std::string data = text.str();
  data.push_back('\0');
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), data.size());
  return LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true, LLVM::Linkage::Internal, name,
                                b.getStringAttr(data));
}

struct ConvertLaunchToRuntimePass
    : seqc::impl::ConvertLaunchToRuntimeBase<ConvertLaunchToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
    Location loc = module.getLoc();
    Type ptr = LLVM::LLVMPointerType::get(ctx), i64 = top.getI64Type(), i32 = top.getI32Type();

    // Per binary: its PTX and the slot where the launcher caches the module.
    llvm::StringMap<std::pair<LLVM::GlobalOp, LLVM::GlobalOp>> binaries;
    for (auto binary : llvm::make_early_inc_range(module.getOps<gpu::BinaryOp>())) {
      FailureOr<StringRef> ptx = ptxOf(binary);
      if (failed(ptx)) {
        binary.emitError("expected one PTX (assembly) object in the binary");
        return signalPassFailure();
      }
      std::string name = binary.getSymName().str();
      LLVM::GlobalOp text = stringGlobal(top, loc, name + "_ptx", *ptx);
      auto slot = LLVM::GlobalOp::create(top, loc, ptr, /*isConstant=*/false,
                                         LLVM::Linkage::Internal, name + "_module",
                                         Attribute());
      {
        Block *init = top.createBlock(&slot.getInitializerRegion());
        OpBuilder ib = OpBuilder::atBlockBegin(init);
        LLVM::ReturnOp::create(ib, loc, Value(LLVM::ZeroOp::create(ib, loc, ptr)));
      }
      top.setInsertionPointToStart(module.getBody());
      binaries[name] = {text, slot};
      binary.erase();
    }
    if (!module.lookupSymbol(kLaunch))
      LLVM::LLVMFuncOp::create(
          top, loc, kLaunch,
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                      {ptr, ptr, ptr, i64, i64, i64, i64, i64, i64, i32, ptr, i32}));

    llvm::StringMap<LLVM::GlobalOp> kernelNames;
    WalkResult result = module.walk([&](gpu::LaunchFuncOp launch) {
      StringRef binaryName = launch.getKernelModuleName().getValue();
      StringRef kernelName = launch.getKernelName().getValue();
      auto found = binaries.find(binaryName);
      if (found == binaries.end()) {
        launch.emitError("no PTX binary named '") << binaryName << "'";
        return WalkResult::interrupt();
      }
      for (Value operand : launch.getKernelOperands())
        if (!LLVM::isCompatibleType(operand.getType())) {
          launch.emitError("run gpu-to-llvm first: a kernel operand is not an LLVM value");
          return WalkResult::interrupt();
        }
      std::string key = (binaryName + "_" + kernelName + "_name").str();
      LLVM::GlobalOp &name = kernelNames[key];
      if (!name) {
        OpBuilder::InsertionGuard guard(top);
        top.setInsertionPointToStart(module.getBody());
        name = stringGlobal(top, loc, key, kernelName);
      }

      OpBuilder b(launch);
      Location at = launch.getLoc();
      auto address = [&](LLVM::GlobalOp global) -> Value {
        return LLVM::AddressOfOp::create(b, at, global);
      };
      // Arguments: each in a field of a struct on the stack, and an array of
      // pointers to the fields (what cuLaunchKernel takes).
      ValueRange operands = launch.getKernelOperands();
      SmallVector<Type> fieldTypes;
      for (Value operand : operands)
        fieldTypes.push_back(operand.getType());
      Value one = LLVM::ConstantOp::create(b, at, i64, 1);
      Value count = LLVM::ConstantOp::create(b, at, i32, operands.size());
      Value array = LLVM::ZeroOp::create(b, at, ptr);
      if (!operands.empty()) {
        auto structType = LLVM::LLVMStructType::getLiteral(ctx, fieldTypes);
        Value fields = LLVM::AllocaOp::create(b, at, ptr, structType, one);
        array = LLVM::AllocaOp::create(b, at, ptr, ptr,
                                       LLVM::ConstantOp::create(b, at, i64, operands.size()));
        for (auto [index, operand] : llvm::enumerate(operands)) {
          Value field = LLVM::GEPOp::create(b, at, ptr, structType, fields,
                                            ArrayRef<LLVM::GEPArg>{0, int32_t(index)});
          LLVM::StoreOp::create(b, at, operand, field);
          Value entry = LLVM::GEPOp::create(b, at, ptr, ptr, array,
                                            ArrayRef<LLVM::GEPArg>{int32_t(index)});
          LLVM::StoreOp::create(b, at, field, entry);
        }
      }
      auto toI64 = [&](Value v) -> Value {
        if (v.getType() == i64)
          return v;
        return LLVM::ZExtOp::create(b, at, i64, v);
      };
      gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
      gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
      Value sharedBytes = launch.getDynamicSharedMemorySize();
      if (!sharedBytes)
        sharedBytes = LLVM::ConstantOp::create(b, at, i32, 0);
      LLVM::CallOp::create(
          b, at, TypeRange{}, kLaunch,
          ValueRange{address(found->second.second), address(found->second.first), address(name),
                     toI64(grid.x), toI64(grid.y), toI64(grid.z), toI64(block.x),
                     toI64(block.y), toI64(block.z), sharedBytes, array, count});
      launch.erase();
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
