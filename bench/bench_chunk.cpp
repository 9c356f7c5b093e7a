//===- bench_chunk.cpp - GLA: the chunked form against a hand-written loop --===//
//
// `make bench`, third part (issue 6): Gated Linear Attention
// (examples/gla.seq) at B = 4, 4 heads, Dk = Dv = 64, D = 256, T = 4096,
// compiled with --form chunk and --form sequential (bench/CMakeLists.txt
// renames the models), against a hand-written C++ loop of the same math
// (projections for all steps first, vectorised over the output rows, then
// the recurrence with the [4, 64, 64] state of a row kept in cache), all on
// every core, timed in the same run.
// GFLOP/s count the model's work in its recurrent form (projections
// 2 x 4 x H x Dk x D, state update 3 x H x Dk x Dv and read 2 x H x Dk x Dv
// flops a step), the same for every variant; the reference is a plain
// 64 x 64 x 64 matmul (the chunk's sizes) on one core.
//
//===----------------------------------------------------------------------===//
#include "gla_chunk.h"
#include "gla_sequential.h"

#include "bench_util.h"

using namespace bench;

namespace {

constexpr int64_t kB = 4, kH = 4, kK = 64, kV = 64, kD = 256;

struct Data {
  int64_t T;
  std::vector<float> x, Wq, Wk, Wv, Wa, ba;
  std::vector<float> WqT, WkT, WvT, WaT; // for the hand-written loop
  explicit Data(int64_t T)
      : T(T), x(kB * T * kD), Wq(kH * kK * kD), Wk(kH * kK * kD), Wv(kH * kV * kD),
        Wa(kH * kK * kD), ba(kH * kK) {
    fill(x, -1, 1, 1);
    fill(Wq, -0.0625f, 0.0625f, 2);
    fill(Wk, -0.0625f, 0.0625f, 3);
    fill(Wv, -0.0625f, 0.0625f, 4);
    fill(Wa, -0.0625f, 0.0625f, 5);
    fill(ba, 2, 4, 6);
    WqT = transposed(Wq, kH * kK, kD);
    WkT = transposed(Wk, kH * kK, kD);
    WvT = transposed(Wv, kH * kV, kD);
    WaT = transposed(Wa, kH * kK, kD);
  }
};

/// GLA for batch rows [begin, end): projections, then the recurrence.
void handWritten(const Data &data, float *o, int64_t begin, int64_t end) {
  const int64_t T = data.T, HK = kH * kK, HV = kH * kV;
  std::vector<float> q(T * HK), k(T * HK), v(T * HV), a(T * HK), S(kH * kK * kV);
  const float scale = 1.0f / std::sqrt(float(kK));
  for (int64_t row = begin; row < end; ++row) {
    const float *x = data.x.data() + row * T * kD;
    project(x, data.WqT.data(), q.data(), T, HK, kD);
    project(x, data.WkT.data(), k.data(), T, HK, kD);
    project(x, data.WvT.data(), v.data(), T, HV, kD);
    project(x, data.WaT.data(), a.data(), T, HK, kD);
    for (int64_t i = 0; i < T * HK; ++i) {
      float z = a[i] + data.ba[i % HK];
      float logSigmoid = std::min(z, 0.0f) - std::log1p(std::exp(-std::fabs(z)));
      a[i] = std::exp(logSigmoid / 16);
      k[i] *= scale;
    }
    std::fill(S.begin(), S.end(), 0.0f);
    float *__restrict s = S.data();
    for (int64_t t = 0; t < T; ++t) {
      float *__restrict out = o + (row * T + t) * HV;
      for (int64_t h = 0; h < kH; ++h) {
        const float *qt = &q[t * HK + h * kK], *kt = &k[t * HK + h * kK],
                    *at = &a[t * HK + h * kK], *vt = &v[t * HV + h * kV];
        float read[kV] = {};
        for (int64_t i = 0; i < kK; ++i) {
          float *__restrict si = s + (h * kK + i) * kV;
          for (int64_t j = 0; j < kV; ++j) {
            si[j] = at[i] * si[j] + kt[i] * vt[j];
            read[j] += qt[i] * si[j];
          }
        }
        for (int64_t j = 0; j < kV; ++j)
          out[h * kV + j] = read[j];
      }
    }
  }
}

/// GFLOP/s of a plain [64 x 64] x [64 x 64] matmul on one core.
double matmulGflops() {
  std::vector<float> A(kK * kK), Bm(kK * kV), C(kK * kV);
  fill(A, -1, 1, 7);
  fill(Bm, -1, 1, 8);
  const int reps = 2000;
  auto run = [&] {
    for (int r = 0; r < reps; ++r) {
      float *__restrict c = C.data();
      std::fill(C.begin(), C.end(), 0.0f);
      for (int64_t i = 0; i < kK; ++i)
        for (int64_t p = 0; p < kK; ++p) {
          float aip = A[i * kK + p];
          for (int64_t j = 0; j < kV; ++j)
            c[i * kV + j] += aip * Bm[p * kV + j];
        }
      asm volatile("" : : "r"(c) : "memory");
    }
  };
  std::vector<Variant> variants;
  variants.emplace_back("matmul", run);
  timeAll(variants);
  return 2.0 * kK * kK * kV * reps / variants[0].median() / 1e9;
}

} // namespace

