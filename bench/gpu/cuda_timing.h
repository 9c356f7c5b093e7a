//===- cuda_timing.h - What the GPU benchmarks share ----------------*- C++ -*-===//
//
// Driver-call checks, opening the first device, and the median time of a
// body enqueued on a stream (CUDA events, one warm-up call first), for
// bench_gpu.cpp and bench_gpu_newton.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_GPU_CUDA_TIMING_H
#define SEQC_BENCH_GPU_CUDA_TIMING_H

#include <cuda.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace bench {

inline void check(CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return;
  const char *name = "?";
  cuGetErrorName(result, &name);
  std::fprintf(stderr, "%s failed: %s\n", what, name);
  std::exit(1);
}

/// The median of `rounds` timed runs of `body` on `stream`, in ms, after a
/// warm-up run (module load, allocator pools).
inline double medianMs(CUstream stream, int rounds, const std::function<void()> &body) {
  CUevent start, stop;
  check(cuEventCreate(&start, 0), "cuEventCreate");
  check(cuEventCreate(&stop, 0), "cuEventCreate");
  body();
  check(cuStreamSynchronize(stream), "warm-up");
  std::vector<double> times;
  for (int i = 0; i < rounds; ++i) {
    check(cuEventRecord(start, stream), "cuEventRecord");
    body();
    check(cuEventRecord(stop, stream), "cuEventRecord");
    check(cuEventSynchronize(stop), "cuEventSynchronize");
    float ms;
    check(cuEventElapsedTime(&ms, start, stop), "cuEventElapsedTime");
    times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  cuEventDestroy(start);
  cuEventDestroy(stop);
  return times[times.size() / 2];
}

/// Makes device 0's primary context current and a non-blocking stream on
/// it; false when there is no driver or no device.
inline bool openFirstDevice(CUstream &stream, std::string &name) {
  int count = 0;
  if (cuInit(0) != CUDA_SUCCESS || cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0)
    return false;
  CUdevice device;
  CUcontext context;
  check(cuDeviceGet(&device, 0), "cuDeviceGet");
  check(cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
  check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
  char buffer[256] = "";
  cuDeviceGetName(buffer, sizeof buffer, device);
  name = buffer;
  check(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  return true;
}

} // namespace bench

#endif // SEQC_BENCH_GPU_CUDA_TIMING_H
