// seqc-bench-gpu-newton: the Newton form against the sequential form on the
// GPU (issue 5), for ParaRNN's GRU and LSTM and the sLSTM cell (examples/),
// each compiled for --target nvptx with --form sequential and --form newton
// (bench/gpu/CMakeLists.txt renames the models), at B = 1 for T from 1024
// to 65536. Median of 5 timed calls after a warm-up, with CUDA events. For
// each length: both times, their ratio, the Newton iterations the launcher
// reported (SEQC_VERBOSE, read back from stderr) and the largest difference
// between the two outputs. Prints Markdown; scripts/bench-gpu.sh runs it.
#include "pararnn_gru_newton_cuda.h"
#include "pararnn_gru_sequential_cuda.h"
#include "pararnn_lstm_newton_cuda.h"
#include "pararnn_lstm_sequential_cuda.h"
#include "slstm_newton_cuda.h"
#include "slstm_sequential_cuda.h"

#include "../bench_util.h"
#include "cuda_timing.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

using bench::captureStderr;
using bench::check;
using bench::iterationsOf;

void checkKernel(int status, const char *what) {
  if (status == 0)
    return;
  std::fprintf(stderr, "%s returned %d: %s\n", what, status,
               seqc_cuda_last_error() ? seqc_cuda_last_error() : "");
  std::exit(1);
}

/// Uniform values in [lo, hi) from a fixed seed, on the device.
CUdeviceptr deviceArray(size_t n, float lo, float hi, uint64_t seed) {
  std::vector<float> host(n);
  bench::fill(host, lo, hi, seed);
  CUdeviceptr device;
  check(cuMemAlloc(&device, n * 4 + 4), "cuMemAlloc");
  check(cuMemcpyHtoD(device, host.data(), n * 4), "cuMemcpyHtoD");
  return device;
}

std::vector<float> toHost(CUdeviceptr device, size_t n) {
  std::vector<float> host(n);
  check(cuMemcpyDtoH(host.data(), device, n * 4), "cuMemcpyDtoH");
  return host;
}

using Params = std::vector<CUdeviceptr>;
/// One call of a cell's kernel in either form.
using Call = std::function<int(bool newton, CUstream, int64_t T, CUdeviceptr x, const Params &,
                               CUdeviceptr y, CUdeviceptr finals)>;

struct Cell {
  const char *name;
  int64_t D, H, numStates;
  std::vector<std::pair<size_t, std::pair<float, float>>> params;
  Call call;
};

void benchCell(const Cell &cell, CUstream stream, const std::vector<int64_t> &lengths) {
  std::printf("\n### %s (D = %lld, H = %lld), B = 1\n\n", cell.name, (long long)cell.D,
              (long long)cell.H);
  std::printf("| T | sequential (ms) | Newton (ms) | sequential / Newton | Newton iterations | "
              "max abs difference |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
  Params params;
  uint64_t seed = 100;
  for (auto &[size, range] : cell.params)
    params.push_back(deviceArray(size, range.first, range.second, seed++));
  for (int64_t T : lengths) {
    size_t outputs = size_t(T) * cell.H;
    CUdeviceptr x = deviceArray(size_t(T) * cell.D, -1, 1, 7);
    CUdeviceptr ySequential = deviceArray(outputs, 0, 0, 1), yNewton = deviceArray(outputs, 0, 0, 1);
    CUdeviceptr finals = deviceArray(size_t(cell.numStates) * cell.H, 0, 0, 1);
    double sequentialMs = bench::medianMs(stream, 5, [&] {
      checkKernel(cell.call(false, stream, T, x, params, ySequential, finals), cell.name);
    });
    double newtonMs = bench::medianMs(stream, 5, [&] {
      checkKernel(cell.call(true, stream, T, x, params, yNewton, finals), cell.name);
    });
    setenv("SEQC_VERBOSE", "1", 1);
    std::string log = captureStderr([&] {
      checkKernel(cell.call(true, stream, T, x, params, yNewton, finals), cell.name);
      check(cuStreamSynchronize(stream), "cuStreamSynchronize");
    });
    unsetenv("SEQC_VERBOSE");
    std::vector<float> a = toHost(ySequential, outputs), b = toHost(yNewton, outputs);
    double worst = 0;
    for (size_t i = 0; i < outputs; ++i)
      worst = std::max(worst, double(std::fabs(a[i] - b[i])));
    std::printf("| %lld | %.2f | %.2f | %.1f | %s | %.1e |\n", (long long)T, sequentialMs,
                newtonMs, sequentialMs / newtonMs, iterationsOf(log).c_str(), worst);
    std::fflush(stdout);
    for (CUdeviceptr p : {x, ySequential, yNewton, finals})
      cuMemFree(p);
  }
  for (CUdeviceptr p : params)
    cuMemFree(p);
}

} // namespace

