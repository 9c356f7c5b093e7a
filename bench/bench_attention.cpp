//===- bench_attention.cpp - Chunked attention against step-by-step loops -===//
//
// `make bench`, fourth part (issue 6): causal softmax attention
// (examples/attention.seq, B = 4, 4 heads, Dk = Dv = 16, D = 64, T = 2048)
// and attention with one learned query (examples/learned_query_attention.seq,
// Dk = Dv = 32, D = 64, T = 4096), each compiled with --form chunk (what
// --form auto takes) and --form sequential, against a hand-written C++ loop
// of the same math (projections for all steps first, then per step the
// scores of the history, their max, and the weighted sum; for the learned
// query the running (max, normaliser, weighted sum)), on every core, timed
// in the same run. GFLOP/s count the attention's own work: 2 (Dk + Dv)
// flops per (query, visible key) pair for causal attention.
//
//===----------------------------------------------------------------------===//
#include "attention_chunk.h"
#include "attention_sequential.h"
#include "learned_query_attention_chunk.h"
#include "learned_query_attention_sequential.h"

#include "bench_util.h"

using namespace bench;

namespace {

constexpr int64_t kB = 4, kD = 64;

void printTable(std::vector<Variant> &variants,
                const std::vector<const std::vector<float> *> &outputs, double flops) {
  double hand = variants.back().median();
  std::printf("| variant | ms | GFLOP/s (attention work) | time / hand-written | max abs "
              "difference to the hand-written loop |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: |\n");
  for (size_t i = 0; i < variants.size(); ++i)
    std::printf("| %s | %.1f | %.2f | %.2f | %.1e |\n", variants[i].name.c_str(),
                variants[i].median() * 1e3, flops / variants[i].median() / 1e9,
                variants[i].median() / hand, maxAbsDiff(*outputs[i], *outputs.back()));
}

/// Causal attention, 4 heads of Dk = Dv = 16: o[t] = softmax(q[t] K[..t]^T
/// / 4) V[..t], per (row, head), for batch rows [begin, end).
void causalByHand(const std::vector<float> &x, const std::vector<float> &WqT,
                  const std::vector<float> &WkT, const std::vector<float> &WvT, float *o,
                  int64_t T, int64_t begin, int64_t end) {
  constexpr int64_t H = 4, K = 16, HK = H * K;
  std::vector<float> q(T * HK), k(T * HK), v(T * HK), scores(T);
  const float scale = 0.25f;
  for (int64_t row = begin; row < end; ++row) {
    const float *xr = x.data() + row * T * kD;
    project(xr, WqT.data(), q.data(), T, HK, kD);
    project(xr, WkT.data(), k.data(), T, HK, kD);
    project(xr, WvT.data(), v.data(), T, HK, kD);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const float *__restrict qt = &q[t * HK + h * K];
        float top = -INFINITY;
        for (int64_t i = 0; i <= t; ++i) {
          const float *__restrict ki = &k[i * HK + h * K];
          float s = 0;
          for (int64_t d = 0; d < K; ++d)
            s += qt[d] * ki[d];
          scores[i] = s * scale;
          top = std::max(top, scores[i]);
        }
        float sum = 0, acc[K] = {};
        for (int64_t i = 0; i <= t; ++i) {
          float p = std::exp(scores[i] - top);
          sum += p;
          const float *__restrict vi = &v[i * HK + h * K];
          for (int64_t d = 0; d < K; ++d)
            acc[d] += p * vi[d];
        }
        float *__restrict out = o + (row * T + t) * HK + h * K;
        for (int64_t d = 0; d < K; ++d)
          out[d] = acc[d] / sum;
      }
  }
}

/// One learned query q (Dk = Dv = 32): the running (max, normaliser,
/// weighted sum) over the steps, for batch rows [begin, end).
void learnedByHand(const std::vector<float> &x, const std::vector<float> &query,
                   const std::vector<float> &WkT, const std::vector<float> &WvT, float *o,
                   int64_t T, int64_t begin, int64_t end) {
  constexpr int64_t K = 32;
  std::vector<float> k(T * K), v(T * K);
  const float scale = 1.0f / std::sqrt(float(K));
  for (int64_t row = begin; row < end; ++row) {
    const float *xr = x.data() + row * T * kD;
    project(xr, WkT.data(), k.data(), T, K, kD);
    project(xr, WvT.data(), v.data(), T, K, kD);
    float top = -INFINITY, sum = 0, acc[K] = {};
    for (int64_t t = 0; t < T; ++t) {
      float s = 0;
      for (int64_t d = 0; d < K; ++d)
        s += query[d] * k[t * K + d];
      s *= scale;
      float next = std::max(top, s), old = std::exp(top - next), p = std::exp(s - next);
      sum = old * sum + p;
      float *__restrict out = o + (row * T + t) * K;
      for (int64_t d = 0; d < K; ++d) {
        acc[d] = old * acc[d] + p * v[t * K + d];
        out[d] = acc[d] / sum;
      }
      top = next;
    }
  }
}

