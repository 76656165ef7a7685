// GPTQ's mathematical identities: the Cholesky helpers reproduce A and A^-1; with a
// diagonal Hessian there is nothing to compensate, so GPTQ equals round-to-nearest on
// the same grid code for code; on correlated inputs GPTQ's layer-output error
// tr(dW H dW^T) is well below RTN's; dead inputs are zeroed; results do not depend on
// the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "algo/cholesky.h"
#include "lowbit/gptq.h"

using namespace lowbit;

namespace {

// Inputs with correlated channels: X = Z A, Z standard normal, A random mixing.
std::vector<double> correlated_hessian(std::int64_t cols, std::int64_t n, std::mt19937& rng) {
  std::normal_distribution<double> d;
  std::vector<double> a(static_cast<std::size_t>(cols * cols)), x(static_cast<std::size_t>(n * cols), 0.0);
  for (auto& v : a) v = d(rng);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < cols; ++k) {
      const double z = d(rng);
      for (std::int64_t j = 0; j < cols; ++j) x[static_cast<std::size_t>(i * cols + j)] += z * a[static_cast<std::size_t>(k * cols + j)] / std::sqrt(static_cast<double>(cols));
    }
  std::vector<double> h(static_cast<std::size_t>(cols * cols), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t p = 0; p < cols; ++p)
      for (std::int64_t q = 0; q < cols; ++q)
        h[static_cast<std::size_t>(p * cols + q)] += x[static_cast<std::size_t>(i * cols + p)] * x[static_cast<std::size_t>(i * cols + q)] / static_cast<double>(n);
  return h;
}

std::vector<float> random_weight(std::int64_t rows, std::int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 0.02f);
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (auto& v : w) v = d(rng);
  return w;
}

TEST(Cholesky, FactorAndInverseReproduceTheMatrix) {
  std::mt19937 rng(3);
  const std::int64_t n = 37;
  auto h = correlated_hessian(n, 200, rng);
  auto l = h;
  ASSERT_TRUE(algo::cholesky_lower(l, n));
  const auto inv = algo::inverse_from_cholesky(l, n);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double llt = 0, ident = 0;
      for (std::int64_t k = 0; k < n; ++k) {
        llt += l[static_cast<std::size_t>(i * n + k)] * l[static_cast<std::size_t>(j * n + k)];
        ident += inv[static_cast<std::size_t>(i * n + k)] * h[static_cast<std::size_t>(k * n + j)];
      }
      EXPECT_NEAR(llt, h[static_cast<std::size_t>(i * n + j)], 1e-12 * n);
      EXPECT_NEAR(ident, i == j ? 1.0 : 0.0, 1e-8);
    }
  // Threads split independent columns and rows: the same sums in the same order.
  for (const int threads : {2, 3, 8}) {
    EXPECT_EQ(algo::inverse_from_cholesky(l, n, threads), inv) << threads << " threads";
  }
  // GPTQ's factor U (upper, U^T U = H^-1) straight from H equals the reference's route:
  // chol(H) -> H^-1 -> chol(H^-1) (the factor is unique), to rounding.
  const auto u = algo::upper_cholesky_of_inverse(h, n, 2);
  ASSERT_TRUE(u.has_value());
  auto via_inverse = inv;
  ASSERT_TRUE(algo::cholesky_lower(via_inverse, n));
  double max_u = 0;
  for (const double x : *u) max_u = std::max(max_u, std::fabs(x));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const double ref = j >= i ? via_inverse[static_cast<std::size_t>(j * n + i)] : 0.0;
      EXPECT_NEAR((*u)[static_cast<std::size_t>(i * n + j)], ref, 1e-9 * max_u) << i << "," << j;
    }
  std::vector<double> not_pd(static_cast<std::size_t>(n * n), 0.0);
  EXPECT_FALSE(algo::cholesky_lower(not_pd, n));
  EXPECT_FALSE(algo::upper_cholesky_of_inverse(not_pd, n).has_value());
}

TEST(Gptq, DiagonalHessianEqualsRoundToNearest) {
  std::mt19937 rng(5);
  const std::int64_t rows = 24, cols = 300;
  const auto w = random_weight(rows, cols, rng);
  std::vector<double> h(static_cast<std::size_t>(cols * cols), 0.0);
  std::uniform_real_distribution<double> u(0.1, 3.0);
  for (std::int64_t j = 0; j < cols; ++j) h[static_cast<std::size_t>(j * cols + j)] = u(rng);
  for (int bits : {2, 3, 4, 8})
    for (std::int64_t g : {std::int64_t{-1}, std::int64_t{32}, std::int64_t{128}})
      for (bool sym : {false, true}) {
        GptqOptions o;
        o.bits = bits;
        o.group_size = g;
        o.sym = sym;
        const auto a = gptq_quantize(w, rows, cols, h, o, 2);
        const auto b = rtn_gptq_grid(w, rows, cols, o);
        EXPECT_EQ(a.codes, b.codes) << bits << " bits, g " << g << (sym ? " sym" : " asym");
        EXPECT_EQ(a.scales, b.scales);
        EXPECT_EQ(a.zeros, b.zeros);
        EXPECT_EQ(a.g_idx, b.g_idx);
      }
}

TEST(Gptq, CutsTheLayerOutputErrorOfRoundToNearestOnCorrelatedInputs) {
  std::mt19937 rng(7);
  const std::int64_t rows = 32, cols = 256;
  const auto w = random_weight(rows, cols, rng);
  const auto h = correlated_hessian(cols, 2048, rng);
  for (bool act_order : {false, true}) {
    GptqOptions o;
    o.bits = 3;
    o.group_size = 128;
    o.act_order = act_order;
    const auto q = gptq_quantize(w, rows, cols, h, o, 2);
    const auto r = rtn_gptq_grid(w, rows, cols, o);
    const double eq = gptq_objective(w, q.dequantized, rows, cols, h);
    const double er = gptq_objective(w, r.dequantized, rows, cols, h);
    std::printf("3-bit g128%s: tr(dW H dW^T) GPTQ %.4g vs RTN %.4g (%.1f%%)\n", act_order ? " act-order" : "", eq, er,
                100 * eq / er);
    EXPECT_LT(eq, 0.7 * er);
  }
}

TEST(Gptq, DeadInputsAreZeroedAndThreadsDoNotMatter) {
  std::mt19937 rng(9);
  const std::int64_t rows = 16, cols = 160;
  const auto w = random_weight(rows, cols, rng);
  auto h = correlated_hessian(cols, 512, rng);
  for (std::int64_t k = 0; k < cols; ++k) {  // input 5 never fires
    h[static_cast<std::size_t>(5 * cols + k)] = 0;
    h[static_cast<std::size_t>(k * cols + 5)] = 0;
  }
  GptqOptions o;
  o.group_size = 32;
  o.act_order = true;
  o.static_groups = true;
  const auto a = gptq_quantize(w, rows, cols, h, o, 1);
  const auto b = gptq_quantize(w, rows, cols, h, o, 2);
  EXPECT_EQ(a.codes, b.codes);
  EXPECT_EQ(a.dequantized, b.dequantized);
  for (std::int64_t i = 0; i < rows; ++i) EXPECT_EQ(a.dequantized[static_cast<std::size_t>(i * cols + 5)], 0.0f);
}

}  // namespace
