//===- LaunchToRuntime.cpp - gpu.launch_func to the seqc CUDA launcher ---===//
//
// convert-launch-to-runtime: after gpu-to-llvm the host code is in the
// LLVM dialect except for gpu.launch_func (its operands already LLVM values)
// and the gpu.binary holding the PTX. Each binary becomes a constant string
// and a module slot; each launch a call of
//   seqc_cuda_launch(void **slot, const char *ptx, const char *kernel,
//                    i64 gx, gy, gz, bx, by, bz, i32 sharedBytes,
//                    void **args, i32 numArgs)
// (runtime/cuda/seqc_cuda.cpp). The launcher loads the module on first use
// in each CUDA context and enqueues on the current call's stream; a failure
// ends the call through the guard with a status code. The host's buffers are
// device memory: its allocation calls become the launcher's allocator.
//
//===----------------------------------------------------------------------===//
#include "seqc/Conversion/Passes.h"

#include "seqc/Runtime/seqc_abi.h"

namespace seqc {
#define GEN_PASS_DEF_CONVERTLAUNCHTORUNTIME
#include "seqc/Conversion/Passes.h.inc"
} // namespace seqc

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kLaunch = SEQC_RUNTIME_NAME(seqc_cuda_launch);

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

/// The module-level globals of one gpu.binary: its PTX text and the slot
/// where the launcher caches the loaded module.
struct EmbeddedBinary {
  LLVM::GlobalOp ptx, moduleSlot;
};

/// Replaces every gpu.binary of `module` by its embedded globals.
FailureOr<llvm::StringMap<EmbeddedBinary>> embedBinaries(ModuleOp module) {
  OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
  Location loc = module.getLoc();
  Type ptr = LLVM::LLVMPointerType::get(module.getContext());
  llvm::StringMap<EmbeddedBinary> binaries;
  for (auto binary : llvm::make_early_inc_range(module.getOps<gpu::BinaryOp>())) {
    FailureOr<StringRef> ptx = ptxOf(binary);
    if (failed(ptx))
      return binary.emitError("expected one PTX (assembly) object in the binary");
    std::string name = binary.getSymName().str();
    LLVM::GlobalOp text = stringGlobal(top, loc, name + "_ptx", *ptx);
    auto slot = LLVM::GlobalOp::create(top, loc, ptr, /*isConstant=*/false,
                                       LLVM::Linkage::Internal, name + "_module", Attribute());
    Block *init = top.createBlock(&slot.getInitializerRegion());
    OpBuilder ib = OpBuilder::atBlockBegin(init);
    LLVM::ReturnOp::create(ib, loc, Value(LLVM::ZeroOp::create(ib, loc, ptr)));
    top.setInsertionPointToStart(module.getBody());
    binaries[name] = {text, slot};
    binary.erase();
  }
  return binaries;
}

/// The kernel's operands, each in a field of a struct on the stack, and an
/// array of pointers to the fields (what cuLaunchKernel takes); a null
/// array for none.
Value packKernelArguments(OpBuilder &b, Location loc, ValueRange operands) {
  MLIRContext *ctx = b.getContext();
  Type ptr = LLVM::LLVMPointerType::get(ctx), i64 = b.getI64Type();
  if (operands.empty())
    return LLVM::ZeroOp::create(b, loc, ptr);
  SmallVector<Type> fieldTypes;
  for (Value operand : operands)
    fieldTypes.push_back(operand.getType());
  auto structType = LLVM::LLVMStructType::getLiteral(ctx, fieldTypes);
  Value fields = LLVM::AllocaOp::create(b, loc, ptr, structType,
                                        LLVM::ConstantOp::create(b, loc, i64, 1));
  Value array = LLVM::AllocaOp::create(b, loc, ptr, ptr,
                                       LLVM::ConstantOp::create(b, loc, i64, operands.size()));
  for (auto [index, operand] : llvm::enumerate(operands)) {
    Value field = LLVM::GEPOp::create(b, loc, ptr, structType, fields,
                                      ArrayRef<LLVM::GEPArg>{0, int32_t(index)});
    LLVM::StoreOp::create(b, loc, operand, field);
    Value entry =
        LLVM::GEPOp::create(b, loc, ptr, ptr, array, ArrayRef<LLVM::GEPArg>{int32_t(index)});
    LLVM::StoreOp::create(b, loc, field, entry);
  }
  return array;
}

