// lowbit's HQQ against hqq's own optimize_weights_proximal_legacy (PyPI hqq 0.2.8.post1,
// run at test time on torch's CPU by tests/peers/algo_hqq.py), and HQQ's point: its zero
// points cut the mean |error| of plain min/max rounding. torch sums the zero-point mean in
// fp32 and lowbit in double, so a code exactly at a rounding tie may differ; the bars are
// >= 99.9 % identical codes and zero points within 1e-4 code steps for >= 99 % of groups.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lowbit/hqq.h"
#include "support/files.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

using lowbit::testing::read_raw;
using lowbit::testing::write_raw;

std::vector<float> heavy_weights(std::int64_t rows, std::int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> t(3.0f);
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (auto& v : w) v = 0.02f * t(rng);
  return w;
}

double mean_abs_error(const std::vector<float>& w, const std::vector<float>& q) {
  double s = 0;
  for (std::size_t i = 0; i < w.size(); ++i) s += std::fabs(static_cast<double>(w[i]) - q[i]);
  return s / static_cast<double>(w.size());
}

TEST(PeerHqq, MatchesHqqsProximalRefinement) {
  const auto dir = lowbit::testing::scratch_dir();
  const std::int64_t rows = 48, cols = 256;
  const auto w = heavy_weights(rows, cols, 11);
  write_raw(dir / "w.f32", w);
  for (const auto& [bits, group] : {std::pair{4, 64}, {3, 128}, {2, 64}, {8, 32}}) {
    SCOPED_TRACE(std::to_string(bits) + " bits, group " + std::to_string(group));
    HqqOptions o;
    o.bits = bits;
    o.group_size = group;
    const GptqResult r = hqq_quantize(w, rows, cols, o, 2);
    const auto out = (dir / "p").string();
    lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "algo_hqq.py",
                                   {"--w", (dir / "w.f32").string(), "--rows", std::to_string(rows), "--cols",
                                    std::to_string(cols), "--bits", std::to_string(bits), "--group",
                                    std::to_string(group), "--out", out});
    const auto codes = read_raw<std::uint8_t>(out + ".codes.u8");
    const auto zeros = read_raw<float>(out + ".zero.f32");
    const auto scales = read_raw<float>(out + ".scale.f32");
    ASSERT_EQ(codes.size(), r.codes.size());
    ASSERT_EQ(zeros.size(), r.zeros.size());
    std::size_t same_codes = 0, close_zeros = 0;
    for (std::size_t i = 0; i < codes.size(); ++i) same_codes += codes[i] == r.codes[i];
    for (std::size_t g = 0; g < zeros.size(); ++g) {
      close_zeros += std::fabs(zeros[g] - r.zeros[g]) <= 1e-4f;
      EXPECT_FLOAT_EQ(scales[g], r.scales[g]) << "group " << g;
    }
    std::printf("%d bits g%d: %zu / %zu codes, %zu / %zu zero points as hqq\n", bits, group, same_codes, codes.size(),
                close_zeros, zeros.size());
    EXPECT_GE(same_codes, codes.size() * 999 / 1000);
    EXPECT_GE(close_zeros, zeros.size() * 99 / 100);
  }
}

TEST(Hqq, RefinedZeroPointsCutTheMeanAbsoluteErrorOfMinMaxRounding) {
  const auto w = heavy_weights(64, 512, 12);
  for (const int bits : {2, 3, 4}) {
    HqqOptions o;
    o.bits = bits;
    const double refined = mean_abs_error(w, hqq_quantize(w, 64, 512, o, 2).dequantized);
    o.optimize = false;
    const double plain = mean_abs_error(w, hqq_quantize(w, 64, 512, o, 2).dequantized);
    std::printf("%d bits: mean |dW| HQQ %.4g vs min/max %.4g\n", bits, refined, plain);
    EXPECT_LT(refined, plain);
  }
}

}  // namespace
