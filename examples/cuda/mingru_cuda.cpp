// mingru_cuda.cpp: calling seqc's GPU kernel of minGRU and checking it
// against the CPU kernel of the same model.
//
// Build (what CMake does for examples/cuda; see README.md "GPU"):
//   seqc examples/mingru.seq --emit obj    -o mingru_cpu.o
//   seqc examples/mingru.seq --emit header -o mingru.h
//   seqc examples/mingru.seq --target nvptx --emit obj    -o mingru_cuda.o
//   seqc examples/mingru.seq --target nvptx --emit header -o mingru_cuda.h
//   c++ -O2 -I. -I/usr/local/cuda/include examples/cuda/mingru_cuda.cpp \
//       mingru_cpu.o mingru_cuda.o -Lbuild/lib -lseqc_cuda \
//       -L/usr/local/cuda/lib64/stubs -lcuda -lpthread -o mingru_cuda
//
// It runs minGRU over a batch (B = 4, T = 70000: the GPU scan splits time
// into many tiles), in one call and in two calls carrying the state, on the
// GPU, and once on the CPU; it prints the largest difference and exits 0
// when within 1e-4 relative (language.md section 6), 1 when not, and 77
// (skipped) where there is no GPU.
#include "mingru.h"
#include "mingru_cuda.h"

#include <cmath>
#include <cstdio>
#include <vector>

namespace {

constexpr int64_t B = 4, T = 70000, T1 = 25000, D = 64, H = 128;

float uniform(unsigned &seed, float lo, float hi) {
  seed = seed * 1664525u + 1013904223u;
  return lo + (hi - lo) * float(seed >> 8) / float(1u << 24);
}

bool ok(CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return true;
  const char *name = "?";
  cuGetErrorName(result, &name);
  std::fprintf(stderr, "%s: %s\n", what, name);
  return false;
}

struct Device {
  CUdeviceptr pointer = 0;
  explicit Device(size_t floats) { cuMemAlloc(&pointer, floats * sizeof(float)); }
  ~Device() { cuMemFree(pointer); }
  void upload(const std::vector<float> &v) { cuMemcpyHtoD(pointer, v.data(), v.size() * 4); }
  std::vector<float> download(size_t floats) const {
    std::vector<float> v(floats);
    cuMemcpyDtoH(v.data(), pointer, floats * 4);
    return v;
  }
};

double relativeError(const std::vector<float> &got, const std::vector<float> &want) {
  double worst = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    double e = std::fabs(double(got[i]) - want[i]);
    if (!(e <= worst))
      worst = std::isnan(e) ? INFINITY : e;
    scale = std::fmax(scale, std::fabs(want[i]));
  }
  return worst / (1 + scale);
}

} // namespace

int main() {
  CUdevice device;
  int count = 0;
  if (cuInit(0) != CUDA_SUCCESS || cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0) {
    std::printf("no CUDA device: skipped\n");
    return 77;
  }
  CUcontext context;
  if (!ok(cuDeviceGet(&device, 0), "cuDeviceGet") ||
      !ok(cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain") ||
      !ok(cuCtxSetCurrent(context), "cuCtxSetCurrent"))
    return 1;
  CUstream stream;
  if (!ok(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate"))
    return 1;

  unsigned seed = 1;
  std::vector<float> x(B * T * D), wz(H * D), wh(H * D);
  for (float &v : x)
    v = uniform(seed, -1, 1);
  for (float &v : wz)
    v = uniform(seed, -0.125f, 0.125f);
  for (float &v : wh)
    v = uniform(seed, -0.125f, 0.125f);

  // The CPU kernel is the reference here (itself checked by seqc check).
  std::vector<float> yCpu(B * T * H), hCpu(B * H);
  if (mingru_forward(B, T, x.data(), wz.data(), wh.data(), nullptr, yCpu.data(), hCpu.data()))
    return 1;

  Device dx(x.size()), dwz(wz.size()), dwh(wh.size()), dy(B * T * H), dh(B * H);
  dx.upload(x);
  dwz.upload(wz);
  dwh.upload(wh);
  int status = mingru_forward_cuda(stream, B, T, dx.pointer, dwz.pointer, dwh.pointer, 0,
                                   dy.pointer, dh.pointer);
  if (status != 0 || !ok(cuStreamSynchronize(stream), "cuStreamSynchronize")) {
    const char *why = seqc_cuda_last_error();
    std::fprintf(stderr, "mingru_forward_cuda returned %d (%s)\n", status, why ? why : "");
    return 1;
  }
  double errorOutput = relativeError(dy.download(B * T * H), yCpu);
  double errorState = relativeError(dh.download(B * H), hCpu);

  // Two calls carrying the state give the same result: x is [B, T, D], so
  // each call reads a [B, T_k, D] copy.
  std::vector<float> x1(B * T1 * D), x2(B * (T - T1) * D);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < D; ++d)
        (t < T1 ? x1[(b * T1 + t) * D + d] : x2[(b * (T - T1) + t - T1) * D + d]) =
            x[(b * T + t) * D + d];
  Device dx1(x1.size()), dx2(x2.size()), dy1(B * T1 * H), dy2(B * (T - T1) * H), dmid(B * H),
      dend(B * H);
  dx1.upload(x1);
  dx2.upload(x2);
  status = mingru_forward_cuda(stream, B, T1, dx1.pointer, dwz.pointer, dwh.pointer, 0,
                               dy1.pointer, dmid.pointer);
  if (status == 0)
    status = mingru_forward_cuda(stream, B, T - T1, dx2.pointer, dwz.pointer, dwh.pointer,
                                 dmid.pointer, dy2.pointer, dend.pointer);
  if (status != 0 || !ok(cuStreamSynchronize(stream), "cuStreamSynchronize"))
    return 1;
  double errorSplit = relativeError(dend.download(B * H), hCpu);

  std::printf("minGRU B=%lld T=%lld on the GPU vs the CPU kernel:\n", (long long)B,
              (long long)T);
  std::printf("  outputs %.3e, final state %.3e, final state after two calls %.3e\n",
              errorOutput, errorState, errorSplit);
  bool pass = errorOutput <= 1e-4 && errorState <= 1e-4 && errorSplit <= 1e-4;
  std::printf("%s\n", pass ? "PASS" : "FAIL");
  cuStreamDestroy(stream);
  cuDevicePrimaryCtxRelease(device);
  return pass ? 0 : 1;
}