/// `launch` as a call of seqc_cuda_launch with the binary's globals and the
/// kernel's name (`kernelName`, a C string global).
void lowerLaunch(gpu::LaunchFuncOp launch, const EmbeddedBinary &binary,
                 LLVM::GlobalOp kernelName) {
  OpBuilder b(launch);
  Location loc = launch.getLoc();
  Type i64 = b.getI64Type(), i32 = b.getI32Type();
  auto address = [&](LLVM::GlobalOp global) -> Value {
    return LLVM::AddressOfOp::create(b, loc, global);
  };
  ValueRange operands = launch.getKernelOperands();
  Value count = LLVM::ConstantOp::create(b, loc, i32, operands.size());
  Value array = packKernelArguments(b, loc, operands);
  auto toI64 = [&](Value v) -> Value {
    if (v.getType() == i64)
      return v;
    return LLVM::ZExtOp::create(b, loc, i64, v);
  };
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
  Value sharedBytes = launch.getDynamicSharedMemorySize();
  if (!sharedBytes)
    sharedBytes = LLVM::ConstantOp::create(b, loc, i32, 0);
  LLVM::CallOp::create(b, loc, TypeRange{}, kLaunch,
                       ValueRange{address(binary.moduleSlot), address(binary.ptx),
                                  address(kernelName), toI64(grid.x), toI64(grid.y),
                                  toI64(grid.z), toI64(block.x), toI64(block.y), toI64(block.z),
                                  sharedBytes, array, count});
  launch.erase();
}

/// Every f32 buffer of the host code is device memory: the calls of
/// upstream's generic allocation functions
/// (finalize-memref-to-llvm{use-generic-functions}) become calls of the
/// launcher's stream-ordered device allocator, which has the same types.
void useDeviceAllocator(ModuleOp module) {
  static constexpr std::pair<llvm::StringLiteral, llvm::StringLiteral> kAllocator[] = {
      {SEQC_RUNTIME_NAME(_mlir_memref_to_llvm_alloc), SEQC_RUNTIME_NAME(seqc_cuda_alloc)},
      {SEQC_RUNTIME_NAME(_mlir_memref_to_llvm_free), SEQC_RUNTIME_NAME(seqc_cuda_free)}};
  for (auto [generic, device] : kAllocator) {
    auto declaration = module.lookupSymbol<LLVM::LLVMFuncOp>(generic);
    if (!declaration)
      continue;
    OpBuilder b(declaration);
    auto replacement = module.lookupSymbol<LLVM::LLVMFuncOp>(device);
    if (!replacement)
      replacement = LLVM::LLVMFuncOp::create(b, declaration.getLoc(), device,
                                             declaration.getFunctionType());
    module.walk([&](LLVM::CallOp call) {
      if (call.getCallee() == generic)
        call.setCallee(device);
    });
    declaration.erase();
  }
}

struct ConvertLaunchToRuntimePass
    : seqc::impl::ConvertLaunchToRuntimeBase<ConvertLaunchToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    FailureOr<llvm::StringMap<EmbeddedBinary>> binaries = embedBinaries(module);
    if (failed(binaries))
      return signalPassFailure();
    OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
    Type ptr = LLVM::LLVMPointerType::get(ctx), i64 = top.getI64Type(), i32 = top.getI32Type();
    if (!module.lookupSymbol(kLaunch))
      LLVM::LLVMFuncOp::create(
          top, module.getLoc(), kLaunch,
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                      {ptr, ptr, ptr, i64, i64, i64, i64, i64, i64, i32, ptr, i32}));

    llvm::StringMap<LLVM::GlobalOp> kernelNames;
    WalkResult result = module.walk([&](gpu::LaunchFuncOp launch) {
      StringRef binaryName = launch.getKernelModuleName().getValue();
      StringRef kernelName = launch.getKernelName().getValue();
      auto found = binaries->find(binaryName);
      if (found == binaries->end()) {
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
        name = stringGlobal(top, module.getLoc(), key, kernelName);
      }
      lowerLaunch(launch, found->second, name);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    useDeviceAllocator(module);
  }
};

} // namespace
