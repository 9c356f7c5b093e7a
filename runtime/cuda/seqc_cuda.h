/*===- seqc_cuda.h - The CUDA launcher of seqc's GPU kernels ---------------===*
 *
 * What the host code of `seqc --target nvptx --emit obj` calls, over the
 * CUDA driver API: it loads the embedded PTX once per CUDA context, launches
 * kernels on the stream of the current M_forward_cuda call, allocates the
 * call's working buffers stream-ordered (cuMemAllocAsync), and turns any
 * failed driver call into a status code of that call (never an abort).
 * A program links the model's object, libseqc_cuda and -lcuda; it includes
 * the header `seqc --target nvptx --emit header` writes, which declares
 * M_forward_cuda and seqc_cuda_last_error.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SEQC_CUDA_H
#define SEQC_CUDA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes beyond those of the CPU kernels (language.md section 5). */
#define SEQC_STATUS_NO_MEMORY 3
#define SEQC_STATUS_CUDA_ERROR 4

/* The last error of this thread's M_forward_cuda calls ("cuLaunchKernel:
 * CUDA_ERROR_..."), or NULL when the last call succeeded. */
const char *seqc_cuda_last_error(void);

/* Called by generated code only. */
typedef int (*seqc_cuda_thunk)(void *args);
int seqc_cuda_call_guarded(void *stream, seqc_cuda_thunk thunk, void *args);
void seqc_cuda_launch(void **module_slot, const char *ptx, const char *kernel, int64_t grid_x,
                      int64_t grid_y, int64_t grid_z, int64_t block_x, int64_t block_y,
                      int64_t block_z, int32_t shared_bytes, void **args, int32_t num_args);
void *seqc_cuda_alloc(uint64_t bytes);
void seqc_cuda_free(void *pointer);
/* One f32 of device memory, copied to the host on the call's stream (the
 * Newton form's residual, which decides the host's next step). */
float seqc_cuda_read_f32(const float *device_address);
/* The threads the current device holds resident (SMs x threads per SM):
 * the Newton form's --form auto rule compares it with the batch size. */
int64_t seqc_cuda_num_threads(void);
/* The Newton form's iterations, printed to stderr under SEQC_VERBOSE (as
 * the CPU runtime's seqc_newton_report). */
void seqc_cuda_newton_report(int64_t iterations, int32_t converged, float residual);
/* The chunkwise form's fallback (a negative decay), printed under
 * SEQC_VERBOSE (as the CPU runtime's seqc_chunk_fallback_report). */
void seqc_cuda_chunk_fallback_report(void);

#ifdef __cplusplus
}
#endif

#endif /* SEQC_CUDA_H */
