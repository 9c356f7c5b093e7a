//===- CPUTarget.cpp - From rec models to forms, LLVM IR, objects, headers ===//
//
// The pipeline after the front end. The forms are seqc's own passes; from
// there on the lowering is upstream's (bufferization, loops, the LLVM
// conversions) with two passes of ours: convert-rec-to-cpu before and
// convert-parallel-to-runtime in the middle. The LLVM module then gets the
// runtime's bitcode, internal linkage for all but the entry points, and the
// O3 pipeline for the host CPU (the kernels are built like -march=native).
//
//===----------------------------------------------------------------------===//
#include "seqc/Target/CPUTarget.h"

#include "Passes.h"
#include "RecOps.h"
#include "seqc/Analysis/AttentionAnalysis.h"
#include "seqc/Analysis/MatrixStateAnalysis.h"
#include "seqc/Analysis/RecurrenceAnalysis.h"
#include "seqc/Analysis/StepJacobian.h"
#include "seqc/Conversion/Passes.h"

#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Linker/Linker.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Operator.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include "SeqcRuntimeBitcode.inc"

using namespace mlir;

namespace seqc {

static void registerPipelinePasses() {
  static bool registered = [] {
    registerAllPasses();
    rec::registerRecPasses();
    registerSeqcConversionPasses();
    return true;
  }();
  (void)registered;
}

LogicalResult runPipeline(ModuleOp module, StringRef pipeline) {
  registerPipelinePasses();
  PassManager pm(module.getContext());
  std::string error;
  llvm::raw_string_ostream errorStream(error);
  if (failed(parsePassPipeline(pipeline, pm, errorStream))) {
    module.emitError() << "internal error: bad pipeline: " << error;
    return failure();
  }
  return pm.run(module);
}

/// The largest dense Jacobian (in state elements a side) the Newton form
/// solves: each step's solve is an N x N matrix-vector product, and the
/// Jacobian costs N derivative evaluations of the step.
constexpr int64_t kMaxDenseJacobian = 256;

/// Under --form auto, where the Newton form applies, a call runs it only for
/// sequences at least this long and with at least this many threads per
/// batch row; otherwise sequentially. The iteration does several times the
/// sequential loop's work (docs/benchmarks.md: 3 to 30 times the
/// sequential time on 2 threads at B = 1), so it pays only where the
/// sequential loop, parallel over batch rows alone, leaves most threads
/// idle (docs/design.md explains the rule).
constexpr int64_t kAutoNewtonMinLength = 4096;
constexpr int64_t kAutoNewtonThreadsPerRow = 32;
/// On the GPU the sequential form runs one thread per batch row through all
/// T steps, a few microseconds a step for a cell of 128 channels, while a
/// Newton iteration is about ten kernel launches of a few microseconds
/// each: by T = 256 the sequential loop costs as much as five iterations.
/// The threads per row are counted against the device's resident threads
/// (SMs x threads per SM). An estimate, not yet measured on a GPU.
constexpr int64_t kAutoNewtonMinLengthGPU = 256;

namespace {
std::string formName(Form form) {
  switch (form) {
  case Form::Auto:
    return "auto";
  case Form::Sequential:
    return "sequential";
  case Form::Scan:
    return "scan";
  case Form::Chunk:
    return "chunk";
  case Form::Newton:
    return "newton";
  }
  return "";
}

/// Whether, and why (not), a recurrence takes the Newton form.
struct NewtonDecision {
  bool applies = false;
  std::string why;
};

NewtonDecision decideNewton(rec::RecurrenceOp op, const RecurrenceAnalysis &analysis,
                            const FormOptions &options) {
  Form form = options.form;
  NewtonDecision decision;
  if (analysis.hasImplicitState()) {
    decision.why = "its step holds attention, whose key/value history no Jacobian covers";
    return decision;
  }
  JacobianInfo info = analyseStepJacobian(op.getBody(), op.getNumStates());
  if (!info.differentiable) {
    decision.why = info.whyNot;
    return decision;
  }
  if (info.structure == rec::JacobianStructure::Dense && info.numElements > kMaxDenseJacobian) {
    decision.why = "its Jacobian is dense with " + std::to_string(info.numElements) +
                   " state elements a side; the Newton form solves dense Jacobians of at most " +
                   std::to_string(kMaxDenseJacobian);
    return decision;
  }
  if (form == Form::Auto && info.structure == rec::JacobianStructure::Dense) {
    decision.why = "its Jacobian is " + info.describe() +
                   ": each Newton step would cost more than the sequential loop "
                   "(--form newton forces it)";
    return decision;
  }
  decision.applies = true;
  decision.why = "Jacobian " + info.describe();
  return decision;
}
} // namespace

LogicalResult applyForms(ModuleOp module, const FormOptions &options,
                         std::vector<FormReport> &report, std::string &error) {
  Form form = options.form;
  // Step-invariant work leaves the step first, so that the analysis sees
  // only what varies with the step.
  if (failed(runPipeline(module, "rec.model(rec-hoist-invariants)")))
    return failure();
  std::string iterationNote =
      std::string(options.newtonQuasi ? "; its diagonal only (quasi-DEER)" : "") +
      "; sequential when not converged after " + std::to_string(options.newtonMaxIters) +
      " iterations";
  int64_t autoMinLength = options.gpu ? kAutoNewtonMinLengthGPU : kAutoNewtonMinLength;
  // --form auto takes every attention it can out of its step first (the
  // chunked kernel does the sequential loop's work, tiled and in parallel:
  // docs/benchmarks.md); what is left of each cell is then decided as any
  // other.
  if (form == Form::Auto) {
    for (auto model : module.getOps<rec::ModelOp>())
      model.walk([&](rec::AttentionOp attention) {
        AttentionMatch match = matchAttention(attention);
        if (match.matched)
          report.push_back({model.getSymName().str(), "(attention history)", "chunk",
                            match.describe(attention, options.chunkSize)});
      });
    if (failed(runPipeline(module, "rec-to-chunked{chunk-size=" +
                                       std::to_string(options.chunkSize) +
                                       " attention-only}")))
      return failure();
  }
  // One analysis per recurrence, read for both the decision and the report.
  for (auto model : module.getOps<rec::ModelOp>()) {
    bool failedHere = false;
    model.walk([&](rec::RecurrenceOp op) {
      RecurrenceAnalysis analysis(op, /*chunkedAttentionIsInput=*/form == Form::Chunk);
      bool scannable = analysis.isScannable();
      bool scan = (form == Form::Scan || form == Form::Auto) && scannable;
      bool streamed = false;
      if (scan && form == Form::Auto)
        for (unsigned i = 0; i < op.getNumStates(); ++i)
          streamed |= analysis.scanCoefficientsExpand(i);
      scan &= !streamed;
      bool hasWork = op.getNumStates() > 0 || analysis.hasImplicitState();
      if (form == Form::Scan && !scannable && !failedHere && hasWork) {
        model.emitError() << "model '" << model.getSymName()
                          << "' cannot take the scan form: " << analysis.whyNotScannable();
        failedHere = true;
      }
      // --form chunk: the matrix states the chunkwise form takes; the rest
      // of the cell is scanned where it can be once they have left. --form
      // auto takes them too on the CPU, where its rule accepts the cell
      // (chunks sized to the heads, for calls of at least 8 chunks:
      // docs/benchmarks.md measures it against the sequential form).
      bool autoChunk = form == Form::Auto && !options.gpu && autoChunksMatrixStates(op);
      bool chunking = form == Form::Chunk || autoChunk;
      SmallVector<MatrixStateMatch, 2> chunked;
      unsigned chunkedAttentions = 0;
      bool restScannable = true;
      std::string whyNotChunked;
      if (chunking) {
        for (unsigned i = 0; i < op.getNumStates(); ++i) {
          MatrixStateMatch match = matchMatrixState(op, i);
          if (match.matched) {
            chunked.push_back(match);
            continue;
          }
          whyNotChunked += (whyNotChunked.empty() ? "" : "; ") + ("state '" +
                           analysis.getStates()[i].name + "': " + match.whyNot);
          restScannable &= analysis.getStates()[i].kind == StateKind::ElementwiseAffine;
        }
        for (auto attention : op.getBody().getOps<rec::AttentionOp>()) {
          AttentionMatch match = matchAttention(attention);
          if (match.matched) {
            ++chunkedAttentions;
            continue;
          }
          restScannable = false;
          whyNotChunked += (whyNotChunked.empty() ? "" : "; ") + match.whyNot;
        }
        if (form == Form::Chunk && chunked.empty() && chunkedAttentions == 0 && hasWork &&
            !failedHere) {
          std::string why = whyNotChunked;
          model.emitError() << "model '" << model.getSymName()
                            << "' cannot take the chunk form: " << why;
          failedHere = true;
        }
      }
      NewtonDecision newton;
      if ((form == Form::Newton || (form == Form::Auto && !scannable)) && hasWork)
        newton = decideNewton(op, analysis, options);
      if (form == Form::Newton && !newton.applies && !failedHere && hasWork) {
        model.emitError() << "model '" << model.getSymName()
                          << "' cannot take the Newton form: " << newton.why;
        failedHere = true;
      }
      for (auto [index, state] : llvm::enumerate(analysis.getStates())) {
        FormReport entry{model.getSymName().str(), state.name, "sequential", ""};
        unsigned stateIndex = index;
        auto chunkedState = llvm::find_if(
            chunked, [&](const MatrixStateMatch &match) { return match.state == stateIndex; });
        if (chunking && chunkedState != chunked.end()) {
          entry.form = "chunk";
          int64_t size =
              autoChunk ? autoChunkSize(op, *chunkedState, options.chunkSize) : options.chunkSize;
          entry.why = chunkedState->describe() + ", in chunks of " + std::to_string(size) +
                      " steps" +
                      (autoChunk ? " for calls with T >= " +
                                       std::to_string(kAutoChunkMinChunks * size) +
                                       " (sequential otherwise)"
                                 : "") +
                      (chunkedState->decayKind == ChunkDecay::None
                           ? ""
                           : "; sequential for a call with a negative decay");
        } else if (chunking) {
          bool scanned = restScannable && state.kind == StateKind::ElementwiseAffine;
          entry.form = scanned ? "scan" : "sequential";
          entry.why = std::string("not a matrix state: ") +
                      matchMatrixState(op, index).whyNot +
                      (scanned ? "; affine in itself with an elementwise coefficient" : "");
        } else if (scan) {
          entry.form = "scan";
          entry.why = "affine in itself with an elementwise coefficient";
        } else if (newton.applies && form == Form::Newton) {
          entry.form = "newton";
          entry.why = newton.why + iterationNote;
        } else if (newton.applies) {
          entry.form = "newton";
          entry.why = newton.why + "; for T >= " + std::to_string(autoMinLength) +
                      " with at least " + std::to_string(kAutoNewtonThreadsPerRow) +
                      (options.gpu ? " resident GPU threads" : " threads") +
                      " per batch row, sequential otherwise" + iterationNote;
        } else if (form == Form::Sequential) {
          entry.why = "--form sequential";
        } else if (streamed) {
          entry.why = "scannable, but its coefficients would be broadcasts of smaller step "
                      "data; streaming over time reads less memory (--form scan forces it)";
        } else if (!scannable) {
          entry.why = analysis.whyNotScannable();
          if (!newton.why.empty())
            entry.why += "; no Newton form: " + newton.why;
        }
        report.push_back(entry);
      }
      // The attention left in the step (under --form auto, what it could
      // not take out).
      for (auto attention : op.getBody().getOps<rec::AttentionOp>()) {
        AttentionMatch match = matchAttention(attention);
        if (form == Form::Chunk && match.matched)
          report.push_back({model.getSymName().str(), "(attention history)", "chunk",
                            match.describe(attention, options.chunkSize)});
        else
          report.push_back({model.getSymName().str(), "(attention history)", "sequential",
                            match.matched ? "--form " + formName(form) +
                                                " runs attention step by step (--form chunk "
                                                "and auto chunk it)"
                                          : match.whyNot});
      }
    });
    if (failedHere)
      return failure();
  }
  std::string pipeline = "rec.model(";
  if (form == Form::Chunk)
    pipeline = "rec-to-chunked{chunk-size=" + std::to_string(options.chunkSize) +
               "},rec.model(canonicalize,cse,rec-to-scan{streaming-when-expanding},";
  else if (form == Form::Scan)
    pipeline += "rec-to-scan,";
  else if (form == Form::Auto && !options.gpu)
    pipeline = "rec-to-chunked{chunk-size=" + std::to_string(options.chunkSize) +
               " auto-rule},rec.model(canonicalize,cse,rec-to-scan{streaming-when-expanding},";
  else if (form == Form::Auto)
    pipeline += "rec-to-scan{streaming-when-expanding},";
  pipeline += "rec-hoist,rec-hoist-matmuls,";
  if (form == Form::Newton || form == Form::Auto) {
    std::string tol = llvm::formatv("{0:e}", options.newtonTol).str();
    pipeline += "rec-to-newton{max-iters=" + std::to_string(options.newtonMaxIters) +
                " tol=" + tol + " guess=" + options.newtonGuess +
                " max-dense=" + std::to_string(kMaxDenseJacobian);
    if (options.newtonQuasi)
      pipeline += " quasi";
    if (form == Form::Auto)
      pipeline += " skip-scannable structured-only min-length=" +
                  std::to_string(autoMinLength) +
                  " min-threads-per-row=" + std::to_string(kAutoNewtonThreadsPerRow);
    pipeline += "},";
  }
  pipeline += "canonicalize,cse)";
  return runPipeline(module, pipeline);
}

/// Bits of the host's vector registers, for the register tiles of
/// convert-contractions-to-tiles (the kernels are built for the host).
static int64_t hostVectorBits() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  auto has = [&](llvm::StringRef name) { return features.lookup(name); };
  if (has("avx512f"))
    return 512;
  if (has("avx"))
    return 256;
  return 128;
}