void benchCausal(int64_t T, unsigned threads) {
  constexpr int64_t HK = 64;
  std::vector<float> x(kB * T * kD), Wq(HK * kD), Wk(HK * kD), Wv(HK * kD);
  fill(x, -1, 1, 1);
  fill(Wq, -0.25f, 0.25f, 2);
  fill(Wk, -0.25f, 0.25f, 3);
  fill(Wv, -0.25f, 0.25f, 4);
  std::vector<float> WqT = transposed(Wq, HK, kD), WkT = transposed(Wk, HK, kD),
                     WvT = transposed(Wv, HK, kD);
  std::vector<float> oChunk(kB * T * HK), oSeq(oChunk.size()), oHand(oChunk.size());
  std::vector<Variant> variants;
  variants.emplace_back("seqc --form chunk (and auto)", [&] {
    check(causal_attention_chunk_forward(kB, T, x.data(), Wq.data(), Wk.data(), Wv.data(),
                                         oChunk.data()),
          "causal_attention_chunk");
  });
  variants.emplace_back("seqc --form sequential", [&] {
    check(causal_attention_sequential_forward(kB, T, x.data(), Wq.data(), Wk.data(), Wv.data(),
                                              oSeq.data()),
          "causal_attention_sequential");
  });
  variants.emplace_back("hand-written C++ loop", [&] {
    parallelFor(int(threads), kB, [&](int64_t begin, int64_t end) {
      causalByHand(x, WqT, WkT, WvT, oHand.data(), T, begin, end);
    });
  });
  timeAll(variants);
  double pairs = double(T) * (T + 1) / 2;
  std::printf("## Causal attention (B = %lld, 4 heads, Dk = Dv = 16, D = %lld, T = %lld), "
              "median of %d rounds, %u threads\n\n",
              (long long)kB, (long long)kD, (long long)T, rounds(), threads);
  printTable(variants, {&oChunk, &oSeq, &oHand}, kB * 4 * pairs * 2.0 * (16 + 16));
}

void benchLearned(int64_t T, unsigned threads) {
  constexpr int64_t K = 32;
  std::vector<float> x(kB * T * kD), q(K), Wk(K * kD), Wv(K * kD);
  fill(x, -1, 1, 5);
  fill(q, -1, 1, 6);
  fill(Wk, -0.25f, 0.25f, 7);
  fill(Wv, -0.25f, 0.25f, 8);
  std::vector<float> WkT = transposed(Wk, K, kD), WvT = transposed(Wv, K, kD);
  std::vector<float> oChunk(kB * T * K), oSeq(oChunk.size()), oHand(oChunk.size());
  std::vector<Variant> variants;
  variants.emplace_back("seqc --form chunk (and auto)", [&] {
    check(learned_query_attention_chunk_forward(kB, T, x.data(), q.data(), Wk.data(), Wv.data(),
                                                oChunk.data()),
          "learned_query_attention_chunk");
  });
  variants.emplace_back("seqc --form sequential", [&] {
    check(learned_query_attention_sequential_forward(kB, T, x.data(), q.data(), Wk.data(),
                                                     Wv.data(), oSeq.data()),
          "learned_query_attention_sequential");
  });
  variants.emplace_back("hand-written C++ loop", [&] {
    parallelFor(int(threads), kB, [&](int64_t begin, int64_t end) {
      learnedByHand(x, q, WkT, WvT, oHand.data(), T, begin, end);
    });
  });
  timeAll(variants);
  std::printf("## Attention with a learned query (B = %lld, Dk = Dv = 32, D = %lld, T = %lld), "
              "median of %d rounds, %u threads\n\n",
              (long long)kB, (long long)kD, (long long)T, rounds(), threads);
  // The recurrent form's work: projections 2 x 2 x 32 x D, the score 2 x
  // 32, the update and the output 4 x 32 flops a step.
  printTable(variants, {&oChunk, &oSeq, &oHand},
             double(kB) * T * (2.0 * 2 * K * kD + 2.0 * K + 4.0 * K));
}

} // namespace

int main(int argc, char **argv) {
  int64_t T = argc > 1 ? std::atoll(argv[1]) : 2048;
  unsigned threads = std::thread::hardware_concurrency();
  benchCausal(T, threads);
  std::printf("\n");
  benchLearned(2 * T, threads);
  return 0;
}
