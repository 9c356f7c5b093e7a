//===- GPUTarget.cpp - PTX kernels for --target nvptx ---------------------===//
//
// The steps of the GPU target between the pipelines (seqc/Compiler/
// Pipelines.h): the kernels that outlining put in one gpu.module each are
// merged into one; once in the NVVM dialect they become PTX through LLVM's
// NVPTX back end (toolchain.md's second route: direct control of the PTX
// version), which a gpu.binary then carries into the host code.
//
//===----------------------------------------------------------------------===//
#include "seqc/Target/GPUTarget.h"

#include "seqc/Target/CPUTarget.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Target/TargetMachine.h"

extern "C" {
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetMC();
void LLVMInitializeNVPTXAsmPrinter();
}

using namespace mlir;

namespace seqc {

namespace {
/// Each architecture --gpu-arch accepts and the PTX ISA version it gets: the
/// first that supports it, so that older drivers load it.
constexpr std::pair<llvm::StringLiteral, llvm::StringLiteral> kGpuArchs[] = {
    {"sm_80", "ptx70"}, {"sm_86", "ptx71"}, {"sm_89", "ptx78"}, {"sm_90", "ptx78"}};
} // namespace

SmallVector<StringRef> supportedGpuArchs() {
  SmallVector<StringRef> archs;
  for (auto [arch, ptx] : kGpuArchs)
    archs.push_back(arch);
  return archs;
}

bool isSupportedGpuArch(StringRef arch) { return !ptxVersionFor(arch).empty(); }

StringRef ptxVersionFor(StringRef arch) {
  for (auto [candidate, ptx] : kGpuArchs)
    if (candidate == arch)
      return ptx;
  return "";
}

/// The name of the one module all kernels end up in.
constexpr llvm::StringLiteral kKernelModule = "seqc_kernels";

/// Outlining makes a gpu.module per kernel; one PTX file wants one module.
/// Moves every kernel (and the helper functions it calls, once) into
/// @seqc_kernels and points the launches at it.
gpu::GPUModuleOp mergeKernelModules(ModuleOp module) {
  SmallVector<gpu::GPUModuleOp> modules(module.getOps<gpu::GPUModuleOp>());
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  MLIRContext *ctx = module.getContext();
  auto merged = gpu::GPUModuleOp::create(b, module.getLoc(), kKernelModule);
  SymbolTable mergedSymbols(merged);
  // Outlining names every kernel after its function, so kernels are renamed
  // after their (unique) module.
  llvm::StringMap<std::string> renamed;
  for (gpu::GPUModuleOp source : modules) {
    for (Operation &op : llvm::make_early_inc_range(source.getBody()->getOperations())) {
      auto symbol = dyn_cast<SymbolOpInterface>(op);
      if (auto kernel = dyn_cast<gpu::GPUFuncOp>(op); kernel && kernel.isKernel()) {
        std::string key = (source.getName() + "::" + kernel.getName()).str();
        renamed[key] = source.getName().str();
        kernel.setName(source.getName());
      } else if (symbol && mergedSymbols.lookup(symbol.getName())) {
        continue; // a helper another kernel brought already
      }
      op.moveBefore(merged.getBody(), merged.getBody()->end());
      if (symbol)
        mergedSymbols.insert(&op);
    }
    source.erase();
  }
  module.walk([&](gpu::LaunchFuncOp launch) {
    std::string key = (launch.getKernelModuleName().getValue() + "::" +
                       launch.getKernelName().getValue())
                          .str();
    launch.setKernelAttr(SymbolRefAttr::get(
        ctx, kKernelModule, {FlatSymbolRefAttr::get(ctx, renamed.lookup(key))}));
  });
  return merged;
}

static llvm::TargetMachine *nvptxTargetMachine(StringRef arch, int optLevel,
                                               std::string &error) {
  static bool initialised = [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
    return true;
  }();
  (void)initialised;
  llvm::Triple triple("nvptx64-nvidia-cuda");
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  llvm::TargetOptions options;
  auto level = optLevel <= 0 ? llvm::CodeGenOptLevel::None : llvm::CodeGenOptLevel::Aggressive;
  return target->createTargetMachine(triple, arch, ("+" + ptxVersionFor(arch)).str(), options,
                                     std::nullopt, std::nullopt, level);
}

/// convert-gpu-to-nvvm turns the math that seqc-approximate-math leaves (floor,
/// sqrt, fabs, ...) into calls of CUDA's libdevice (__nv_floorf, ...). Each
/// of those has an exact PTX instruction, which LLVM's intrinsic selects, so
/// the kernels need neither libdevice nor a CUDA installation to compile.
static LogicalResult defineLibdeviceFunctions(llvm::Module &module, std::string &error) {
  static const llvm::StringMap<llvm::Intrinsic::ID> kIntrinsics = {
      {"__nv_floorf", llvm::Intrinsic::floor},   {"__nv_ceilf", llvm::Intrinsic::ceil},
      {"__nv_fabsf", llvm::Intrinsic::fabs},     {"__nv_sqrtf", llvm::Intrinsic::sqrt},
      {"__nv_truncf", llvm::Intrinsic::trunc},   {"__nv_rintf", llvm::Intrinsic::rint},
      {"__nv_roundf", llvm::Intrinsic::round},   {"__nv_fmaf", llvm::Intrinsic::fma},
      {"__nv_fminf", llvm::Intrinsic::minnum},   {"__nv_fmaxf", llvm::Intrinsic::maxnum},
      {"__nv_copysignf", llvm::Intrinsic::copysign},
  };
  for (llvm::Function &function : module.functions()) {
    if (!function.isDeclaration() || !function.getName().starts_with("__nv_"))
      continue;
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(module.getContext(), "entry", &function));
    SmallVector<llvm::Value *> args;
    for (llvm::Argument &arg : function.args())
      args.push_back(&arg);
    llvm::Value *result = nullptr;
    if (function.getName() == "__nv_rsqrtf") {
      llvm::Value *root = b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, args[0]);
      result = b.CreateFDiv(llvm::ConstantFP::get(root->getType(), 1.0), root);
    } else if (auto found = kIntrinsics.find(function.getName()); found != kIntrinsics.end()) {
      result = b.CreateIntrinsic(found->second, {function.getReturnType()}, args);
    } else {
      error = ("internal error: the kernels call " + function.getName() +
               ", which seqc cannot provide without libdevice")
                  .str();
      return failure();
    }
    b.CreateRet(result);
    function.setLinkage(llvm::GlobalValue::InternalLinkage);
  }
  return success();
}

