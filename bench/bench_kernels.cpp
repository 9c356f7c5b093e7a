//===- bench_kernels.cpp - seqc kernels against hand-written C++ ---------===//
//
// `make bench`. Every figure is measured in this run, so the ratios compare
// like with like on a noisy machine:
//  - a diagonal recurrence h = a * h + b (bench/diagonal.seq) against a plain
//    C++ loop over (b, t, h) and against a triad c = a + s * b streaming the
//    same bytes (two arrays read, one written), with 1 and 2 threads;
//  - minGRU and Mamba's S6 (examples/) end to end, projections included,
//    against a plain C++ step loop of the same math.
// The C++ here is built with -O3 -march=native. Each variant runs once per
// round, rounds interleave the variants, and the table shows the median.
//
//===----------------------------------------------------------------------===//
#include "diagonal.h"
#include "mamba_s6.h"
#include "mingru.h"

#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace bench;

//===----------------------------------------------------------------------===//
// Diagonal recurrence
//===----------------------------------------------------------------------===//

/// The plain loop: for each (b, channel range), h = a * h + b over t.
void diagonalLoop(int64_t T, int64_t H, const float *__restrict a, const float *__restrict b,
                  float *__restrict y, int64_t row, int64_t h0, int64_t h1) {
  std::vector<float> state(h1 - h0, 0.0f);
  float *__restrict h = state.data();
  for (int64_t t = 0; t < T; ++t) {
    const int64_t base = (row * T + t) * H;
    for (int64_t i = h0; i < h1; ++i) {
      h[i - h0] = a[base + i] * h[i - h0] + b[base + i];
      y[base + i] = h[i - h0];
    }
  }
}

void triad(const float *__restrict a, const float *__restrict b, float *__restrict c,
           int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i)
    c[i] = a[i] + 0.5f * b[i];
}

using DiagonalKernel = int (*)(int64_t, int64_t, const float *, const float *, const float *,
                               float *, float *);

/// Sets SEQC_SCAN_SPLIT for the kernel's next calls ("" = the runtime's
/// cost model decides).
void setScanSplit(const char *split) {
  if (*split)
    setenv("SEQC_SCAN_SPLIT", split, 1);
  else
    unsetenv("SEQC_SCAN_SPLIT");
}

void benchDiagonal(const char *label, DiagonalKernel kernel, int64_t B, int64_t H, int64_t T) {
  const int64_t n = B * T * H;
  std::vector<float> a(n), b(n), y(n), yLoop(n), final(B * H);
  fill(a, 0.5f, 1.0f, 1);
  fill(b, -1.0f, 1.0f, 2);
  std::vector<Variant> variants;
  std::vector<int> threadsOf;
  std::vector<bool> isKernel;
  auto add = [&](std::string name, int threads, bool kernelVariant, std::function<void()> run) {
    variants.push_back({std::move(name), std::move(run)});
    threadsOf.push_back(threads);
    isKernel.push_back(kernelVariant);
  };
  for (int threads : {1, 2}) {
    // The kernel as shipped (the runtime's plan decides how to split), then,
    // on 2 threads, with the time split forced off and on to show what the
    // plan chose between.
    struct Choice {
      const char *split, *what;
    };
    std::vector<Choice> choices = {{"", ""}};
    if (threads > 1 && B < threads)
      choices = {{"", ", cost model"},
                 {"none", ", no time split"},
                 {"phases", ", three-phase split"},
                 {"chained", ", chained split"}};
    for (Choice choice : choices)
      add("seqc kernel, " + std::to_string(threads) + " thread(s)" + choice.what, threads,
          *choice.split == 0, [&, threads, choice] {
            setKernelThreads(threads);
            setScanSplit(choice.split);
            check(kernel(B, T, a.data(), b.data(), nullptr, y.data(), final.data()), label);
            setScanSplit("");
          });
    // Threads split the (row, channel) lanes: rows first, then halves of H.
    add("C++ loop, " + std::to_string(threads) + " thread(s)", threads, false, [&, threads] {
      int64_t splits = B >= threads ? 1 : threads;
      parallelFor(threads, B * splits, [&](int64_t begin, int64_t end) {
        for (int64_t lane = begin; lane < end; ++lane) {
          int64_t row = lane / splits, part = lane % splits;
          diagonalLoop(T, H, a.data(), b.data(), yLoop.data(), row, H * part / splits,
                       H * (part + 1) / splits);
        }
      });
    });
    add("triad, " + std::to_string(threads) + " thread(s)", threads, false, [&, threads] {
      parallelFor(threads, n,
                  [&](int64_t begin, int64_t end) { triad(a.data(), b.data(), yLoop.data(), begin, end); });
    });
  }
  // The kernel's output with the plan's choice, then the loop's, for the
  // agreement check.
  add("", 2, false, [&] {
    setKernelThreads(2);
    check(kernel(B, T, a.data(), b.data(), nullptr, y.data(), final.data()), label);
  });
  add("", 1, false, [&] {
    for (int64_t row = 0; row < B; ++row)
      diagonalLoop(T, H, a.data(), b.data(), yLoop.data(), row, 0, H);
  });
  timeAll(variants);
  variants.erase(variants.end() - 2, variants.end());
  double bytes = 3.0 * double(n) * sizeof(float);
  std::printf("\n### %s: B = %lld, H = %lld, T = %lld (%.2f GB streamed per call)\n\n", label,
              (long long)B, (long long)H, (long long)T, bytes / 1e9);
  std::printf("| variant | time (ms) | GB/s | kernel / this |\n| --- | ---: | ---: | ---: |\n");
  // "kernel / this": this variant's time over the shipped kernel's at the
  // same thread count, i.e. the kernel's bandwidth as a fraction of this
  // one's; >= 1 means the kernel is at least as fast.
  double kernelTime[3] = {0, 0, 0};
  for (size_t i = 0; i < variants.size(); ++i)
    if (isKernel[i])
      kernelTime[threadsOf[i]] = variants[i].median();
  for (size_t i = 0; i < variants.size(); ++i) {
    double t = variants[i].median();
    std::printf("| %s | %.1f | %.1f | %.2f |\n", variants[i].name.c_str(), t * 1e3,
                bytes / t / 1e9, t / kernelTime[threadsOf[i]]);
  }
  std::printf("\nmax |kernel - loop| = %.2e\n", maxAbsDiff(y, yLoop));
}

