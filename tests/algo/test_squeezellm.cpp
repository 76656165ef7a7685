// SqueezeLLM's sensitivity-weighted k-means, checked by optimality: with fewer distinct
// weights per row than the DP's bin limit the 1-D DP is exact, so each row's codebook has
// a sensitivity-weighted error no larger than any other codebook of the same size (the
// unweighted k-means one, the min/max uniform grid); outliers are the largest |w| and
// come back exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "lowbit/error.h"
#include "lowbit/squeezellm.h"

using namespace lowbit;

namespace {

double weighted_sse(std::span<const float> cb, std::span<const float> x, std::span<const float> s) {
  return codebook_sse(cb, x, s);
}

TEST(SqueezeLlm, WeightedCodebookIsOptimalForTheWeightedError) {
  std::mt19937 rng(5);
  std::student_t_distribution<float> heavy(4.0f);
  std::exponential_distribution<float> sens_d(1.0f);
  const std::int64_t rows = 6, cols = 200;
  std::vector<float> w(static_cast<std::size_t>(rows * cols)), sens(static_cast<std::size_t>(cols));
  for (auto& v : w) v = 0.02f * heavy(rng);
  for (auto& v : sens) v = sens_d(rng) * sens_d(rng);  // a few channels matter much more
  for (const int bits : {2, 3, 4}) {
    SqueezeLlmOptions o;
    o.bits = bits;
    const auto r = squeezellm_quantize(w, rows, cols, sens, o, 2);
    const int k = 1 << bits;
    for (std::int64_t i = 0; i < rows; ++i) {
      const std::span<const float> x(w.data() + i * cols, static_cast<std::size_t>(cols));
      const std::span<const float> cb(r.codebooks.data() + i * k, static_cast<std::size_t>(k));
      const double ours = weighted_sse(cb, x, sens);
      KMeansOptions km;
      km.k = k;
      const auto plain = kmeans_1d(x, {}, km);
      const auto [mn, mx] = std::minmax_element(x.begin(), x.end());
      std::vector<float> uniform(static_cast<std::size_t>(k));
      for (int j = 0; j < k; ++j) uniform[static_cast<std::size_t>(j)] = *mn + (*mx - *mn) * static_cast<float>(j) / static_cast<float>(k - 1);
      EXPECT_LE(ours, weighted_sse(plain, x, sens) * (1 + 1e-9)) << bits << " bits, row " << i;
      EXPECT_LE(ours, weighted_sse(uniform, x, sens) * (1 + 1e-9)) << bits << " bits, row " << i;
      // The dequantized row is the codebook's nearest entry for every weight.
      std::vector<std::uint8_t> idx(static_cast<std::size_t>(cols));
      assign_nearest(cb, x, idx);
      for (std::int64_t c = 0; c < cols; ++c)
        EXPECT_EQ(r.dequantized[static_cast<std::size_t>(i * cols + c)], cb[idx[static_cast<std::size_t>(c)]]);
    }
  }
}

TEST(SqueezeLlm, OutliersAreTheLargestWeightsAndExact) {
  std::mt19937 rng(6);
  std::normal_distribution<float> d(0.0f, 0.02f);
  const std::int64_t rows = 8, cols = 300;
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (auto& v : w) v = d(rng);
  SqueezeLlmOptions o;
  o.bits = 3;
  o.outlier_fraction = 0.01;
  const auto r = squeezellm_quantize(w, rows, cols, {}, o, 1);
  ASSERT_EQ(r.outliers.size(), static_cast<std::size_t>(std::floor(0.01 * static_cast<double>(w.size()))));
  float smallest_outlier = INFINITY;
  std::vector<char> is_out(w.size());
  for (std::size_t j = 0; j < r.outliers.size(); ++j) {
    const auto i = static_cast<std::size_t>(r.outliers[j]);
    is_out[i] = 1;
    EXPECT_EQ(r.dequantized[i], w[i]);
    EXPECT_EQ(r.outlier_values[j], w[i]);
    smallest_outlier = std::min(smallest_outlier, std::fabs(w[i]));
  }
  for (std::size_t i = 0; i < w.size(); ++i)
    if (!is_out[i]) {
      EXPECT_LE(std::fabs(w[i]), smallest_outlier) << i;
    }
  // codes + an fp16 codebook per row + 48 bits per outlier.
  EXPECT_DOUBLE_EQ(r.bits_per_weight(),
                   (double(w.size()) * 3 + double(rows) * 8 * 16 + double(r.outliers.size()) * 48) / double(w.size()));
}

TEST(SqueezeLlm, RejectsBadShapesAndOptions) {
  std::vector<float> w(12, 1.0f);
  SqueezeLlmOptions o;
  EXPECT_THROW(squeezellm_quantize(w, 3, 5, {}, o), Error);
  EXPECT_THROW(squeezellm_quantize(w, 3, 4, std::vector<float>(5, 1.0f), o), Error);
  o.outlier_fraction = 1.5;
  EXPECT_THROW(squeezellm_quantize(w, 3, 4, {}, o), Error);
}

}  // namespace