int main(int argc, char **argv) {
  int64_t T = argc > 1 ? std::atoll(argv[1]) : 4096;
  unsigned threads = std::thread::hardware_concurrency();
  Data data(T);
  std::vector<float> oSeq(kB * T * kH * kV), oChunk(oSeq.size()), oHand(oSeq.size()),
      final(kB * kH * kK * kV);
  std::vector<Variant> variants;
  variants.emplace_back("seqc --form chunk", [&] {
    check(gla_chunk_forward(kB, T, data.x.data(), data.Wq.data(), data.Wk.data(),
                            data.Wv.data(), data.Wa.data(), data.ba.data(), nullptr,
                            oChunk.data(), final.data()),
          "gla_chunk");
  });
  variants.emplace_back("seqc --form sequential", [&] {
    check(gla_sequential_forward(kB, T, data.x.data(), data.Wq.data(), data.Wk.data(),
                                 data.Wv.data(), data.Wa.data(), data.ba.data(), nullptr,
                                 oSeq.data(), final.data()),
          "gla_sequential");
  });
  variants.emplace_back("hand-written C++ loop", [&] {
    parallelFor(int(threads), kB,
                [&](int64_t begin, int64_t end) { handWritten(data, oHand.data(), begin, end); });
  });
  timeAll(variants);
  double flops = double(kB) * T *
                 (2.0 * 4 * kH * kK * kD + 3.0 * kH * kK * kV + 2.0 * kH * kK * kV);
  double hand = variants[2].median();
  std::printf("## GLA (B = %lld, %lld heads, Dk = Dv = %lld, D = %lld, T = %lld), median of %d "
              "rounds, %u threads\n\n",
              (long long)kB, (long long)kH, (long long)kK, (long long)kD, (long long)T, rounds(),
              threads);
  std::printf("| variant | ms | GFLOP/s (recurrent-form work) | time / hand-written | max abs "
              "difference to the hand-written loop |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: |\n");
  const std::vector<float> *outputs[] = {&oChunk, &oSeq, &oHand};
  for (size_t i = 0; i < variants.size(); ++i)
    std::printf("| %s | %.1f | %.2f | %.2f | %.1e |\n", variants[i].name.c_str(),
                variants[i].median() * 1e3, flops / variants[i].median() / 1e9,
                variants[i].median() / hand, maxAbsDiff(*outputs[i], oHand));
  std::printf("\nA plain 64 x 64 x 64 matmul (the chunk's sizes) on one core: %.2f GFLOP/s\n",
              matmulGflops());
  return 0;
}