LogicalResult emitPTX(gpu::GPUModuleOp kernels, StringRef arch, int optLevel,
                             std::string &ptx, std::string &error) {
  MLIRContext *ctx = kernels.getContext();
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  ctx->appendDialectRegistry(registry);

  OwningOpRef<ModuleOp> device = ModuleOp::create(kernels.getLoc());
  IRMapping mapping;
  for (Operation &op : kernels.getBody()->getOperations())
    device->getBody()->push_back(op.clone(mapping));
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = translateModuleToLLVMIR(*device, context, "seqc_kernels");
  if (!module) {
    error = "internal error: the kernels do not translate to LLVM IR";
    return failure();
  }
  if (failed(defineLibdeviceFunctions(*module, error)))
    return failure();
  std::unique_ptr<llvm::TargetMachine> machine(nvptxTargetMachine(arch, optLevel, error));
  if (!machine)
    return failure();
  module->setDataLayout(machine->createDataLayout());
  module->setTargetTriple(machine->getTargetTriple());
  optimiseModule(*module, *machine, optLevel, LLVMPipeline::Default);
  llvm::SmallString<0> text;
  llvm::raw_svector_ostream out(text);
  llvm::legacy::PassManager pm;
  if (machine->addPassesToEmitFile(pm, out, nullptr, llvm::CodeGenFileType::AssemblyFile)) {
    error = "internal error: the NVPTX back end cannot emit PTX";
    return failure();
  }
  pm.run(*module);
  ptx.assign(text.begin(), text.end());
  return success();
}

void replaceKernelsWithBinary(gpu::GPUModuleOp kernels, StringRef arch, int optLevel,
                              StringRef ptx) {
  OpBuilder b(kernels);
  MLIRContext *ctx = kernels.getContext();
  auto target = NVVM::NVVMTargetAttr::get(ctx, /*optLevel=*/optLevel, "nvptx64-nvidia-cuda",
                                          arch, ("+" + ptxVersionFor(arch)).str());
  auto object = gpu::ObjectAttr::get(ctx, target, gpu::CompilationTarget::Assembly,
                                     b.getStringAttr(ptx), DictionaryAttr(), nullptr);
  gpu::BinaryOp::create(b, kernels.getLoc(), kernels.getName(), Attribute(),
                        b.getArrayAttr({object}));
  kernels.erase();
}

} // namespace seqc
