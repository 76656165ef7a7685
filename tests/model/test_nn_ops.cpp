// nn_ops (src/model/nn_ops.h) against mathematical identities, with bounds derived from
// fp32 rounding (u = 2^-24): LayerNorm's output has mean 0 and variance var/(var+eps),
// softmax sums to 1, GELU/SiLU equal their double-precision definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "model/nn_ops.h"

using namespace lowbit;

namespace {
constexpr double u = 0x1p-24;  // unit roundoff of fp32 (round to nearest)
}

// y_j = fl(fl(x_j - m) * r) with m = fl(mean), r = fl(1/sqrt(var + eps)). Exactly,
// mean(y) = r (mean - m) + sum of per-element roundings, so |mean(y)| <= r |mean| u +
// 2u mean|y| <= u (r |mean| + 2). mean(y^2) = r^2 (var + (mean - m)^2) (1 + <=2u)^2 and
// r^2 (var + eps) = (1 + <=u)^2, so var(y) is var/(var+eps) within ~6u + r^2 (u mean)^2.
TEST(NnOps, LayerNormHasZeroMeanAndUnitVariance) {
  std::mt19937 rng(7);
  const float eps = 1e-12f;
  for (float offset : {0.0f, 3.0f, 1000.0f}) {
    for (float scale : {1e-3f, 1.0f, 50.0f}) {
      const std::int64_t rows = 5, cols = 384;
      std::normal_distribution<float> nd(offset, scale);
      std::vector<float> x(static_cast<std::size_t>(rows * cols));
      for (auto& v : x) v = nd(rng);
      std::vector<float> y = x;
      nn::layer_norm(y.data(), rows, cols, {}, {}, eps);
      for (std::int64_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0, ym = 0, yv = 0;
        for (std::int64_t j = 0; j < cols; ++j) mean += x[r * cols + j];
        mean /= cols;
        for (std::int64_t j = 0; j < cols; ++j) var += (x[r * cols + j] - mean) * (x[r * cols + j] - mean);
        var /= cols;
        for (std::int64_t j = 0; j < cols; ++j) ym += y[r * cols + j];
        ym /= cols;
        for (std::int64_t j = 0; j < cols; ++j) yv += (y[r * cols + j] - ym) * (y[r * cols + j] - ym);
        yv /= cols;
        const double rstd = 1.0 / std::sqrt(var + eps);
        const double mean_bound = 1.01 * u * (rstd * std::fabs(mean) + 2.0);
        const double var_bound = 7 * u + rstd * rstd * (u * mean) * (u * mean) + mean_bound * mean_bound;
        EXPECT_LE(std::fabs(ym), mean_bound) << "offset " << offset << " scale " << scale << " row " << r;
        EXPECT_LE(std::fabs(yv - var / (var + eps)), var_bound) << "offset " << offset << " scale " << scale;
      }
    }
  }
}

// The affine part is y * gamma + beta in fp32 after normalizing: the same operations in
// the same order, so the results are bit-identical.
TEST(NnOps, LayerNormAffineIsScaleThenShift) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.5f, 2.0f);
  const std::int64_t rows = 3, cols = 64;
  std::vector<float> x(static_cast<std::size_t>(rows * cols)), g(cols), b(cols);
  for (auto& v : x) v = nd(rng);
  for (auto& v : g) v = nd(rng);
  for (auto& v : b) v = nd(rng);
  std::vector<float> plain = x, affine = x;
  nn::layer_norm(plain.data(), rows, cols, {}, {}, 1e-5f);
  nn::layer_norm(affine.data(), rows, cols, g, b, 1e-5f);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j)
      EXPECT_EQ(affine[r * cols + j], plain[r * cols + j] * g[j] + b[j]);
}

TEST(NnOps, LayerNormRejectsMismatchedGamma) {
  std::vector<float> x(8, 1.0f), g(7, 1.0f);
  EXPECT_THROW(nn::layer_norm(x.data(), 1, 8, g, {}, 1e-5f), std::exception);
}

// p_j = fl(e_j * fl(1/S)), S the double sum of the fp32 exps: sum p = (1 + <=u)(1 + <=u)
// up to the double sum's n 2^-53, so |sum p - 1| <= 2.01 u. Masked (-inf) entries get 0,
// and huge logits do not overflow (the max is subtracted first).
TEST(NnOps, SoftmaxSumsToOne) {
  std::mt19937 rng(11);
  for (float spread : {0.1f, 5.0f, 80.0f}) {
    for (std::int64_t n : {1, 7, 256, 1000}) {
      std::normal_distribution<float> nd(30.0f, spread);
      std::vector<float> x(static_cast<std::size_t>(n));
      for (auto& v : x) v = nd(rng);
      nn::softmax_row(x.data(), n);
      double sum = 0;
      for (float p : x) {
        EXPECT_GE(p, 0.0f);
        EXPECT_LE(p, 1.0f);
        sum += p;
      }
      EXPECT_LE(std::fabs(sum - 1.0), 2.01 * u + n * 0x1p-53) << "n " << n << " spread " << spread;
    }
  }
  std::vector<float> m = {1e30f, -std::numeric_limits<float>::infinity(), 1e30f, std::numeric_limits<float>::lowest()};
  nn::softmax_row(m.data(), 4);
  EXPECT_EQ(m[0], 0.5f);
  EXPECT_EQ(m[1], 0.0f);
  EXPECT_EQ(m[2], 0.5f);
  EXPECT_EQ(m[3], 0.0f);
}

// Against the definitions in double. gelu = 0.5 x (1 + f) with f = erf or tanh of a
// rounded argument: f's error is <= 2u (libm's ~1 ulp plus the argument's rounding times
// f' <= 1 for erf; for tanh sech^2(a) |a| <= 0.45 keeps it under 5u), the 1 + f and the
// two products add 3u relative to |x|, so |gelu - ref| <= 8u |x|. silu = x / (1 + e^-x)
// has relative error <= 4u (exp, add, divide) plus fp32 underflow below ~1e-38.
TEST(NnOps, ActivationsMatchTheirDefinitions) {
  for (int i = -2000; i <= 2000; ++i) {
    const float x = static_cast<float>(i) * 0.01f;
    const double xd = x;
    const double erf_ref = 0.5 * xd * (1.0 + std::erf(xd / std::sqrt(2.0)));
    const double tanh_ref = 0.5 * xd * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (xd + 0.044715 * xd * xd * xd)));
    const double silu_ref = xd / (1.0 + std::exp(-xd));
    EXPECT_LE(std::fabs(nn::gelu_erf(x) - erf_ref), 8 * u * std::fabs(xd) + 1e-38) << x;
    EXPECT_LE(std::fabs(nn::gelu_tanh(x) - tanh_ref), 8 * u * std::fabs(xd) + 1e-38) << x;
    EXPECT_LE(std::fabs(nn::silu(x) - silu_ref), 4 * u * std::fabs(silu_ref) + 1e-38) << x;
  }
  // gelu(x) - gelu(-x) = x (erf is odd); gelu(0) = 0; far from 0 GELU is x or 0.
  for (float x : {0.3f, 1.7f, 4.0f})
    EXPECT_LE(std::fabs(nn::gelu_erf(x) - nn::gelu_erf(-x) - x), 4 * u * x) << x;
  EXPECT_EQ(nn::gelu_erf(0.0f), 0.0f);
  EXPECT_EQ(nn::gelu_erf(10.0f), 10.0f);
  EXPECT_EQ(nn::gelu_erf(-10.0f), -0.0f);
  EXPECT_EQ(nn::silu(0.0f), 0.0f);
}
