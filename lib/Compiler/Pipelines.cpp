//===- Pipelines.cpp - The pass pipelines of seqc, built in C++ -----------===//
//
// Upstream's passes where they do the job (bufferization, loops, the LLVM
// conversions, GPU outlining and NVVM), seqc's where the recurrences, the
// register tiles, the runtime and the launcher need them. The order and
// the reasons are in docs/design.md ("The path of a model").
//
//===----------------------------------------------------------------------===//
#include "seqc/Compiler/Pipelines.h"

#include "Passes.h"
#include "seqc/Compiler/FormPlan.h"
#include "seqc/Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace {

void addCleanup(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

/// memref to the LLVM dialect, allocating through the generic functions
/// (_mlir_memref_to_llvm_alloc and _free), which the CPU runtime defines
/// and convert-launch-to-runtime points at the CUDA launcher's allocator.
void addMemRefToLLVM(OpPassManager &pm) {
  FinalizeMemRefToLLVMConversionPassOptions memrefs;
  memrefs.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefs));
}

} // namespace

void seqc::buildBackwardPipeline(OpPassManager &pm) {
  pm.addPass(rec::createRecDeriveBackward());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void seqc::buildFormPreparationPipeline(OpPassManager &pm) {
  pm.nest<rec::ModelOp>().addPass(rec::createRecHoistInvariants());
}

void seqc::buildAutoAttentionPipeline(OpPassManager &pm, const FormOptions &options) {
  rec::RecToChunkedOptions chunked;
  chunked.chunkSize = options.chunkSize;
  chunked.attentionOnly = true;
  pm.addPass(rec::createRecToChunked(chunked));
}

void seqc::buildFormPipeline(OpPassManager &pm, const FormOptions &options) {
  Form form = options.form;
  bool gpu = options.target == TargetKind::Nvptx;
  // Matrix states (and attention) leave their recurrences first; what is
  // left of each cell is then scanned where it can be.
  bool chunks = form == Form::Chunk || (form == Form::Auto && !gpu);
  if (chunks) {
    rec::RecToChunkedOptions chunked;
    chunked.chunkSize = options.chunkSize;
    chunked.autoRule = form == Form::Auto;
    pm.addPass(rec::createRecToChunked(chunked));
  }
  OpPassManager &model = pm.nest<rec::ModelOp>();
  if (chunks)
    addCleanup(model);
  if (form == Form::Scan || form == Form::Chunk || form == Form::Auto) {
    rec::RecToScanOptions scan;
    scan.streamingWhenExpanding = form != Form::Scan;
    model.addPass(rec::createRecToScan(scan));
  }
  model.addPass(rec::createRecOutlineStateless());
  model.addPass(rec::createRecHoistMatmuls());
  if (form == Form::Newton || form == Form::Auto) {
    rec::RecToNewtonOptions newton;
    newton.maxIters = options.newtonMaxIters;
    newton.tol = options.newtonTol;
    newton.guess = rec::stringifyNewtonGuess(options.newtonGuess).str();
    newton.maxDense = kMaxDenseJacobian;
    newton.quasi = options.newtonQuasi;
    if (form == Form::Auto) {
      newton.skipScannable = true;
      newton.structuredOnly = true;
      newton.minLength = autoNewtonMinLength(options.target);
      newton.minThreadsPerRow = kAutoNewtonThreadsPerRow;
    }
    model.addPass(rec::createRecToNewton(newton));
  }
  addCleanup(model);
}

void seqc::buildExpansionPipeline(OpPassManager &pm) {
  pm.addPass(rec::createRecExpandNewton());
  pm.addPass(rec::createRecExpandChunked());
  addCleanup(pm);
}

void seqc::buildBufferizationPipeline(OpPassManager &pm, TargetKind target) {
  pm.addPass(target == TargetKind::Cpu ? createConvertRecToCPU() : createConvertRecToGPU());
  pm.addPass(createCanonicalizerPass());
  // Elementwise ops become linalg and fuse before bufferization.
  OpPassManager &function = pm.nest<func::FuncOp>();
  function.addPass(createConvertElementwiseToLinalgPass());
  function.addPass(createFuseElementwise());
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.allowReturnAllocsFromLoops = true;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  addCleanup(pm);
  // A step's temporaries are allocated once per loop, not at every step
  // (each would be a malloc and a free per time step); what a step yields
  // stays allocated per step.
  if (target == TargetKind::Cpu)
    pm.nest<func::FuncOp>().addPass(bufferization::createBufferLoopHoistingPass());
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createCanonicalizerPass());
}

