// Scale folding (AWQ, SmoothQuant) is an identity of the layer's function: a Linear with
// columns times s fed by inputs divided by s (a norm weight or the rows of the Linear
// before, divided by s) gives the same outputs up to float rounding; and a Linear with
// fake-quantized activations computes exactly the fp32 product of the dequantized inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "algo/ptq_layer.h"
#include "support/random_vectors.h"

using namespace lowbit;

namespace {

using lowbit::testing::randn;

TEST(PtqScaleFold, ScaledColumnsAndDividedFeedersComputeTheSameFunction) {
  std::mt19937 rng(21);
  const std::int64_t m = 5, d = 48, ff = 40;
  const auto x = randn(static_cast<std::size_t>(m * d), rng);
  auto norm = randn(static_cast<std::size_t>(d), rng);
  std::uniform_real_distribution<float> u(0.05f, 20.0f);
  std::vector<float> s(static_cast<std::size_t>(d)), t(static_cast<std::size_t>(ff));
  for (auto& v : s) v = u(rng);
  for (auto& v : t) v = u(rng);
  // x * norm -> up (ff x d) -> down (d x ff).
  Linear up = Linear::from_f32("up", randn(static_cast<std::size_t>(ff * d), rng, 0.1f), ff, d);
  Linear down = Linear::from_f32("down", randn(static_cast<std::size_t>(d * ff), rng, 0.1f), d, ff);
  auto run = [&](const std::vector<float>& g) {
    std::vector<float> a(x.size()), y(static_cast<std::size_t>(m * ff)), z(static_cast<std::size_t>(m * d));
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = x[i] * g[i % static_cast<std::size_t>(d)];
    up.forward(a.data(), m, y.data(), 1);
    down.forward(y.data(), m, z.data(), 1);
    return z;
  };
  const auto z = run(norm);
  algo::divide_norm(norm, s);    // the norm feeds up: its channels / s
  algo::scale_columns(up, s);    // up's columns * s
  algo::divide_rows(up, t);      // up feeds down: up's rows / t
  algo::scale_columns(down, t);  // down's columns * t
  const auto z2 = run(norm);
  for (std::size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(z2[i], z[i], 1e-4f * (1 + std::fabs(z[i]))) << i;
}

TEST(PtqScaleFold, ActivationFakeQuantIsTheProductOfTheDequantizedInputs) {
  std::mt19937 rng(22);
  const std::int64_t m = 7, cols = 32, rows = 9;
  const auto x = randn(static_cast<std::size_t>(m * cols), rng);
  Linear l = Linear::from_f32("l", randn(static_cast<std::size_t>(rows * cols), rng), rows, cols);
  Linear ref = l;
  const auto q = calib::ActivationQuantizer::dynamic(calib::ActivationMode::DynamicPerToken, calib::quant_target(8, true, true));
  l.set_activation_quant(q);
  const auto xq = calib::dequantize_activation(calib::quantize_activation(x, m, cols, q));
  std::vector<float> y(static_cast<std::size_t>(m * rows)), y_ref(y.size());
  l.forward(x.data(), m, y.data(), 1);
  ref.forward(xq.data(), m, y_ref.data(), 1);
  EXPECT_EQ(y, y_ref);
  EXPECT_NE(xq, x);  // the inputs really were rounded
}

}  // namespace