LogicalResult lowerToLLVMDialect(ModuleOp module) {
  // Elementwise ops become linalg and fuse before bufferization; the forall
  // loops become scf.parallel for the runtime after it; memref copies that
  // are not contiguous become loops (linalg.copy) instead of calls to
  // MLIR's C runner utilities, which a user's program does not link.
  return runPipeline(
      module,
      "rec-expand-newton,rec-expand-chunked,canonicalize,cse,convert-rec-to-cpu,canonicalize,"
      "func.func(convert-elementwise-to-linalg,seqc-fuse-elementwise),"
      "eliminate-empty-tensors,"
      "one-shot-bufferize{allow-return-allocs-from-loops},canonicalize,cse,"
      "buffer-deallocation-pipeline,canonicalize,convert-linear-scan-to-loops,"
      "convert-contractions-to-tiles{vector-bits=" +
          std::to_string(hostVectorBits()) +
          "},"
      "scf-forall-to-parallel,convert-parallel-to-runtime,"
      "convert-strided-copies-to-loops,func.func(convert-linalg-to-loops,approximate-math),"
      "expand-strided-metadata,lower-affine,canonicalize,cse,"
      "convert-scf-to-cf,convert-math-to-llvm,convert-math-to-libm,"
      "finalize-memref-to-llvm{use-generic-functions},convert-to-llvm,reconcile-unrealized-casts");
}

