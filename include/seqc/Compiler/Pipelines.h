//===- Pipelines.h - The pass pipelines of seqc, built in C++ -------------===//
//
// Every pipeline the compiler runs, as functions that add passes through
// their generated constructors and option structs; docs/design.md draws
// them in order. The CPU and GPU lowerings are split into phases (one pass
// manager each), which `seqc --time-phases` times one by one. seq-opt
// registers each as a named pipeline (registerSeqcPipelines), so that a
// test can run exactly what seqc runs.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_COMPILER_PIPELINES_H
#define SEQC_COMPILER_PIPELINES_H

#include "seqc/Compiler/Options.h"

#include "mlir/Pass/PassManager.h"

namespace seqc {

//===----------------------------------------------------------------------===//
// Forms (on rec.model ops)
//===----------------------------------------------------------------------===//

/// Every model's backward entry points as models of their own
/// (rec-derive-backward), before any form: the adjoint is derived from the
/// step as the user wrote it.
void buildBackwardPipeline(mlir::OpPassManager &pm);
/// What runs before the forms are decided: step-invariant work leaves each
/// step (rec-hoist-invariants).
void buildFormPreparationPipeline(mlir::OpPassManager &pm);
/// Under --form auto, before the rest is decided: every attention the
/// chunked kernels take leaves its step (rec-to-chunked{attention-only}).
void buildAutoAttentionPipeline(mlir::OpPassManager &pm, const FormOptions &options);
/// Every recurrence into the form the plan decided (the --emit forms level).
void buildFormPipeline(mlir::OpPassManager &pm, const FormOptions &options);

//===----------------------------------------------------------------------===//
// Lowering, phase by phase (on the module)
//===----------------------------------------------------------------------===//

/// rec.newton and the chunked ops as the ops the targets lower: scf.while,
/// stateless recurrences, scans, loops over chunks.
void buildExpansionPipeline(mlir::OpPassManager &pm);
/// The models as entry points for `target` on tensors, then on buffers
/// (One-Shot Bufferize, deallocation).
void buildBufferizationPipeline(mlir::OpPassManager &pm, TargetKind target);
/// CPU: scans, contractions (register tiles for `vectorBits`-bit vectors) and
/// everything else as loops; parallel loops as calls of the runtime.
void buildCPULoopPipeline(mlir::OpPassManager &pm, int64_t vectorBits);
/// CPU: loops and memrefs into the LLVM dialect.
void buildCPUToLLVMPipeline(mlir::OpPassManager &pm);
/// GPU: every piece of work on device buffers into a gpu.launch, outlined
/// into kernels.
void buildGPUKernelOutliningPipeline(mlir::OpPassManager &pm);
/// GPU: the kernels (on each gpu.module) into the NVVM and LLVM dialects.
void buildGPUDevicePipeline(mlir::OpPassManager &pm);
/// GPU: the host code into the LLVM dialect, launches as calls of the
/// launcher.
void buildGPUHostPipeline(mlir::OpPassManager &pm);

/// Registers the pipelines above with MLIR's pass registry (for seq-opt):
/// seqc-forms, seqc-cpu-lowering, seqc-gpu-kernels, seqc-gpu-device,
/// seqc-gpu-host.
void registerSeqcPipelines();

} // namespace seqc

#endif // SEQC_COMPILER_PIPELINES_H
