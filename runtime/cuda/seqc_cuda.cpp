//===- seqc_cuda.cpp - The CUDA launcher of seqc's GPU kernels ------------===//
//
// libseqc_cuda: what the host code of `seqc --target nvptx --emit obj` calls
// (its functions are declared in include/seqc/Runtime/seqc_abi.h), over the
// CUDA driver API. It loads the embedded PTX once per CUDA context, launches
// kernels on the stream of the current M_forward_cuda call, allocates the
// call's working buffers stream-ordered (cuMemAllocAsync), and turns any
// failed driver call into a status code of that call (never an abort). A
// program links the model's object, libseqc_cuda and -lcuda, and includes
// the header `seqc --target nvptx --emit header` writes.
//
// A call of M_forward_cuda runs inside
// seqc_cuda_call_guarded, which makes the stream's context current, records
// the stream for the launches and allocations of the call, and catches a
// failed driver call with longjmp (the generated host code has no other
// way to stop): the call's device buffers are then freed on the stream and
// the call returns 3 (out of device memory) or 4 (any other CUDA error).
// Modules are loaded on first use per context, under a lock, and kept for
// the life of the process (or of the context).
//
//===----------------------------------------------------------------------===//
#include "seqc/Runtime/seqc_abi.h"

#include <cuda.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace {

/// The state of the M_forward_cuda call running on this thread.
struct CallState {
  CUstream stream = nullptr;
  std::jmp_buf *escape = nullptr;
  int failure = 0;
  std::vector<CUdeviceptr> live; // device buffers not yet freed
};
thread_local CallState *current = nullptr;
thread_local char lastError[256];
thread_local bool hasError = false;

[[noreturn]] void fail(int status, const char *what, CUresult result) {
  const char *name = nullptr;
  if (result != CUDA_SUCCESS)
    cuGetErrorName(result, &name);
  std::snprintf(lastError, sizeof lastError, "%s%s%s", what, name ? ": " : "",
                name ? name : "");
  hasError = true;
  current->failure = status;
  std::longjmp(*current->escape, 1);
}

void check(CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return;
  fail(result == CUDA_ERROR_OUT_OF_MEMORY ? SEQC_STATUS_NO_MEMORY : SEQC_STATUS_CUDA_ERROR, what,
       result);
}

/// A module loaded in one context; a slot holds a list of them.
struct LoadedModule {
  CUcontext context;
  CUmodule module;
  LoadedModule *next;
};
std::mutex loadLock;

CUmodule moduleFor(void **slot, const char *ptx) {
  CUcontext context;
  check(cuCtxGetCurrent(&context), "cuCtxGetCurrent");
  std::lock_guard<std::mutex> guard(loadLock);
  for (auto *m = static_cast<LoadedModule *>(*slot); m; m = m->next)
    if (m->context == context)
      return m->module;
  CUmodule module;
  check(cuModuleLoadData(&module, ptx), "cuModuleLoadData (JIT of the PTX)");
  *slot = new LoadedModule{context, module, static_cast<LoadedModule *>(*slot)};
  return module;
}

} // namespace

