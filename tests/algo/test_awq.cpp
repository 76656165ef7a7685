// AWQ's pieces against identities: unit scales leave the quantizer unchanged, a ragged
// last group is quantized as a group of its own, codes reproduce the dequantized values,
// scaling by powers of two commutes with the grid, and the clip search through H equals
// the search over the tokens themselves (AutoAWQ's formulation) on every group.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lowbit/awq.h"

using namespace lowbit;

namespace {

std::vector<float> randn(std::size_t n, std::uint32_t seed, float s = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& e : v) e = s * d(rng);
  return v;
}

TEST(Awq, CodesReproduceTheDequantizedWeights) {
  for (bool zp : {true, false})
    for (int bits : {2, 3, 4, 8}) {
      AwqOptions o;
      o.bits = bits;
      o.zero_point = zp;
      o.group_size = 64;
      const std::int64_t rows = 8, cols = 200;  // last group: 8 columns
      const auto w = randn(static_cast<std::size_t>(rows * cols), 1);
      const auto r = awq_quantize(w, rows, cols, o);
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t c = 0; c < cols; ++c) {
          const auto k = static_cast<std::size_t>(i * cols + c);
          const auto g = static_cast<std::size_t>(i * r.groups + c / 64);
          ASSERT_LT(r.codes[k], 1 << bits);
          ASSERT_EQ(r.dequantized[k], (static_cast<float>(r.codes[k]) - r.zeros[g]) * r.scales[g]);
        }
    }
}

TEST(Awq, RaggedLastGroupIsItsOwnGroup) {
  AwqOptions o;
  o.group_size = 128;
  const std::int64_t rows = 4, cols = 200;
  const auto w = randn(static_cast<std::size_t>(rows * cols), 2);
  const auto r = awq_quantize(w, rows, cols, o);
  AwqOptions tail = o;
  tail.group_size = -1;
  for (std::int64_t i = 0; i < rows; ++i) {
    std::vector<float> t(w.begin() + i * cols + 128, w.begin() + (i + 1) * cols);
    const auto rt = awq_quantize(t, 1, cols - 128, tail);
    for (std::int64_t c = 0; c < cols - 128; ++c)
      EXPECT_EQ(rt.dequantized[static_cast<std::size_t>(c)], r.dequantized[static_cast<std::size_t>(i * cols + 128 + c)]);
  }
}

TEST(Awq, UnitAndPowerOfTwoScalesCommuteWithTheGrid) {
  AwqOptions o;
  const std::int64_t rows = 16, cols = 256;
  const auto w = randn(static_cast<std::size_t>(rows * cols), 3, 0.05f);
  const auto plain = awq_quantize(w, rows, cols, o).dequantized;
  EXPECT_EQ(awq_fake_quantize_scaled(w, rows, cols, std::vector<float>(cols, 1.0f), o), plain);
  // One power of two per group: w*s and the grid scale by it exactly, so Q(W s)/s = Q(W).
  std::vector<float> s(static_cast<std::size_t>(cols));
  for (std::int64_t c = 0; c < cols; ++c) s[static_cast<std::size_t>(c)] = c < 128 ? 4.0f : 0.125f;
  EXPECT_EQ(awq_fake_quantize_scaled(w, rows, cols, s, o), plain);
}

TEST(Awq, CandidateScalesAreNormalizedAndAlphaZeroIsFlatWithoutDuo) {
  const auto x = randn(64, 4);
  std::vector<float> xm(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) xm[i] = std::fabs(x[i]) + 0.01f;
  for (float a : {0.0f, 0.35f, 0.95f}) {
    const auto s = awq_candidate_scales(xm, {}, a, false);
    const auto [mn, mx] = std::minmax_element(s.begin(), s.end());
    EXPECT_NEAR(double(*mn) * double(*mx), 1.0, 1e-5);
    if (a == 0.0f) {
      for (float v : s) EXPECT_EQ(v, 1.0f);
    }
  }
}

TEST(Awq, ClipSearchThroughHEqualsTheTokenSearch) {
  AwqOptions o;
  o.bits = 3;
  o.group_size = 32;
  const std::int64_t rows = 12, cols = 96, n = 300;
  auto w = randn(static_cast<std::size_t>(rows * cols), 5, 0.05f);
  for (std::size_t i = 0; i < w.size(); i += 31) w[i] *= 5;
  const auto x = randn(static_cast<std::size_t>(n * cols), 6);
  std::vector<double> h(static_cast<std::size_t>(cols * cols), 0.0);
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t a = 0; a < cols; ++a)
      for (std::int64_t b = 0; b < cols; ++b)
        h[static_cast<std::size_t>(a * cols + b)] += double(x[static_cast<std::size_t>(t * cols + a)]) * x[static_cast<std::size_t>(t * cols + b)] / double(n);
  const auto got = awq_search_clip(w, rows, cols, h, o, 2);
  AwqOptions one = o;
  one.group_size = -1;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t g = 0; g < cols / 32; ++g) {
      const float* wg = w.data() + i * cols + g * 32;
      float m0 = 0;
      for (int j = 0; j < 32; ++j) m0 = std::max(m0, std::fabs(wg[j]));
      double best = 1e9;
      float best_m = m0;
      for (int s = 0; s < 10; ++s) {
        const float mv = m0 * static_cast<float>(1.0 - s / 20.0);
        std::vector<float> c(wg, wg + 32);
        for (auto& e : c) e = std::clamp(e, -mv, mv);
        const auto q = awq_quantize(c, 1, 32, one).dequantized;
        double err = 0;
        for (std::int64_t t = 0; t < n; ++t) {
          double y = 0;
          for (int j = 0; j < 32; ++j) y += double(x[static_cast<std::size_t>(t * cols + g * 32 + j)]) * (double(q[static_cast<std::size_t>(j)]) - wg[j]);
          err += y * y / double(n);
        }
        if (err < best * (1 - 1e-12)) best = err, best_m = mv;
      }
      EXPECT_EQ(got[static_cast<std::size_t>(i * (cols / 32) + g)], best_m) << "row " << i << " group " << g;
    }
}

}  // namespace
