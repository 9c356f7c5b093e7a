//===- Passes.td - Conversions out of the rec dialect ------*- tablegen -*-===//
//
// From rec to loops over tensors with the kernel ABI (convert-rec-to-cpu), and
// from parallel loops to calls of the seqc runtime's parallel-for.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CONVERSION_PASSES
#define SEQC_CONVERSION_PASSES

include "mlir/Pass/PassBase.td"

def ConvertRecToCPU : Pass<"convert-rec-to-cpu", "::mlir::ModuleOp"> {
  let summary = "lowers rec models to ABI functions with loops over tensors";
  let description = [{
    Every `rec.model @M` becomes `func.func @M_forward(i64 B, i64 T,
    !llvm.ptr...) -> i32`, the C ABI of language.md section 5: it checks the
    sizes and pointers, wraps the caller's arrays as memrefs, and runs the
    model on tensors. A recurrence with states runs in order over time with
    `scf.for`, in parallel over the batch with `scf.forall`; a stateless one
    (hoisted or post-processing work) in parallel over batch and time;
    `rec.scan` in parallel over the batch, streaming over time;
    `rec.attention` keeps its key/value history in a buffer per batch row.
    One-Shot Bufferize then turns the tensors into the caller's buffers.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def ConvertLinearScanToLoops : Pass<"convert-linear-scan-to-loops", "::mlir::ModuleOp"> {
  let summary = "lowers bufferized rec.linear_scan to vectorised, threaded loops";
  let description = [{
    Each `rec.linear_scan` on memrefs becomes loops that compute
    h[t] = a[t] * h[t-1] + b[t] in place in the states' buffer, in vectors
    of 16 channels, and a call of the runtime's `seqc_scan_plan(B, T, C)`
    that chooses, at call time, how to split the work across threads:
    batch rows and blocks of channels first; time only where the runtime's
    cost model predicts that it beats streaming on fewer threads, either by
    the three-phase chunked scan (scan the first chunk while reducing the
    next ones, chain the aggregates, scan the chunks) or by the chained
    single-pass scan (threads claim L2-sized chunks in order, reduce one,
    wait for the state entering it, publish the state leaving it, and scan
    it again from cache; memory sees the sequential scan's traffic). The
    parallel loops are `scf.parallel` marked with `seqc.iteration_cost`,
    for `convert-parallel-to-runtime`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def TileContractions : Pass<"seqc-tile-contractions", "::mlir::ModuleOp"> {
  let summary = "lowers f32 contractions on buffers to register-tiled loops";
  let description = [{
    A `linalg.generic` on f32 buffers with body `out + in0 * in1`, one
    reduction loop r and projected-permutation maps, whose output's
    innermost loop n (of static size) is also the innermost axis of one
    input (B, read as vectors; unit stride in B and the output) and absent
    from the other (A, read one element at a time),
    becomes loops around a register tile: 6 rows (a loop m of A and the
    output that B does not have) x 2 vectors of n held in 12 accumulators
    while r runs, each vector of B loaded feeding 6 FMAs and each element of
    A broadcast feeding 2, then narrower tiles for the rest of m and n. The
    hoisted projections `y[b, t, h] += sum_d x[b, t, d] w[d, h]` of
    `rec-hoist-matmuls` are one case; the in-chunk matmuls of
    `rec-expand-chunked` are others. A contraction not already inside a
    parallel loop runs its other loops and blocks of 60 rows as an
    `scf.parallel` marked with `seqc.iteration_cost`. A `linalg.fill` of zero
    into the output just before is dropped; the tiles start from zero
    instead. convert-linalg-to-loops would instead compute one output at a
    time, the sum over r in memory or in a reduction across lanes.

    `vector-bits` is the width of the target's vector registers (256 for
    AVX2, 512 for AVX-512); seqc passes the host's.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "int64_t", /*default=*/"256",
           "bits of the target's vector registers (128, 256 or 512)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def ConvertParallelToRuntime : Pass<"convert-parallel-to-runtime", "::mlir::ModuleOp"> {
  let summary = "runs outermost scf.parallel loops on the seqc runtime's threads";
  let description = [{
    The body of each outermost `scf.parallel` becomes a function
    `void(void *ctx, int64_t begin, int64_t end)` over a range of the
    flattened iteration space; the values it uses from above travel in a
    struct on the caller's stack. The loop becomes a call of
    `seqc_parallel_for(n, fn, ctx, cost)` (runtime/seqc_runtime.c), which
    splits the range across at most SEQC_NUM_THREADS threads, or runs it
    inline when `cost` (an estimate of the work, in arithmetic operations)
    is too small to pay for threads. A loop carrying a `seqc.iteration_cost`
    attribute passes that cost instead of the pass's static estimate. A
    small static buffer (at most 4 KiB) that one iteration allocates and
    frees becomes one `memref.alloca` per task, before the task's loop.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::arith::ArithDialect", "::mlir::scf::SCFDialect"];
}

def ExpandStridedCopies : Pass<"seqc-expand-strided-copies"> {
  let summary = "memref.copy of non-contiguous buffers as loops";
  let description = [{
    A `memref.copy` whose source or target is not a contiguous row-major
    buffer (a strided view, such as one time step of a [B, T, H] sequence)
    would lower to a call to `memrefCopy` from MLIR's C runner utilities,
    which a user's program does not link. It becomes a `linalg.copy`, which
    lowers to loops. Copies between contiguous buffers stay, and become
    `memcpy`.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def FuseElementwise : Pass<"seqc-fuse-elementwise"> {
  let summary = "linalg-fuse-elementwise-ops, without recomputing a producer across reductions";
  let description = [{
    Upstream's elementwise fusion of `linalg.generic` ops on tensors (and
    its reshape propagation), with one rule of our own: a producer is not
    fused into a contraction (a consumer with reduction loops) that has
    loops its value does not depend on, since the fused body would compute
    it again for every iteration of those loops. The chunked kernels scale their queries and
    keys by exp of the decays once per step and key, then contract them
    over the chunk; fused, the exps would run once per pair of steps.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"];
}

def ApproximateMath : Pass<"seqc-approximate-math"> {
  let summary = "f32 transcendental functions as polynomials, so their loops vectorise";
  let description = [{
    Rewrites `math.exp`, `log`, `log1p`, `tanh`, `erf` and their kin on f32
    (scalars or vectors) into MLIR's polynomial approximations: plain
    arithmetic that LLVM's loop vectoriser turns into SIMD code, where a call
    to libm's `expf` would stay one scalar call per element. The
    approximations are within a few ulp of libm, far inside the tolerance of
    language.md section 6; functions without one stay libm calls.

    With `expand-pow` (the GPU's kernels, which have no libm and no
    libdevice), scalar `math.powf` becomes exp(y log |x|) with the signs
    and special cases of C's `powf` (a negative base with an odd integer
    exponent, NaN for a negative base with a fractional one, x^0 = 1^y = 1),
    before the polynomials replace exp and log.
  }];
  let options = [
    Option<"expandPow", "expand-pow", "bool", /*default=*/"false",
           "rewrite scalar f32 math.powf through exp and log">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}


//===----------------------------------------------------------------------===//
// GPU (lib/Conversion/RecToGPU)
//===----------------------------------------------------------------------===//

def ConvertRecToGPU : Pass<"convert-rec-to-gpu", "::mlir::ModuleOp"> {
  let summary = "lowers rec models to CUDA-launcher entry points with loops over tensors";
  let description = [{
    The GPU twin of `convert-rec-to-cpu`, sharing its lowering of the model:
    every `rec.model @M` becomes `func.func @M_forward_cuda(!llvm.ptr stream,
    i64 B, i64 T, !llvm.ptr...) -> i32`, the launcher ABI of language.md
    section 5, whose pointers are device pointers. The entry runs through
    the launcher's `seqc_cuda_call_guarded(stream, thunk, args)`, which
    makes the stream current for the call and turns a failed driver call or
    allocation into a status code. The body is the same loops over tensors;
    `convert-parallel-to-gpu` and `convert-linear-scan-to-gpu` later move
    all work on the arrays into GPU kernels.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def ConvertLinearScanToGPU : Pass<"convert-linear-scan-to-gpu", "::mlir::ModuleOp"> {
  let summary = "lowers bufferized rec.linear_scan to a single-pass GPU scan over time";
  let description = [{
    Each `rec.linear_scan` on memrefs becomes one `gpu.launch` of a
    single-pass parallel scan with decoupled look-back (Merrill and
    Garland, 2016). A block owns a tile of 32 channels (one per lane) by
    `steps-per-thread` x `warps` steps; each thread reduces its run of
    steps to an affine map (prod a, the scan from zero) in registers, the
    warps' maps are combined through shared memory, and warp 0 publishes
    the tile's aggregate, looks back over its predecessors' aggregates and
    inclusive states (flags per channel, release/acquire fences) for the
    state entering the tile, and publishes the tile's inclusive state.
    Tiles are claimed in order from an atomic counter, so a tile only
    waits for tiles already running. Each element of a and b is read once
    and each h written once: the scan needs no more memory traffic than a
    copy, whatever B x channels and T are. A scan with few steps (T up to
    one tile) skips the look-back.
  }];
  let options = [
    Option<"warps", "warps", "int64_t", /*default=*/"8", "warps per block (tile height = warps x steps-per-thread)">,
    Option<"stepsPerThread", "steps-per-thread", "int64_t", /*default=*/"8",
           "steps each thread keeps in registers">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def ConvertReductionsToGPU : Pass<"convert-reductions-to-gpu", "::mlir::ModuleOp"> {
  let summary = "full reductions of device buffers to a scalar as grid-stride GPU kernels";
  let description = [{
    A `linalg.generic` on the host whose loops are all reductions into a
    rank-0 f32 buffer, with a combiner that has a neutral element (`addf`,
    `mulf`, `maximumf`, `minimumf`, `maxnumf`, `minnumf`), becomes one
    `gpu.launch` of at most 1024 blocks: each thread folds a grid-stride
    share of the linearised iteration space in a register, each block folds
    its threads through shared memory, and thread 0 of each block folds the
    block's value into the output with a compare-and-swap loop. The
    output's initial value is the fold's start, as in linalg. Without it,
    `convert-parallel-to-gpu` would run such a reduction in one thread.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "threads per block (a power of two in [32, 1024])">
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def ConvertParallelToGPU : Pass<"convert-parallel-to-gpu", "::mlir::ModuleOp"> {
  let summary = "moves all work on device buffers of the host functions into gpu.launch ops";
  let description = [{
    After bufferization (and `convert-linear-scan-to-gpu`), the host
    function of a `--target nvptx` model holds loops and linalg ops on
    buffers that live in device memory. This pass moves them into kernels:
    `memref.copy` becomes `linalg.copy`; a linalg op outside any parallel
    loop becomes `scf.parallel` loops (its reductions stay sequential inside
    a thread); every outermost `scf.parallel` becomes a `gpu.launch` over
    a one-dimensional grid, one thread per iteration (the iteration space
    linearised, innermost fastest, so neighbouring threads touch
    neighbouring elements); a count of zero launches nothing. Inside a
    kernel, nested `scf.parallel` loops run sequentially, and a static
    buffer that does not outlive its block becomes a private
    `memref.alloca` at the kernel's entry; what remains allocates from the
    device heap. Host-side buffers of the deallocation bookkeeping (index
    and i1 elements) become stack buffers; f32 buffers are device memory,
    allocated through the launcher's stream-ordered allocator. A scalar the
    host reads from a device buffer (`memref.load` outside any kernel, such
    as the Newton iteration's residual) becomes a call of the launcher's
    `seqc_cuda_read_f32(address)`, a copy to the host on the call's stream.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256", "threads per block">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::gpu::GPUDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::LLVM::LLVMDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def ConvertLaunchToRuntime : Pass<"convert-launch-to-runtime", "::mlir::ModuleOp"> {
  let summary = "lowers gpu.launch_func of a PTX gpu.binary to calls of the seqc CUDA launcher";
  let description = [{
    Runs after `gpu-to-llvm`, on host code in the LLVM dialect. The PTX of
    each `gpu.binary` becomes a constant string, and each
    `gpu.launch_func` a call of `seqc_cuda_launch(module, ptx, name, grid
    x/y/z, block x/y/z, shared bytes, args)` (runtime/cuda/seqc_cuda.cpp),
    which loads the module once per CUDA context and launches on the
    stream of the current call; its errors end the call with a status code
    through the guard. Unlike upstream's `gpu.binary` translation, nothing
    runs at program start and nothing synchronises: a program that never
    calls the kernel never touches the driver. Every f32 buffer of the host
    code is device memory, so the calls of upstream's generic allocation
    functions (`finalize-memref-to-llvm{use-generic-functions}`) become
    calls of the launcher's stream-ordered allocator (`seqc_cuda_alloc`,
    `seqc_cuda_free`).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // SEQC_CONVERSION_PASSES