extern "C" {

const char *seqc_cuda_last_error(void) { return hasError ? lastError : nullptr; }

int seqc_cuda_call_guarded(void *stream, seqc_cuda_thunk thunk, void *args) {
  hasError = false;
  CallState state;
  state.stream = static_cast<CUstream>(stream);
  std::jmp_buf escape;
  state.escape = &escape;
  CallState *outer = current;
  current = &state;
  bool pushed = false;
  int status;
  if (setjmp(escape) == 0) {
    CUresult init = cuInit(0);
    if (init != CUDA_SUCCESS)
      fail(SEQC_STATUS_CUDA_ERROR, "cuInit (is there a GPU and a driver?)", init);
    CUcontext context = nullptr;
    if (state.stream)
      check(cuStreamGetCtx(state.stream, &context), "cuStreamGetCtx");
    else
      check(cuCtxGetCurrent(&context), "cuCtxGetCurrent");
    if (!context)
      fail(SEQC_STATUS_CUDA_ERROR, "no current CUDA context", CUDA_SUCCESS);
    check(cuCtxPushCurrent(context), "cuCtxPushCurrent");
    pushed = true;
    status = thunk(args);
  } else {
    status = state.failure;
    for (CUdeviceptr pointer : state.live)
      cuMemFreeAsync(pointer, state.stream);
  }
  if (pushed) {
    CUcontext popped;
    cuCtxPopCurrent(&popped);
  }
  current = outer;
  return status;
}

void seqc_cuda_launch(void **module_slot, const char *ptx, const char *kernel, int64_t grid_x,
                      int64_t grid_y, int64_t grid_z, int64_t block_x, int64_t block_y,
                      int64_t block_z, int32_t shared_bytes, void **args, int32_t) {
  if (grid_x > 0x7fffffff || grid_y > 65535 || grid_z > 65535)
    fail(SEQC_STATUS_CUDA_ERROR, "the problem is too large for one grid", CUDA_SUCCESS);
  CUmodule module = moduleFor(module_slot, ptx);
  CUfunction function;
  check(cuModuleGetFunction(&function, module, kernel), "cuModuleGetFunction");
  check(cuLaunchKernel(function, unsigned(grid_x), unsigned(grid_y), unsigned(grid_z),
                       unsigned(block_x), unsigned(block_y), unsigned(block_z),
                       unsigned(shared_bytes), current->stream, args, nullptr),
        "cuLaunchKernel");
}

void *seqc_cuda_alloc(uint64_t bytes) {
  if (bytes == 0)
    return nullptr;
  CUdeviceptr pointer;
  check(cuMemAllocAsync(&pointer, bytes, current->stream), "cuMemAllocAsync");
  current->live.push_back(pointer);
  return reinterpret_cast<void *>(pointer);
}

void seqc_cuda_free(void *pointer) {
  if (!pointer)
    return;
  auto device = reinterpret_cast<CUdeviceptr>(pointer);
  auto &live = current->live;
  for (size_t i = 0; i < live.size(); ++i)
    if (live[i] == device) {
      live[i] = live.back();
      live.pop_back();
      break;
    }
  check(cuMemFreeAsync(device, current->stream), "cuMemFreeAsync");
}

float seqc_cuda_read_f32(const float *device_address) {
  float value;
  check(cuMemcpyDtoHAsync(&value, reinterpret_cast<CUdeviceptr>(device_address), sizeof value,
                          current->stream),
        "cuMemcpyDtoHAsync");
  check(cuStreamSynchronize(current->stream), "cuStreamSynchronize");
  return value;
}

int64_t seqc_cuda_num_threads(void) {
  CUdevice device;
  check(cuCtxGetDevice(&device), "cuCtxGetDevice");
  int processors = 0, threadsPerProcessor = 0;
  check(cuDeviceGetAttribute(&processors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device),
        "cuDeviceGetAttribute");
  check(cuDeviceGetAttribute(&threadsPerProcessor,
                             CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, device),
        "cuDeviceGetAttribute");
  return int64_t(processors) * threadsPerProcessor;
}

void seqc_cuda_newton_report(int64_t iterations, int32_t converged, float residual) {
  const char *verbose = std::getenv("SEQC_VERBOSE");
  if (!(verbose && *verbose && *verbose != '0'))
    return;
  if (converged)
    std::fprintf(stderr, "seqc: Newton converged after %lld iteration(s) (residual %.3g)\n",
                 static_cast<long long>(iterations), static_cast<double>(residual));
  else
    std::fprintf(stderr,
                 "seqc: Newton did not converge after %lld iteration(s) (residual %.3g); "
                 "ran the recurrence sequentially\n",
                 static_cast<long long>(iterations), static_cast<double>(residual));
}

void seqc_cuda_chunk_fallback_report(void) {
  const char *verbose = std::getenv("SEQC_VERBOSE");
  if (verbose && *verbose && *verbose != '0')
    std::fprintf(stderr, "seqc: chunked form: a decay of this call is negative or NaN; ran the "
                         "recurrence sequentially\n");
}

} // extern "C"
