/*===- seqc_abi.h - The contract between generated code and its runtimes --===*
 *
 * One definition of what seqc's generated code and the two libraries it calls
 * agree on: the status codes a kernel returns, and the functions the
 * generated code calls by name. Three parties include this header:
 *   - the CPU runtime (runtime/seqc_runtime.c), compiled to bitcode and
 *     linked, internalised, into every CPU kernel;
 *   - the CUDA launcher (runtime/cuda/seqc_cuda.cpp, libseqc_cuda), which
 *     the host code of `--target nvptx` calls;
 *   - the compiler, which emits the calls (SEQC_RUNTIME_NAME) and writes the
 *     status codes into every generated header.
 * A function renamed or retyped here no longer compiles on the side that
 * disagrees. Users never include this header: the generated header
 * declares what a program calls (M_forward, seqc_cuda_last_error, the
 * status codes).
 *
 *===----------------------------------------------------------------------===*/
#ifndef SEQC_RUNTIME_SEQC_ABI_H
#define SEQC_RUNTIME_SEQC_ABI_H

#include <stddef.h>
#include <stdint.h>

/* The status codes of M_forward and M_forward_cuda (language.md section 5),
 * as X(NAME, value, what it means): the enum below and every generated
 * header are written from this list. */
#define SEQC_STATUS_CODES(X)                                                                \
  X(OK, 0, "success")                                                                       \
  X(BAD_SIZE, 1, "B < 0 or T < 0")                                                          \
  X(NULL_POINTER, 2, "B * T > 0 and an input, param or output pointer is NULL")             \
  X(NO_MEMORY, 3, "the kernel could not allocate its working memory")                       \
  X(CUDA_ERROR, 4, "a CUDA driver call failed (M_forward_cuda only; seqc_cuda_last_error)")

enum seqc_status {
#define SEQC_STATUS_ENUMERATOR(name, value, meaning) SEQC_STATUS_##name = value,
  SEQC_STATUS_CODES(SEQC_STATUS_ENUMERATOR)
#undef SEQC_STATUS_ENUMERATOR
};

#ifdef __cplusplus
extern "C" {
#endif

/*===----------------------------------------------------------------------===*
 * The CPU runtime: every CPU kernel's own internal copy
 *===----------------------------------------------------------------------===*/

/* The body of a parallel loop: iterations [begin, end) with its live-ins. */
typedef void (*seqc_body_fn)(void *ctx, int64_t begin, int64_t end);

/* Runs body(args), the kernel, and returns its status, or
 * SEQC_STATUS_NO_MEMORY after freeing what the call allocated when an
 * allocation failed. Every M_forward calls its kernel through it. */
int seqc_call_guarded(int (*body)(void *), void *args);
/* fn(ctx, begin, end) over [0, n) split across threads; `cost` estimates one
 * iteration's work (about one arithmetic operation a unit). */
void seqc_parallel_for(int64_t n, seqc_body_fn fn, void *ctx, int64_t cost);
/* How a linear scan splits across threads: bit 62 set for the chained split,
 * channel blocks in bits 32..61, lanes per row in bits 0..31. */
int64_t seqc_scan_plan(int64_t rows, int64_t steps, int64_t channels);
/* The chained scan's wait for its predecessor lane. */
void seqc_pause(void);
/* The threads a parallel loop may use (SEQC_NUM_THREADS, or the cores). */
int64_t seqc_num_threads(void);
/* After a Newton solve: its iterations, whether it converged, its last
 * residual (printed under SEQC_VERBOSE). */
void seqc_newton_report(int64_t iterations, int32_t converged, float residual);
/* The chunked form ran the sequential recurrence: a decay of the call was
 * negative or NaN (printed under SEQC_VERBOSE). */
void seqc_chunk_fallback_report(void);
/* Upstream MLIR's generic allocation functions
 * (finalize-memref-to-llvm{use-generic-functions}), defined by the runtime
 * so that a failed allocation returns SEQC_STATUS_NO_MEMORY. */
void *_mlir_memref_to_llvm_alloc(size_t size);
void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size);
void _mlir_memref_to_llvm_free(void *pointer);

/*===----------------------------------------------------------------------===*
 * The CUDA launcher (libseqc_cuda): one library for all GPU kernels
 *===----------------------------------------------------------------------===*/

/* The last error of this thread's M_forward_cuda calls ("cuLaunchKernel:
 * CUDA_ERROR_..."), or NULL when the last call succeeded. The one function
 * of this section a user's program calls; the generated header declares it. */
const char *seqc_cuda_last_error(void);

typedef int (*seqc_cuda_thunk)(void *args);
/* seqc_call_guarded's twin for M_forward_cuda: makes the stream's context
 * current and returns SEQC_STATUS_NO_MEMORY or SEQC_STATUS_CUDA_ERROR when a
 * driver call of the call fails. */
int seqc_cuda_call_guarded(void *stream, seqc_cuda_thunk thunk, void *args);
/* Launches `kernel` of the PTX module `ptx` (loaded once per context into
 * *module_slot) on the call's stream. */
void seqc_cuda_launch(void **module_slot, const char *ptx, const char *kernel, int64_t grid_x,
                      int64_t grid_y, int64_t grid_z, int64_t block_x, int64_t block_y,
                      int64_t block_z, int32_t shared_bytes, void **args, int32_t num_args);
/* Stream-ordered device memory for the call's working buffers. */
void *seqc_cuda_alloc(uint64_t bytes);
void seqc_cuda_free(void *pointer);
/* One f32 of device memory, copied to the host on the call's stream (the
 * Newton form's residual, which decides the host's next step). */
float seqc_cuda_read_f32(const float *device_address);
/* The launcher's twins of the CPU runtime's seqc_num_threads (the threads
 * the device holds resident), seqc_newton_report and
 * seqc_chunk_fallback_report, under their own names so that one program may
 * link CPU kernels and the launcher. */
int64_t seqc_cuda_num_threads(void);
void seqc_cuda_newton_report(int64_t iterations, int32_t converged, float residual);
void seqc_cuda_chunk_fallback_report(void);

#ifdef __cplusplus
} /* extern "C" */

/* The name of runtime function `fn` as the compiler emits it. Naming a
 * function this header does not declare is a compile error (the sizeof is
 * not evaluated, so the compiler does not link the runtime). */
#define SEQC_RUNTIME_NAME(fn) ((void)sizeof(&::fn), #fn)
#endif

#endif /* SEQC_RUNTIME_SEQC_ABI_H */
