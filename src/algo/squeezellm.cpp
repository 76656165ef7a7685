// SqueezeLLM's dense-and-sparse, sensitivity-weighted k-means (include/lowbit/squeezellm.h).
// Outliers are chosen over the whole matrix by |w| (the paper's magnitude threshold),
// removed from their row's k-means (weight 0) and stored exactly.
#include "lowbit/squeezellm.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "lowbit/error.h"
#include "lowbit/parallel.h"

namespace lowbit {

double SqueezeLlmResult::bits_per_weight() const {
  const double n = static_cast<double>(rows * cols);
  if (n == 0) return 0;
  const double k = rows ? static_cast<double>(codebooks.size()) / static_cast<double>(rows) : 0;
  const double bits = std::log2(std::max(k, 1.0));
  return (n * bits + static_cast<double>(rows) * k * 16 + static_cast<double>(outliers.size()) * 48) / n;
}

SqueezeLlmResult squeezellm_quantize(std::span<const float> w, std::int64_t rows, std::int64_t cols,
                                     std::span<const float> sensitivity, const SqueezeLlmOptions& opt, int threads) {
  if (rows <= 0 || cols <= 0 || static_cast<std::int64_t>(w.size()) != rows * cols)
    fail("SqueezeLLM: weight of ", w.size(), " values for ", rows, " x ", cols);
  if (opt.bits < 1 || opt.bits > 8) fail("SqueezeLLM: bits must be 1..8, got ", opt.bits);
  const bool per_col = static_cast<std::int64_t>(sensitivity.size()) == cols;
  if (!sensitivity.empty() && !per_col && sensitivity.size() != w.size())
    fail("SqueezeLLM: ", sensitivity.size(), " sensitivities for ", rows, " x ", cols, " weights");
  if (opt.outlier_fraction < 0 || opt.outlier_fraction >= 1)
    fail("SqueezeLLM: outlier fraction must be in [0, 1), got ", opt.outlier_fraction);
  const int k = 1 << opt.bits;
  SqueezeLlmResult r;
  r.rows = rows;
  r.cols = cols;
  r.codes.resize(w.size());
  r.dequantized.resize(w.size());
  r.codebooks.resize(static_cast<std::size_t>(rows * k));

  std::vector<char> is_outlier(w.size(), 0);
  const auto n_out = static_cast<std::size_t>(std::floor(opt.outlier_fraction * static_cast<double>(w.size())));
  if (n_out > 0) {
    std::vector<std::int64_t> idx(w.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n_out), idx.end(),
                     [&](std::int64_t a, std::int64_t b) {
                       const float fa = std::fabs(w[static_cast<std::size_t>(a)]), fb = std::fabs(w[static_cast<std::size_t>(b)]);
                       return fa != fb ? fa > fb : a < b;
                     });
    r.outliers.assign(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n_out));
    std::sort(r.outliers.begin(), r.outliers.end());
    for (const auto i : r.outliers) {
      is_outlier[static_cast<std::size_t>(i)] = 1;
      r.outlier_values.push_back(w[static_cast<std::size_t>(i)]);
    }
  }

  KMeansOptions km = opt.kmeans;
  km.k = k;
  parallel_for(static_cast<std::size_t>(rows), threads, 1, [&](std::size_t r0, std::size_t r1) {
    std::vector<float> weights(static_cast<std::size_t>(cols));
    for (std::size_t row = r0; row < r1; ++row) {
      const auto off = row * static_cast<std::size_t>(cols);
      const std::span<const float> x = w.subspan(off, static_cast<std::size_t>(cols));
      for (std::size_t c = 0; c < weights.size(); ++c) {
        const float s = sensitivity.empty() ? 1.0f : sensitivity[per_col ? c : off + c];
        weights[c] = is_outlier[off + c] ? 0.0f : s;
      }
      const auto cb = kmeans_1d(x, weights, km);
      std::copy(cb.begin(), cb.end(), r.codebooks.begin() + static_cast<std::ptrdiff_t>(row) * k);
      const std::span<std::uint8_t> codes(r.codes.data() + off, static_cast<std::size_t>(cols));
      assign_nearest(cb, x, codes);
      dequantize_codebook(cb, codes, std::span<float>(r.dequantized.data() + off, static_cast<std::size_t>(cols)));
      for (std::size_t c = 0; c < weights.size(); ++c)
        if (is_outlier[off + c]) r.dequantized[off + c] = x[c];
    }
  });
  return r;
}

}  // namespace lowbit
