// Shared numeric building blocks of the model runtimes (see nn_ops.h): one definition
// of LayerNorm, GELU, SiLU and softmax, so encoder and decoder round the same way.
#include "model/nn_ops.h"

#include <cmath>
#include <limits>

#include "lowbit/error.h"

namespace lowbit::nn {

void layer_norm(float* x, std::int64_t rows, std::int64_t cols, std::span<const float> gamma,
                std::span<const float> beta, float eps) {
  if (cols <= 0) fail("layer_norm: ", cols, " columns");
  const auto n = static_cast<std::size_t>(cols);
  if (!gamma.empty() && gamma.size() != n) fail("layer_norm: gamma has ", gamma.size(), " values for ", cols, " columns");
  if (!beta.empty() && beta.size() != n) fail("layer_norm: beta has ", beta.size(), " values for ", cols, " columns");
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    // Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2, which
    // cancels catastrophically when |mean| >> std.
    double sum = 0.0;
    for (std::size_t j = 0; j < n; ++j) sum += row[j];
    const double mean = sum / static_cast<double>(n);
    double sq = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
      const double d = row[j] - mean;
      sq += d * d;
    }
    const double var = sq / static_cast<double>(n);
    const auto m = static_cast<float>(mean);
    const auto rstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    for (std::size_t j = 0; j < n; ++j) {
      float y = (row[j] - m) * rstd;
      if (!gamma.empty()) y *= gamma[j];
      if (!beta.empty()) y += beta[j];
      row[j] = y;
    }
  }
}

float gelu_erf(float x) { return x * 0.5f * (1.0f + std::erf(x * 0.70710678118654752440f)); }

float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

void softmax_row(float* x, std::int64_t n) {
  if (n <= 0) return;
  float mx = -std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; j < n; ++j) mx = std::fmax(mx, x[j]);
  double sum = 0.0;
  for (std::int64_t j = 0; j < n; ++j) {
    x[j] = std::exp(x[j] - mx);
    sum += x[j];
  }
  const auto inv = static_cast<float>(1.0 / sum);
  for (std::int64_t j = 0; j < n; ++j) x[j] *= inv;
}

}  // namespace lowbit::nn