//===----------------------------------------------------------------------===//
// minGRU (examples/mingru.seq: D = 64, H = 128)
//===----------------------------------------------------------------------===//

void minGRULoop(int64_t T, const float *x, const float *Wz, const float *Wh, float *y,
                int64_t row) {
  constexpr int D = 64, H = 128;
  float h[H] = {0};
  for (int64_t t = 0; t < T; ++t) {
    const float *xt = x + (row * T + t) * D;
    float *yt = y + (row * T + t) * H;
    for (int i = 0; i < H; ++i) {
      float gz = 0, gh = 0;
      for (int j = 0; j < D; ++j) {
        gz += Wz[i * D + j] * xt[j];
        gh += Wh[i * D + j] * xt[j];
      }
      float z = 1.0f / (1.0f + std::exp(-gz));
      h[i] = (1 - z) * h[i] + z * gh;
      yt[i] = h[i];
    }
  }
}

//===----------------------------------------------------------------------===//
// Mamba's S6 (examples/mamba_s6.seq: D = 64, N = 16)
//===----------------------------------------------------------------------===//

void mambaLoop(int64_t T, const float *x, const float *A_log, const float *W_delta,
               const float *b_delta, const float *W_B, const float *W_C, const float *D_skip,
               float *y, int64_t row) {
  constexpr int D = 64, N = 16;
  float A[D * N];
  for (int i = 0; i < D * N; ++i)
    A[i] = -std::exp(A_log[i]);
  std::vector<float> h(D * N, 0.0f);
  for (int64_t t = 0; t < T; ++t) {
    const float *xt = x + (row * T + t) * D;
    float *yt = y + (row * T + t) * D;
    float delta[D], Bt[N], Ct[N];
    for (int d = 0; d < D; ++d) {
      float s = b_delta[d];
      for (int j = 0; j < D; ++j)
        s += W_delta[d * D + j] * xt[j];
      delta[d] = s > 20 ? s : std::log1p(std::exp(s));
    }
    for (int n = 0; n < N; ++n) {
      float sb = 0, sc = 0;
      for (int j = 0; j < D; ++j) {
        sb += W_B[n * D + j] * xt[j];
        sc += W_C[n * D + j] * xt[j];
      }
      Bt[n] = sb;
      Ct[n] = sc;
    }
    for (int d = 0; d < D; ++d) {
      float acc = 0, u = delta[d] * xt[d];
      for (int n = 0; n < N; ++n) {
        float dA = std::exp(delta[d] * A[d * N + n]);
        h[d * N + n] = dA * h[d * N + n] + u * Bt[n];
        acc += h[d * N + n] * Ct[n];
      }
      yt[d] = acc + D_skip[d] * xt[d];
    }
  }
}

