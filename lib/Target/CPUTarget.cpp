//===- CPUTarget.cpp - Host code: LLVM IR, optimisation, machine code -----===//
//
// From the LLVM dialect to an object file for the host CPU. The module gets
// the runtime's bitcode (every CPU kernel carries its own internal copy),
// internal linkage for all but the entry points, reassociable floating
// point, LLVM's optimisation pipeline and the host's code generator (the
// kernels are built like -march=native). The host side of GPU kernels takes
// the same path without the runtime: it calls the CUDA launcher.
//
//===----------------------------------------------------------------------===//
#include "seqc/Target/CPUTarget.h"

#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Operator.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Linker/Linker.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/IPO/MergeFunctions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include "SeqcRuntimeBitcode.inc"

using namespace mlir;

namespace seqc {

int64_t hostVectorBits() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  auto has = [&](llvm::StringRef name) { return features.lookup(name); };
  if (has("avx512f"))
    return 512;
  if (has("avx"))
    return 256;
  return 128;
}

llvm::TargetMachine *createHostTargetMachine(int optLevel, std::string &error) {
  static bool initialised = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialised;
  llvm::Triple triple(llvm::sys::getProcessTriple());
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  llvm::SubtargetFeatures features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures())
    features.AddFeature(feature.first(), feature.second);
  llvm::TargetOptions options;
  auto level = optLevel <= 0   ? llvm::CodeGenOptLevel::None
               : optLevel == 1 ? llvm::CodeGenOptLevel::Less
               : optLevel == 2 ? llvm::CodeGenOptLevel::Default
                               : llvm::CodeGenOptLevel::Aggressive;
  return target->createTargetMachine(triple, llvm::sys::getHostCPUName(),
                                     features.getString(), options, llvm::Reloc::PIC_,
                                     std::nullopt, level);
}

/// Lets LLVM reassociate and contract the kernels' floating-point arithmetic:
/// without it a sum over a vector (every matvec, every reduction) stays a
/// serial chain of scalar adds, and a * h + b stays two roundings instead of
/// an FMA. Changing the order of a sum changes the result by a few ulp, as it
/// does in every BLAS and ML compiler; the tolerance of language.md section 6
/// is far above that. NaN and infinity keep their meaning (no nnan/ninf).
static void allowReassociation(llvm::Module &module) {
  for (llvm::Function &function : module)
    for (llvm::Instruction &instruction : llvm::instructions(function))
      if (llvm::isa<llvm::FPMathOperator>(instruction)) {
        llvm::FastMathFlags flags = instruction.getFastMathFlags();
        flags.setAllowReassoc();
        flags.setAllowContract();
        instruction.setFastMathFlags(flags);
      }
}

void optimiseModule(llvm::Module &module, llvm::TargetMachine &machine, int optLevel,
                    LLVMPipeline pipeline) {
  if (optLevel <= 0)
    return;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  // Generated kernels are loops whose hot bodies seqc has already tiled and
  // vectorised, or that LLVM's vectoriser handles better rolled: unrolling
  // them (fully, for every static trip count) doubled the code, the time to
  // compile it, and made the sequential forms and Mamba's stream up to two
  // times slower (docs/benchmarks.md, "LLVM pipeline").
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = pipeline != LLVMPipeline::GeneratedKernels;
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  auto level = optLevel == 1   ? llvm::OptimizationLevel::O1
               : optLevel == 2 ? llvm::OptimizationLevel::O2
                               : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager passes;
  // The forms repeat code (a recurrence kept as the fallback of a parallel
  // form, projections of the same shape): outlined loop bodies that are the
  // same are merged before anything optimises them twice.
  if (pipeline == LLVMPipeline::GeneratedKernels)
    passes.addPass(llvm::MergeFunctionsPass());
  passes.addPass(builder.buildPerModuleDefaultPipeline(level));
  passes.run(module, mam);
}