void seqc::buildCPULoopPipeline(OpPassManager &pm, int64_t vectorBits) {
  pm.addPass(createConvertLinearScanToLoops());
  TileContractionsOptions tiles;
  tiles.vectorBits = vectorBits;
  pm.addPass(createTileContractions(tiles));
  // The forall loops become scf.parallel for the runtime; memref copies
  // that are not contiguous become loops instead of calls to MLIR's C
  // runner utilities, which a user's program does not link.
  pm.addPass(createForallToParallelLoopPass());
  pm.addPass(createConvertParallelToRuntime());
  pm.addPass(createExpandStridedCopies());
  OpPassManager &function = pm.nest<func::FuncOp>();
  function.addPass(createConvertLinalgToLoopsPass());
  function.addPass(createApproximateMath());
}

void seqc::buildCPUToLLVMPipeline(OpPassManager &pm) {
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  addCleanup(pm);
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  addMemRefToLLVM(pm);
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void seqc::buildGPUKernelOutliningPipeline(OpPassManager &pm) {
  pm.addPass(createConvertLinearScanToGPU());
  pm.addPass(createConvertReductionsToGPU());
  pm.addPass(createForallToParallelLoopPass());
  pm.addPass(createConvertParallelToGPU());
  pm.nest<func::FuncOp>().addPass(createConvertLinalgToLoopsPass());
  addCleanup(pm);
  pm.addPass(createGpuKernelOutliningPass());
}

void seqc::buildGPUDevicePipeline(OpPassManager &pm) {
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createParallelForToNestedForsPass());
  kernels.addPass(memref::createExpandStridedMetadataPass());
  kernels.addPass(createLowerAffinePass());
  ApproximateMathOptions math;
  math.expandPow = true;
  kernels.addPass(createApproximateMath(math));
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  addCleanup(kernels);
  kernels.addPass(createReconcileUnrealizedCastsPass());
}

void seqc::buildGPUHostPipeline(OpPassManager &pm) {
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  addMemRefToLLVM(pm);
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createConvertLaunchToRuntime());
  pm.addPass(createCanonicalizerPass());
}

namespace {

/// The options of the seqc-forms pipeline in seq-opt.
struct FormPipelineOptions : PassPipelineOptions<FormPipelineOptions> {
  Option<std::string> form{*this, "form", llvm::cl::desc("auto|sequential|scan|chunk|newton"),
                           llvm::cl::init("auto")};
  Option<int64_t> chunkSize{*this, "chunk-size", llvm::cl::desc("steps per chunk"),
                            llvm::cl::init(64)};
  Option<bool> gpu{*this, "gpu", llvm::cl::desc("the --target nvptx rules"),
                   llvm::cl::init(false)};
};

struct CPULoweringOptions : PassPipelineOptions<CPULoweringOptions> {
  Option<int64_t> vectorBits{*this, "vector-bits",
                             llvm::cl::desc("bits of the host's vector registers"),
                             llvm::cl::init(256)};
};

} // namespace

void seqc::registerSeqcPipelines() {
  PassPipelineRegistration<FormPipelineOptions>(
      "seqc-forms", "seqc's forms after the plan (--emit forms)",
      [](OpPassManager &pm, const FormPipelineOptions &options) {
        FormOptions forms;
        forms.form = parseEnum(kFormNames, options.form).value_or(Form::Auto);
        forms.chunkSize = options.chunkSize;
        forms.target = options.gpu ? TargetKind::Nvptx : TargetKind::Cpu;
        buildFormPreparationPipeline(pm);
        if (forms.form == Form::Auto)
          buildAutoAttentionPipeline(pm, forms);
        buildFormPipeline(pm, forms);
      });
  PassPipelineRegistration<>("seqc-cpu-bufferization",
                             "seqc's CPU lowering from the forms to loops over buffers",
                             [](OpPassManager &pm) {
                               buildExpansionPipeline(pm);
                               buildBufferizationPipeline(pm, TargetKind::Cpu);
                             });
  PassPipelineRegistration<CPULoweringOptions>(
      "seqc-cpu-lowering", "seqc's CPU lowering from the forms to the LLVM dialect",
      [](OpPassManager &pm, const CPULoweringOptions &options) {
        buildExpansionPipeline(pm);
        buildBufferizationPipeline(pm, TargetKind::Cpu);
        buildCPULoopPipeline(pm, options.vectorBits);
        buildCPUToLLVMPipeline(pm);
      });
  PassPipelineRegistration<>("seqc-gpu-kernels",
                             "seqc's GPU lowering from the forms to outlined kernels",
                             [](OpPassManager &pm) {
                               buildExpansionPipeline(pm);
                               buildBufferizationPipeline(pm, TargetKind::Nvptx);
                               buildGPUKernelOutliningPipeline(pm);
                             });
  PassPipelineRegistration<>("seqc-gpu-device", "seqc's kernels to the NVVM dialect",
                             buildGPUDevicePipeline);
  PassPipelineRegistration<>("seqc-gpu-host", "seqc's GPU host code to the LLVM dialect",
                             buildGPUHostPipeline);
}
