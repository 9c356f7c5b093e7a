//===- Compiler.cpp - From checked models to kernels ----------------------===//
//
// One Compilation per call of compileModels: it owns the MLIR context and
// the module, runs the phases in order (rec IR, forms, expansion,
// bufferization, loops, the LLVM dialect, LLVM IR, LLVM's optimisation,
// code generation; for the GPU the kernels' PTX between them) and stops at
// the --emit level asked for. Each phase is one pass manager, timed on its
// own.
//
//===----------------------------------------------------------------------===//
#include "seqc/Compiler/Compiler.h"

#include "RecOps.h"
#include "seqc/Compiler/FormPlan.h"
#include "seqc/Compiler/Pipelines.h"
#include "seqc/Frontend/MLIRGen.h"
#include "seqc/Target/CPUTarget.h"
#include "seqc/Target/GPUTarget.h"
#include "seqc/Target/Header.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace seqc;

//===----------------------------------------------------------------------===//
// PhaseTimer
//===----------------------------------------------------------------------===//

PhaseTimer::Scope::Scope(PhaseTimer *timer, llvm::StringRef name) : timer(timer) {
  if (!timer)
    return;
  auto &phases = timer->phases;
  auto found = llvm::find_if(phases, [&](const Phase &phase) { return phase.name == name; });
  index = found - phases.begin();
  if (found == phases.end())
    phases.push_back({name.str(), 0.0, /*isDetail=*/false});
  start = std::chrono::steady_clock::now();
}

PhaseTimer::Scope::~Scope() {
  if (!timer)
    return;
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  timer->phases[index].seconds += elapsed.count();
}

void PhaseTimer::detail(llvm::StringRef name, double seconds) {
  if (enabled)
    phases.push_back({name.str(), seconds, /*isDetail=*/true});
}

void PhaseTimer::print(llvm::raw_ostream &os) const {
  if (!enabled)
    return;
  double total = 0;
  for (const Phase &phase : phases) {
    os << llvm::format("seqc: phase %-50s %8.3f s\n", phase.name.c_str(), phase.seconds);
    if (!phase.isDetail)
      total += phase.seconds;
  }
  os << llvm::format("seqc: phase %-50s %8.3f s\n", "(total)", total);
}

//===----------------------------------------------------------------------===//
// Compilation
//===----------------------------------------------------------------------===//

namespace {

/// Every dialect and interface the pipelines touch.
DialectRegistry seqcRegistry() {
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registry.insert<rec::RecDialect>();
  return registry;
}

class Compilation {
public:
  Compilation(ArrayRef<const Model *> models, llvm::SourceMgr &sourceMgr,
              const CompileOptions &options, PhaseTimer &timer)
      : models(models), sourceMgr(sourceMgr), options(options), timer(timer),
        context(seqcRegistry()), handler(sourceMgr, &context) {
    context.loadAllAvailableDialects();
    // A diagnostic points at the model's source; a dump of the IR it was
    // emitted on (MLIR's default) means nothing to the model's author.
    context.printOpOnDiagnostic(false);
  }

  FailureOr<CompiledOutput> run();

private:
  LogicalResult generateRec();
  LogicalResult applyForms();
  LogicalResult lowerForCPU();
  LogicalResult lowerForGPU(std::string &ptx);
  LogicalResult emitHostCode();

  /// Runs the passes `build` adds on the module, timed as `phase`.
  LogicalResult runPhase(llvm::StringRef phase, llvm::function_ref<void(OpPassManager &)> build);
  void configure(PassManager &pm) const;
  /// The error of a lowering that failed on valid forms: seqc's bug.
  LogicalResult internalLoweringError(llvm::StringRef detail = "");