/// One end-to-end model: the kernel with 1 and 2 threads against the loop
/// with 1 and 2 threads (rows split across threads).
void benchModel(const char *label, int64_t B, int64_t T, const std::function<void()> &kernel,
                const std::function<void(int64_t row)> &loop, const std::vector<float> &y,
                const std::vector<float> &yLoop) {
  std::vector<Variant> variants;
  for (int threads : {1, 2}) {
    variants.push_back({"seqc kernel, " + std::to_string(threads) + " thread(s)",
                        [&, threads] {
                          setKernelThreads(threads);
                          kernel();
                        }});
    variants.push_back({"C++ step loop, " + std::to_string(threads) + " thread(s)",
                        [&, threads] {
                          parallelFor(threads, B, [&](int64_t begin, int64_t end) {
                            for (int64_t row = begin; row < end; ++row)
                              loop(row);
                          });
                        }});
  }
  timeAll(variants);
  std::printf("\n### %s end to end: B = %lld, T = %lld\n\n", label, (long long)B, (long long)T);
  std::printf("| variant | time (ms) | ns / token | time / kernel time |\n| --- | ---: | ---: | ---: |\n");
  for (size_t i = 0; i < variants.size(); ++i) {
    double t = variants[i].median();
    double kernelTime = variants[i & ~size_t(1)].median();
    std::printf("| %s | %.1f | %.1f | %.2f |\n", variants[i].name.c_str(), t * 1e3,
                t * 1e9 / double(B * T), t / kernelTime);
  }
  std::printf("\nmax |kernel - loop| = %.2e\n", maxAbsDiff(y, yLoop));
}

void benchMinGRU(int64_t B, int64_t T) {
  constexpr int D = 64, H = 128;
  std::vector<float> x(B * T * D), Wz(H * D), Wh(H * D), y(B * T * H), yLoop(B * T * H),
      final(B * H);
  fill(x, -1, 1, 3);
  fill(Wz, -0.125f, 0.125f, 4);
  fill(Wh, -0.125f, 0.125f, 5);
  benchModel(
      "minGRU (D = 64, H = 128)", B, T,
      [&] {
        check(mingru_forward(B, T, x.data(), Wz.data(), Wh.data(), nullptr, y.data(),
                             final.data()),
              "mingru_forward");
      },
      [&](int64_t row) { minGRULoop(T, x.data(), Wz.data(), Wh.data(), yLoop.data(), row); },
      y, yLoop);
}

void benchMamba(int64_t B, int64_t T) {
  constexpr int D = 64, N = 16;
  std::vector<float> x(B * T * D), A_log(D * N), W_delta(D * D), b_delta(D), W_B(N * D),
      W_C(N * D), D_skip(D), y(B * T * D), yLoop(B * T * D), final(B * D * N);
  fill(x, -1, 1, 6);
  fill(A_log, 0, 2.77f, 7);
  fill(W_delta, -0.125f, 0.125f, 8);
  fill(b_delta, -4, -2, 9);
  fill(W_B, -0.125f, 0.125f, 10);
  fill(W_C, -0.125f, 0.125f, 11);
  fill(D_skip, -1, 1, 12);
  benchModel(
      "Mamba S6 (D = 64, N = 16)", B, T,
      [&] {
        check(mamba_s6_forward(B, T, x.data(), A_log.data(), W_delta.data(), b_delta.data(),
                               W_B.data(), W_C.data(), D_skip.data(), nullptr, y.data(),
                               final.data()),
              "mamba_s6_forward");
      },
      [&](int64_t row) {
        mambaLoop(T, x.data(), A_log.data(), W_delta.data(), b_delta.data(), W_B.data(),
                  W_C.data(), D_skip.data(), yLoop.data(), row);
      },
      y, yLoop);
}

} // namespace

int main(int argc, char **argv) {
  std::string only = argc > 1 ? argv[1] : "";
  std::printf("## seqc kernels vs C++ (-O3 -march=native), median of %d rounds, %u cores\n",
              rounds(), std::thread::hardware_concurrency());
  if (only.empty() || only == "diagonal") {
    benchDiagonal("diagonal scan, many channels", diagonal_wide_forward, 8, 1024, 16384);
    benchDiagonal("diagonal scan, few channels, long T", diagonal_long_forward, 1, 64, 1 << 20);
  }
  if (only.empty() || only == "models") {
    benchMinGRU(8, 4096);
    benchMamba(8, 2048);
  }
  return 0;
}
