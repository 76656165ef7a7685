// ActivationStats against direct double-precision sums over the same batches: per-channel
// mean |x|, mean x^2, min, max exactly (up to the final division), X^T X within the fp32
// matmul bound rows * eps * sum|x_i x_j|, and reuse of X^T X only for equal inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "lowbit/activation_stats.h"

using namespace lowbit;

namespace {

std::vector<float> batch(std::mt19937& rng, std::int64_t rows, std::int64_t cols) {
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(rows * cols));
  for (auto& v : x) v = n(rng) * (1.0f + 3.0f * static_cast<float>(&v - x.data()) / static_cast<float>(x.size()));
  return x;
}

}  // namespace

TEST(ActivationStats, MatchesDirectSumsOverStreamedBatches) {
  std::mt19937 rng(7);
  const std::int64_t cols = 37;
  ActivationStats s;
  std::vector<double> sa(cols), sq(cols), xtx(cols * cols), xtx_abs(cols * cols);
  std::vector<float> mn(cols, INFINITY), mx(cols, -INFINITY);
  std::int64_t rows_total = 0;
  for (std::int64_t rows : {1, 5, 64, 13}) {
    const auto x = batch(rng, rows, cols);
    s.add("w", x.data(), rows, cols, 2);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t i = 0; i < cols; ++i) {
        const double v = x[static_cast<std::size_t>(r * cols + i)];
        sa[i] += std::fabs(v);
        sq[i] += v * v;
        mn[i] = std::min(mn[i], static_cast<float>(v));
        mx[i] = std::max(mx[i], static_cast<float>(v));
        for (std::int64_t j = 0; j < cols; ++j) {
          const double w = x[static_cast<std::size_t>(r * cols + j)];
          xtx[i * cols + j] += v * w;
          xtx_abs[i * cols + j] += std::fabs(v * w);
        }
      }
    rows_total += rows;
  }
  const auto& e = s.at("w");
  ASSERT_EQ(e.rows, rows_total);
  const double eps = std::numeric_limits<float>::epsilon();
  for (std::int64_t i = 0; i < cols; ++i) {
    EXPECT_FLOAT_EQ(e.mean_abs()[i], static_cast<float>(sa[i] / rows_total));
    EXPECT_FLOAT_EQ(e.mean_sq()[i], static_cast<float>(sq[i] / rows_total));
    EXPECT_EQ(e.min[i], mn[i]);
    EXPECT_EQ(e.max[i], mx[i]);
    for (std::int64_t j = 0; j < cols; ++j) {
      // fp32 products summed over at most 64 rows per batch: |err| <= (64/8 + 4) eps sum|x x|.
      const double bound = 12 * eps * xtx_abs[i * cols + j] + 1e-30;
      EXPECT_NEAR(e.xtx[i * cols + j], xtx[i * cols + j], bound) << i << "," << j;
    }
  }
}

TEST(ActivationStats, SharedInputReusesOnlyEqualContent) {
  std::mt19937 rng(3);
  const std::int64_t rows = 16, cols = 8;
  auto x = batch(rng, rows, cols);
  ActivationStats s;
  s.add("q", x.data(), rows, cols, 1);
  s.add("k", x.data(), rows, cols, 1);
  EXPECT_EQ(s.at("q").xtx, s.at("k").xtx);
  // Same buffer, new content (the runtime reuses its buffers): must not reuse.
  for (auto& v : x) v *= 2.0f;
  s.add("gate", x.data(), rows, cols, 1);
  for (std::size_t i = 0; i < s.at("q").xtx.size(); ++i) EXPECT_DOUBLE_EQ(s.at("gate").xtx[i], 4.0 * s.at("q").xtx[i]);
}

TEST(ActivationStats, ImatrixHoldsSumsOfSquaresAndRowCounts) {
  std::mt19937 rng(5);
  const auto x = batch(rng, 10, 4);
  ActivationStats s;
  s.add("blk.0.attn_q.weight", x.data(), 10, 4, 1);
  Imatrix m;
  s.fill_imatrix(m);
  const auto& e = m.entries.at("blk.0.attn_q.weight");
  ASSERT_EQ(e.counts, std::vector<std::int64_t>{10});
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(e.sums[i], static_cast<float>(s.at("blk.0.attn_q.weight").sum_sq[i]));
}
