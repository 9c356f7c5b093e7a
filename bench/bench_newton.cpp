//===- bench_newton.cpp - The Newton form against the sequential form ------===//
//
// `make bench`, second part: ParaRNN's GRU and LSTM and the sLSTM cell
// (examples/), each compiled twice, with --form sequential and with --form
// newton (bench/CMakeLists.txt renames the models), timed in the same run at
// B = 1 for T from 1024 to 65536, on all cores. For each length the table
// gives both times, their ratio, the Newton iterations the kernel reported
// (SEQC_VERBOSE, read back from stderr) and the largest difference between
// the two outputs.
//
//===----------------------------------------------------------------------===//
#include "pararnn_gru_newton.h"
#include "pararnn_gru_sequential.h"
#include "pararnn_lstm_newton.h"
#include "pararnn_lstm_sequential.h"
#include "slstm_newton.h"
#include "slstm_sequential.h"

#include "bench_util.h"

using namespace bench;

namespace {

/// A cell's data at one length, and its two compiled forms.
struct Cell {
  const char *name;
  int64_t D, H, numStates;
  /// (lo, hi) of each param, in the model's order.
  std::vector<std::pair<int64_t, std::pair<float, float>>> params;
  std::function<int(bool newton, int64_t B, int64_t T, const float *x,
                    const std::vector<std::vector<float>> &p, float *y, float *finals)>
      call;
};

void benchCell(const Cell &cell, const std::vector<int64_t> &lengths) {
  std::printf("\n### %s (D = %lld, H = %lld), B = 1\n\n", cell.name, (long long)cell.D,
              (long long)cell.H);
  std::printf("| T | sequential (ms) | Newton (ms) | Newton / sequential | Newton iterations | "
              "max abs difference |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::vector<std::vector<float>> params;
  uint64_t seed = 100;
  for (auto &[size, range] : cell.params) {
    params.emplace_back(size);
    fill(params.back(), range.first, range.second, seed++);
  }
  for (int64_t T : lengths) {
    const int64_t B = 1;
    std::vector<float> x(B * T * cell.D), ySeq(B * T * cell.H), yNewton(B * T * cell.H),
        finals(cell.numStates * B * cell.H);
    fill(x, -1, 1, 7);
    std::vector<Variant> variants;
    variants.emplace_back("sequential", [&] {
      check(cell.call(false, B, T, x.data(), params, ySeq.data(), finals.data()), cell.name);
    });
    variants.emplace_back("newton", [&] {
      check(cell.call(true, B, T, x.data(), params, yNewton.data(), finals.data()), cell.name);
    });
    timeAll(variants);
    setenv("SEQC_VERBOSE", "1", 1);
    std::string log = captureStderr([&] { variants[1].run(); });
    unsetenv("SEQC_VERBOSE");
    double seq = variants[0].median(), newton = variants[1].median();
    std::printf("| %lld | %.2f | %.2f | %.2f | %s | %.1e |\n", (long long)T, seq * 1e3,
                newton * 1e3, newton / seq, iterationsOf(log).c_str(),
                maxAbsDiff(ySeq, yNewton));
    std::fflush(stdout);
  }
}

using P = std::vector<std::vector<float>>;

} // namespace

int main(int argc, char **argv) {
  std::vector<int64_t> lengths = {1024, 4096, 16384, 65536};
  if (argc > 1)
    lengths = {std::atoll(argv[1])};
  std::printf("## The Newton form vs the sequential form, median of %d rounds, %u cores\n",
              rounds(), std::thread::hardware_concurrency());
  const std::pair<float, float> weight{-0.125f, 0.125f}, recurrent{-0.5f, 0.5f},
      bias{-0.1f, 0.1f};
  Cell gru{"ParaRNN GRU (diagonal Jacobian)", 64, 128, 1,
           {{128 * 64, weight}, {128 * 64, weight}, {128 * 64, weight},
            {128, recurrent}, {128, recurrent}, {128, recurrent},
            {128, bias}, {128, bias}, {128, bias}},
           [](bool newton, int64_t B, int64_t T, const float *x, const P &p, float *y,
              float *f) {
             auto kernel = newton ? pararnn_gru_newton_forward : pararnn_gru_sequential_forward;
             return kernel(B, T, x, p[0].data(), p[1].data(), p[2].data(), p[3].data(),
                           p[4].data(), p[5].data(), p[6].data(), p[7].data(), p[8].data(),
                           nullptr, y, f);
           }};
  Cell lstm{"ParaRNN LSTM (2x2 blocks)", 64, 128, 2,
            {{128 * 64, weight}, {128 * 64, weight}, {128 * 64, weight}, {128 * 64, weight},
             {128, recurrent}, {128, recurrent}, {128, recurrent}, {128, recurrent},
             {128, {0.5f, 1.5f}}},
            [](bool newton, int64_t B, int64_t T, const float *x, const P &p, float *y,
               float *f) {
              auto kernel =
                  newton ? pararnn_lstm_newton_forward : pararnn_lstm_sequential_forward;
              return kernel(B, T, x, p[0].data(), p[1].data(), p[2].data(), p[3].data(),
                            p[4].data(), p[5].data(), p[6].data(), p[7].data(), p[8].data(),
                            nullptr, nullptr, y, f, f + B * 128);
            }};
  Cell slstm{"sLSTM (4x4 blocks)", 64, 64, 4,
             {{64 * 64, weight}, {64 * 64, weight}, {64 * 64, weight}, {64 * 64, weight},
              {64, recurrent}, {64, recurrent}, {64, recurrent}, {64, recurrent},
              {64, {1.0f, 3.0f}}},
             [](bool newton, int64_t B, int64_t T, const float *x, const P &p, float *y,
                float *f) {
               auto kernel = newton ? slstm_newton_forward : slstm_sequential_forward;
               return kernel(B, T, x, p[0].data(), p[1].data(), p[2].data(), p[3].data(),
                             p[4].data(), p[5].data(), p[6].data(), p[7].data(), p[8].data(),
                             nullptr, nullptr, nullptr, nullptr, y, f, f + B * 64,
                             f + 2 * B * 64, f + 3 * B * 64);
             }};
  for (const Cell *cell : {&gru, &lstm, &slstm})
    benchCell(*cell, lengths);
  return 0;
}
