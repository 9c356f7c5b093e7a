//===- bench_util.h - What the seqc benchmarks share ------------------*- C++ -*-===//
//
// Timing (every variant once per round, rounds interleaved, the median
// reported), fixed-seed data, the hand-written loops' projections, status
// checks and the Newton form's report, for the benchmarks in bench/ and
// bench/gpu/.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_UTIL_H
#define SEQC_BENCH_UTIL_H

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

#include <unistd.h>

namespace bench {

using Clock = std::chrono::steady_clock;

inline int rounds() {
  const char *env = std::getenv("SEQC_BENCH_ROUNDS");
  int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : 5;
}

/// Fills with uniform values in [lo, hi) from a fixed-seed generator.
inline void fill(std::vector<float> &v, float lo, float hi, uint64_t seed) {
  for (float &x : v) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    x = lo + (hi - lo) * float(seed >> 40) / float(1ull << 24);
  }
}

/// Runs fn(begin, end) over [0, n) split into `threads` contiguous ranges.
inline void parallelFor(int threads, int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i)
    workers.emplace_back(fn, n * i / threads, n * (i + 1) / threads);
  fn(0, n / threads);
  for (auto &w : workers)
    w.join();
}

inline void setKernelThreads(int threads) {
  setenv("SEQC_NUM_THREADS", std::to_string(threads).c_str(), 1);
}

struct Variant {
  Variant(std::string name, std::function<void()> run) : name(std::move(name)), run(std::move(run)) {}
  std::string name;
  std::function<void()> run;
  std::vector<double> seconds;
  double median() {
    std::vector<double> s = seconds;
    std::sort(s.begin(), s.end());
    return s[s.size() / 2];
  }
};

/// Times every variant `rounds()` times, interleaved, after one warm-up
/// round (which also faults in the output pages).
inline void timeAll(std::vector<Variant> &variants) {
  for (auto &v : variants)
    v.run();
  for (int r = 0; r < rounds(); ++r)
    for (auto &v : variants) {
      auto start = Clock::now();
      v.run();
      v.seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
}

/// [rows, D] -> [D, rows]: the hand-written loops' weight layout, made once.
inline std::vector<float> transposed(const std::vector<float> &W, int64_t rows, int64_t D) {
  std::vector<float> Wt(W.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < D; ++d)
      Wt[d * rows + r] = W[r * D + d];
  return Wt;
}

/// out[t, r] = sum_d W[r, d] x[t, d] for the T steps of one batch row, with
/// W given transposed ([D, rows]) so that the inner loop vectorises over r.
inline void project(const float *__restrict x, const float *__restrict Wt, float *__restrict out,
                    int64_t T, int64_t rows, int64_t D) {
  for (int64_t t = 0; t < T; ++t) {
    float *__restrict o = out + t * rows;
    for (int64_t r = 0; r < rows; ++r)
      o[r] = 0;
    for (int64_t d = 0; d < D; ++d) {
      const float xd = x[t * D + d];
      const float *__restrict w = Wt + d * rows;
      for (int64_t r = 0; r < rows; ++r)
        o[r] += w[r] * xd;
    }
  }
}

inline double maxAbsDiff(const std::vector<float> &x, const std::vector<float> &y) {
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double d = std::fabs(double(x[i]) - y[i]);
    if (!(d <= worst))
      worst = std::isnan(d) ? INFINITY : d;
  }
  return worst;
}

inline void check(int status, const char *what) {
  if (status != 0) {
    std::fprintf(stderr, "%s returned %d\n", what, status);
    std::exit(1);
  }
}

/// What the kernel said on stderr while `fn` ran.
inline std::string captureStderr(const std::function<void()> &fn) {
  std::fflush(stderr);
  int saved = dup(2);
  FILE *log = std::tmpfile();
  dup2(fileno(log), 2);
  fn();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::rewind(log);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, log)) > 0)
    text.append(buffer, n);
  std::fclose(log);
  return text;
}

/// "3" or "10, not converged" from the Newton form's report under
/// SEQC_VERBOSE (the CPU runtime's or the CUDA launcher's).
inline std::string iterationsOf(const std::string &log) {
  size_t at = log.find("after ");
  if (at == std::string::npos)
    return "?";
  std::string count = log.substr(at + 6, log.find(' ', at + 6) - at - 6);
  return log.find("did not converge") != std::string::npos ? count + ", not converged"
                                                            : count;
}

} // namespace bench

#endif // SEQC_BENCH_UTIL_H
