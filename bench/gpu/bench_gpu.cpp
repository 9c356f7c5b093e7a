// seqc-bench-gpu: the GPU diagonal scan seqc generates (bench/diagonal.seq,
// --target nvptx) against the device's copy bandwidth, measured in the same
// run (issue 4). Effective bandwidth of the scan = (read a, read b, write h)
// bytes / time; of the copy = (read + write) bytes / time of cuMemcpyDtoD
// over as many bytes as the scan's h. Median of 7 timed runs after a warm-up,
// with CUDA events. Prints Markdown rows; scripts/bench-gpu.sh adds the
// PyTorch baselines.
#include "diagonal_cuda.h"

#include "cuda_timing.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using bench::check;
using bench::medianMs;

using Kernel = int (*)(CUstream, int64_t, int64_t, CUdeviceptr, CUdeviceptr, CUdeviceptr,
                       CUdeviceptr, CUdeviceptr);

void run(const char *name, Kernel kernel, CUstream stream, int64_t B, int64_t H, int64_t T) {
  size_t n = size_t(B) * T * H, bytes = n * 4;
  CUdeviceptr a, b, y, hT, copy;
  check(cuMemAlloc(&a, bytes), "cuMemAlloc");
  check(cuMemAlloc(&b, bytes), "cuMemAlloc");
  check(cuMemAlloc(&y, bytes), "cuMemAlloc");
  check(cuMemAlloc(&copy, bytes), "cuMemAlloc");
  check(cuMemAlloc(&hT, B * H * 4), "cuMemAlloc");
  // Decays in (0.9, 1) and offsets around 0.01: nothing overflows or flushes.
  check(cuMemsetD32(a, 0x3f7ae148 /* 0.98f */, n), "cuMemsetD32");
  check(cuMemsetD32(b, 0x3c23d70a /* 0.01f */, n), "cuMemsetD32");
  double scanMs = medianMs(stream, 7, [&] {
    if (int status = kernel(stream, B, T, a, b, 0, y, hT)) {
      std::fprintf(stderr, "%s returned %d: %s\n", name, status,
                   seqc_cuda_last_error() ? seqc_cuda_last_error() : "");
      std::exit(1);
    }
  });
  double copyMs = medianMs(stream, 7, [&] { check(cuMemcpyDtoDAsync(copy, y, bytes, stream), "copy"); });
  double scanGBs = 3.0 * bytes / scanMs / 1e6, copyGBs = 2.0 * bytes / copyMs / 1e6;
  // h[T-1] of a constant scan from 0: b (1 - a^T) / (1 - a).
  std::vector<float> last(B * H);
  check(cuMemcpyDtoH(last.data(), hT, last.size() * 4), "cuMemcpyDtoH");
  double expected = 0.01 * (1 - std::pow(0.98, double(T))) / (1 - 0.98);
  double worst = 0;
  for (float v : last)
    worst = std::max(worst, std::fabs(v - expected) / (1 + expected));
  std::printf("| %s | %lld | %lld | %lld | %.3f | %.0f | %.0f | %.2f | %.1e |\n", name,
              (long long)B, (long long)H, (long long)T, scanMs, scanGBs, copyGBs,
              scanGBs / copyGBs, worst);
  for (CUdeviceptr p : {a, b, y, hT, copy})
    cuMemFree(p);
}

} // namespace

int main() {
  CUstream stream;
  std::string deviceName;
  if (!bench::openFirstDevice(stream, deviceName)) {
    std::printf("no CUDA device: nothing to measure\n");
    return 77;
  }
  std::printf("GPU: %s\n\n", deviceName.c_str());
  std::printf("| kernel | B | H | T | ms | scan GB/s | copy GB/s | scan / copy | rel. error of h[T-1] |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  run("seqc diagonal_wide", diagonal_wide_forward_cuda, stream, 8, 1024, 65536);
  run("seqc diagonal_long", diagonal_long_forward_cuda, stream, 1, 64, 1 << 20);
  return 0;
}