std::unique_ptr<llvm::Module> translateToLLVMIR(ModuleOp module, llvm::LLVMContext &context,
                                                HostCode kind, std::string &error) {
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(module, context);
  if (!llvmModule) {
    error = "internal error: translation to LLVM IR failed";
    return nullptr;
  }
  std::unique_ptr<llvm::TargetMachine> machine(createHostTargetMachine(/*optLevel=*/3, error));
  if (!machine)
    return nullptr;
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());
  if (kind == HostCode::CudaLauncher) {
    // The launcher library (libseqc_cuda) defines what the host code calls.
    auto isEntryPoint = [](llvm::StringRef name) {
      return name.ends_with("_forward_cuda") || name.ends_with("_forward_tape_cuda") ||
             name.ends_with("_backward_cuda") || name.ends_with("_tape_bytes_cuda");
    };
    for (llvm::Function &function : llvmModule->functions())
      if (!function.isDeclaration() && !isEntryPoint(function.getName()))
        function.setLinkage(llvm::GlobalValue::InternalLinkage);
    llvmModule->setPICLevel(llvm::PICLevel::BigPIC);
    return llvmModule;
  }
  auto runtime = llvm::parseBitcodeFile(
      llvm::MemoryBufferRef(
          llvm::StringRef(reinterpret_cast<const char *>(kSeqcRuntimeBitcode),
                          kSeqcRuntimeBitcodeSize),
          "seqc_runtime.bc"),
      context);
  if (!runtime) {
    error = "internal error: cannot read the runtime bitcode: " +
            llvm::toString(runtime.takeError());
    return nullptr;
  }
  (*runtime)->setDataLayout(machine->createDataLayout());
  (*runtime)->setTargetTriple(machine->getTargetTriple());
  // Before linking: the linker merges the runtime's "PIC Level" (a minimum)
  // with this one; set after, it would be a second, conflicting flag.
  llvmModule->setPICLevel(llvm::PICLevel::BigPIC);
  if (llvm::Linker::linkModules(*llvmModule, std::move(*runtime))) {
    error = "internal error: cannot link the runtime";
    return nullptr;
  }
  // Two seqc objects must link together: only the entry points are global.
  auto isEntryPoint = [](llvm::StringRef name) {
    return name.ends_with("_forward") || name.ends_with("_forward_tape") ||
           name.ends_with("_backward") || name.ends_with("_tape_bytes");
  };
  for (llvm::Function &function : llvmModule->functions())
    if (!function.isDeclaration() && !isEntryPoint(function.getName()))
      function.setLinkage(llvm::GlobalValue::InternalLinkage);
  // llvm.global_dtors (the runtime's cache release) keeps its appending
  // linkage.
  for (llvm::GlobalVariable &global : llvmModule->globals())
    if (!global.isDeclaration() && !global.getName().starts_with("llvm."))
      global.setLinkage(llvm::GlobalValue::InternalLinkage);
  allowReassociation(*llvmModule);
  return llvmModule;
}

bool optimiseHostModule(llvm::Module &module, int optLevel, std::string &error) {
  std::unique_ptr<llvm::TargetMachine> machine(createHostTargetMachine(optLevel, error));
  if (!machine)
    return false;
  optimiseModule(module, *machine, optLevel, LLVMPipeline::GeneratedKernels);
  return true;
}

bool emitMachineCode(llvm::Module &module, llvm::raw_pwrite_stream &out, bool assembly,
                     int optLevel, std::string &error) {
  std::unique_ptr<llvm::TargetMachine> machine(createHostTargetMachine(optLevel, error));
  if (!machine)
    return false;
  llvm::legacy::PassManager pm;
  if (machine->addPassesToEmitFile(pm, out, nullptr,
                                   assembly ? llvm::CodeGenFileType::AssemblyFile
                                            : llvm::CodeGenFileType::ObjectFile)) {
    error = "internal error: the target cannot emit this file type";
    return false;
  }
  pm.run(module);
  return true;
}

} // namespace seqc