int main(int argc, char **argv) {
  std::vector<int64_t> lengths = {1024, 4096, 16384, 65536};
  if (argc > 1)
    lengths = {std::atoll(argv[1])};
  CUstream stream;
  std::string deviceName;
  if (!bench::openFirstDevice(stream, deviceName)) {
    std::printf("no CUDA device: nothing to measure\n");
    return 77;
  }
  std::printf("## The Newton form vs the sequential form on the GPU (%s), median of 5 calls\n",
              deviceName.c_str());
  const std::pair<float, float> weight{-0.125f, 0.125f}, recurrent{-0.5f, 0.5f},
      bias{-0.1f, 0.1f};
  const int64_t B = 1;
  Cell gru{"ParaRNN GRU (diagonal Jacobian)", 64, 128, 1,
           {{128 * 64, weight}, {128 * 64, weight}, {128 * 64, weight},
            {128, recurrent}, {128, recurrent}, {128, recurrent},
            {128, bias}, {128, bias}, {128, bias}},
           [](bool newton, CUstream s, int64_t T, CUdeviceptr x, const Params &p,
              CUdeviceptr y, CUdeviceptr f) {
             auto kernel = newton ? pararnn_gru_newton_forward_cuda
                                  : pararnn_gru_sequential_forward_cuda;
             return kernel(s, B, T, x, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
                           0, y, f);
           }};
  Cell lstm{"ParaRNN LSTM (2x2 blocks)", 64, 128, 2,
            {{128 * 64, weight}, {128 * 64, weight}, {128 * 64, weight}, {128 * 64, weight},
             {128, recurrent}, {128, recurrent}, {128, recurrent}, {128, recurrent},
             {128, {0.5f, 1.5f}}},
            [](bool newton, CUstream s, int64_t T, CUdeviceptr x, const Params &p,
               CUdeviceptr y, CUdeviceptr f) {
              auto kernel = newton ? pararnn_lstm_newton_forward_cuda
                                   : pararnn_lstm_sequential_forward_cuda;
              return kernel(s, B, T, x, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
                            0, 0, y, f, f + B * 128 * 4);
            }};
  Cell slstm{"sLSTM (4x4 blocks)", 64, 64, 4,
             {{64 * 64, weight}, {64 * 64, weight}, {64 * 64, weight}, {64 * 64, weight},
              {64, recurrent}, {64, recurrent}, {64, recurrent}, {64, recurrent},
              {64, {1.0f, 3.0f}}},
             [](bool newton, CUstream s, int64_t T, CUdeviceptr x, const Params &p,
                CUdeviceptr y, CUdeviceptr f) {
               auto kernel =
                   newton ? slstm_newton_forward_cuda : slstm_sequential_forward_cuda;
               return kernel(s, B, T, x, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
                             0, 0, 0, 0, y, f, f + B * 64 * 4, f + 2 * B * 64 * 4,
                             f + 3 * B * 64 * 4);
             }};
  for (const Cell *cell : {&gru, &lstm, &slstm})
    benchCell(*cell, stream, lengths);
  return 0;
}