  ArrayRef<const Model *> models;
  llvm::SourceMgr &sourceMgr;
  const CompileOptions &options;
  PhaseTimer &timer;
  MLIRContext context;
  SourceMgrDiagnosticHandler handler;
  OwningOpRef<ModuleOp> ir;
  CompiledOutput output;
};

LogicalResult Compilation::runPhase(llvm::StringRef phase,
                                    llvm::function_ref<void(OpPassManager &)> build) {
  auto scope = timer.phase(phase);
  PassManager pm(&context);
  configure(pm);
  build(pm);
  if (failed(pm.run(*ir)))
    return failure();
  return options.verifyEachPass ? success() : verify(*ir);
}

void Compilation::configure(PassManager &pm) const {
  // Verifying after every pass is a third of the lowering's time; the IR
  // is verified after each phase instead, after every pass when the test
  // suite asks for it.
  pm.enableVerifier(options.verifyEachPass);
}

LogicalResult Compilation::internalLoweringError(llvm::StringRef detail) {
  if (!detail.empty())
    llvm::errs() << "seqc: error: " << detail << "\n";
  llvm::errs() << options.inputName
               << ": error: internal error: lowering failed (please report this with the "
                  "model)\n";
  return failure();
}

LogicalResult Compilation::generateRec() {
  auto scope = timer.phase("rec IR (MLIRGen)");
  ir = mlirGen(context, models, sourceMgr, options.inputName);
  if (succeeded(verify(*ir)))
    return success();
  llvm::errs() << options.inputName
               << ": error: internal error: the generated rec IR does not verify (please "
                  "report this with the model)\n";
  return failure();
}

LogicalResult Compilation::applyForms() {
  FailureOr<FormPlan> plan = [&]() -> FailureOr<FormPlan> {
    auto scope = timer.phase("forms: plan");
    return planForms(*ir, options.forms, [&](llvm::function_ref<void(OpPassManager &)> build) {
      PassManager pm(&context);
      configure(pm);
      build(pm);
      return pm.run(*ir);
    });
  }();
  if (failed(plan))
    return failure();
  if (options.verbose)
    printFormPlan(*plan, llvm::errs(), "seqc: ");
  if (failed(runPhase("forms: rewrite",
                      [&](OpPassManager &pm) { buildFormPipeline(pm, options.forms); })))
    return failure();
  if (options.emit == EmitKind::Forms) {
    llvm::raw_string_ostream os(output.text);
    printFormPlan(*plan, os, "// ");
    ir->print(os);
  }
  return success();
}

LogicalResult Compilation::lowerForCPU() {
  if (failed(runPhase("expansion", buildExpansionPipeline)) ||
      failed(runPhase("bufferization", [](OpPassManager &pm) {
        buildBufferizationPipeline(pm, TargetKind::Cpu);
      })) ||
      failed(runPhase("loops", [](OpPassManager &pm) {
        buildCPULoopPipeline(pm, hostVectorBits());
      })) ||
      failed(runPhase("LLVM dialect", buildCPUToLLVMPipeline)))
    return internalLoweringError();
  return success();
}

LogicalResult Compilation::lowerForGPU(std::string &ptx) {
  if (failed(runPhase("expansion", buildExpansionPipeline)) ||
      failed(runPhase("bufferization", [](OpPassManager &pm) {
        buildBufferizationPipeline(pm, TargetKind::Nvptx);
      })) ||
      failed(runPhase("kernels", buildGPUKernelOutliningPipeline)))
    return internalLoweringError();
  gpu::GPUModuleOp kernels = mergeKernelModules(*ir);
  // The kernels go to PTX from a copy: the host pipeline must not see them.
  {
    auto scope = timer.phase("kernels: NVVM and PTX");
    OwningOpRef<ModuleOp> device = ModuleOp::create(ir->getLoc());
    device->getBody()->push_back(kernels->clone());
    PassManager pm(&context);
    configure(pm);
    buildGPUDevicePipeline(pm);
    if (failed(pm.run(*device)) || failed(verify(*device)))
      return internalLoweringError();
    std::string error;
    auto lowered = *device->getOps<gpu::GPUModuleOp>().begin();
    if (failed(emitPTX(lowered, options.gpuArch, options.optLevel, ptx, error)))
      return internalLoweringError(error);
  }
  replaceKernelsWithBinary(kernels, options.gpuArch, options.optLevel, ptx);
  if (failed(runPhase("LLVM dialect (host)", buildGPUHostPipeline)))
    return internalLoweringError();
  return success();
}

LogicalResult Compilation::emitHostCode() {
  std::string error;
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> module;
  {
    auto scope = timer.phase("LLVM IR");
    module = translateToLLVMIR(*ir, llvmContext,
                               options.target == TargetKind::Nvptx ? HostCode::CudaLauncher
                                                                   : HostCode::CpuKernel,
                               error);
  }
  if (!module) {
    llvm::errs() << "seqc: error: " << error << "\n";
    return failure();
  }
  if (options.emit == EmitKind::Llvm) {
    auto scope = timer.phase("LLVM optimisation");
    if (!optimiseHostModule(*module, options.optLevel, error)) {
      llvm::errs() << "seqc: error: " << error << "\n";
      return failure();
    }
    llvm::raw_string_ostream os(output.text);
    module->print(os, nullptr);
    return success();
  }
  HostCodeGenStats stats;
  bool compiled;
  {
    auto scope = timer.phase("LLVM optimisation and code generation");
    compiled = compileHostModule(*module, options.optLevel, options.emit == EmitKind::Asm,
                                 options.threads, output.binary, error, &stats);
  }
  timer.detail("  optimisation, thread time (" + std::to_string(stats.partitions) +
                   " partitions)",
               stats.optimiseSeconds);
  timer.detail("  code generation, thread time", stats.codegenSeconds);
  if (stats.assembleSeconds > 0)
    timer.detail("  assembling the partitions", stats.assembleSeconds);
  if (!compiled) {
    llvm::errs() << "seqc: error: " << error << "\n";
    return failure();
  }
  output.isBinary = options.emit == EmitKind::Obj;
  if (!output.isBinary)
    output.text.assign(output.binary.begin(), output.binary.end());
  return success();
}

FailureOr<CompiledOutput> Compilation::run() {
  EmitKind emit = options.emit;
  if (emit == EmitKind::Ast) {
    llvm::raw_string_ostream os(output.text);
    printModels(std::vector<const Model *>(models.begin(), models.end()), os);
    return std::move(output);
  }
  if (failed(generateRec()))
    return failure();
  if (emit != EmitKind::Rec && options.backward) {
    if (failed(runPhase("backward: derive", buildBackwardPipeline)))
      return failure();
    for (auto model : ir->getOps<rec::ModelOp>())
      if (auto why = model->getAttrOfType<StringAttr>("rec.no_backward"))
        output.noBackward += (model.getSymName() + ": " + why.getValue() + "\n").str();
  }
  if (emit == EmitKind::Rec || emit == EmitKind::Header) {
    llvm::raw_string_ostream os(output.text);
    if (emit == EmitKind::Rec)
      ir->print(os);
    else
      emitHeader(*ir, llvm::sys::path::stem(options.inputName),
                 options.target == TargetKind::Nvptx ? HeaderKind::CudaKernels
                                                     : HeaderKind::CpuKernels,
                 os);
    return std::move(output);
  }
  if (failed(applyForms()))
    return failure();
  if (emit == EmitKind::Forms)
    return std::move(output);
  std::string ptx;
  if (failed(options.target == TargetKind::Nvptx ? lowerForGPU(ptx) : lowerForCPU()))
    return failure();
  if (emit == EmitKind::Ptx || emit == EmitKind::Lowered) {
    llvm::raw_string_ostream os(output.text);
    if (emit == EmitKind::Ptx)
      os << ptx;
    else
      ir->print(os);
    return std::move(output);
  }
  if (failed(emitHostCode()))
    return failure();
  return std::move(output);
}

} // namespace

FailureOr<CompiledOutput> seqc::compileModels(ArrayRef<const Model *> models,
                                              llvm::SourceMgr &sourceMgr,
                                              const CompileOptions &options, PhaseTimer &timer) {
  std::optional<Compilation> compilation;
  {
    auto scope = timer.phase("MLIR context");
    compilation.emplace(models, sourceMgr, options, timer);
  }
  return compilation->run();
}