static llvm::TargetMachine *hostTargetMachine(int optLevel, std::string &error) {
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

void optimiseModule(llvm::Module &module, llvm::TargetMachine &machine, int optLevel) {
  if (optLevel <= 0)
    return;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder(&machine);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  auto level = optLevel == 1   ? llvm::OptimizationLevel::O1
               : optLevel == 2 ? llvm::OptimizationLevel::O2
                               : llvm::OptimizationLevel::O3;
  builder.buildPerModuleDefaultPipeline(level).run(module, mam);
}

std::unique_ptr<llvm::Module> translateToLLVMIR(ModuleOp module, llvm::LLVMContext &context,
                                                int optLevel, std::string &error,
                                                HostCode kind) {
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(module, context);
  if (!llvmModule) {
    error = "internal error: translation to LLVM IR failed";
    return nullptr;
  }
  std::unique_ptr<llvm::TargetMachine> machine(hostTargetMachine(optLevel, error));
  if (!machine)
    return nullptr;
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());
  if (kind == HostCode::CudaLauncher) {
    // The launcher library (libseqc_cuda) defines what the host code calls.
    for (llvm::Function &function : llvmModule->functions())
      if (!function.isDeclaration() && !function.getName().ends_with("_forward_cuda"))
        function.setLinkage(llvm::GlobalValue::InternalLinkage);
    llvmModule->setPICLevel(llvm::PICLevel::BigPIC);
    optimiseModule(*llvmModule, *machine, optLevel);
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
  for (llvm::Function &function : llvmModule->functions())
    if (!function.isDeclaration() && !function.getName().ends_with("_forward"))
      function.setLinkage(llvm::GlobalValue::InternalLinkage);
  // llvm.global_dtors (the runtime's cache release) keeps its appending
  // linkage.
  for (llvm::GlobalVariable &global : llvmModule->globals())
    if (!global.isDeclaration() && !global.getName().starts_with("llvm."))
      global.setLinkage(llvm::GlobalValue::InternalLinkage);
  allowReassociation(*llvmModule);

  optimiseModule(*llvmModule, *machine, optLevel);
  return llvmModule;
}

bool emitMachineCode(llvm::Module &module, llvm::raw_pwrite_stream &out, bool assembly,
                     int optLevel, std::string &error) {
  std::unique_ptr<llvm::TargetMachine> machine(hostTargetMachine(optLevel, error));
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
