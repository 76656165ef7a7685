// Entropy (KL-divergence) calibration as TensorRT describes it (Migacz, "8-bit
// Inference with TensorRT", GTC 2017): a 2048-bin histogram of |x|; for each candidate
// i >= L bins, P = the first i bins with every outlier folded into bin i-1, Q = those
// bins merged into L levels and spread back evenly over the non-zero bins; both smoothed
// (eps 1e-4); the threshold is the edge of the i with the least KL(P || Q).
// Bounded memory: when a batch exceeds the range, adjacent bin pairs merge (exactly) and
// the range doubles, so the bin count never grows.
#include <algorithm>
#include <cmath>
#include <limits>

#include "estimators.h"
#include "lowbit/error.h"

namespace lowbit::calib {

namespace {

class EntropyEstimator final : public RangeEstimator {
 public:
  EntropyEstimator(int bins, int levels) : counts_(static_cast<std::size_t>(bins), 0), levels_(levels) {}

  void ingest(std::span<const float> v, float lo, float hi) override {
    const float amax = std::max(std::fabs(lo), std::fabs(hi));
    if (!seen_) {
      min_ = lo;
      max_ = hi;
      seen_ = true;
    } else {
      min_ = std::min(min_, lo);
      max_ = std::max(max_, hi);
    }
    if (top_ == 0.0f && amax > 0.0f) top_ = amax;  // zeros seen so far sit in bin 0
    while (amax > top_) {
      const std::size_t n = counts_.size();
      for (std::size_t i = 0; i < n / 2; ++i) counts_[i] = counts_[2 * i] + counts_[2 * i + 1];
      std::fill(counts_.begin() + static_cast<std::ptrdiff_t>(n / 2), counts_.end(), 0);
      top_ *= 2.0f;
    }
    const std::size_t n = counts_.size();
    const double scale = top_ > 0.0f ? static_cast<double>(n) / top_ : 0.0;
    for (float x : v) {
      const std::size_t b = static_cast<std::size_t>(std::fabs(x) * scale);
      ++counts_[std::min(b, n - 1)];
    }
  }

  Range range(const QuantTarget& t) const override {
    require_observed(seen_, "entropy");
    if (top_ == 0.0f) return {min_, max_};
    const bool unsigned_data = min_ >= 0.0f && !t.range.is_signed;
    const std::size_t L = static_cast<std::size_t>(
        levels_ > 0 ? levels_ : 1 << (t.range.bits - (unsigned_data ? 0 : 1)));
    const std::size_t B = counts_.size();
    if (L > B) fail("entropy observer: ", L, " levels exceed the histogram's ", B, " bins");
    std::vector<double> suffix(B + 1, 0.0);
    for (std::size_t i = B; i-- > 0;) suffix[i] = suffix[i + 1] + static_cast<double>(counts_[i]);
    double best = std::numeric_limits<double>::infinity();
    std::size_t best_i = B;
    std::vector<double> p, q, level_sum(L), level_nz(L);
    for (std::size_t i = L; i <= B; ++i) {
      p.assign(i, 0.0);
      for (std::size_t j = 0; j < i; ++j) p[j] = static_cast<double>(counts_[j]);
      std::fill(level_sum.begin(), level_sum.end(), 0.0);
      std::fill(level_nz.begin(), level_nz.end(), 0.0);
      for (std::size_t j = 0; j < i; ++j) {
        const std::size_t k = j * L / i;
        level_sum[k] += p[j];
        level_nz[k] += p[j] != 0.0;
      }
      q.assign(i, 0.0);
      for (std::size_t j = 0; j < i; ++j) {
        const std::size_t k = j * L / i;
        if (p[j] != 0.0) q[j] = level_sum[k] / level_nz[k];
      }
      p[i - 1] += suffix[i];
      double div = std::numeric_limits<double>::infinity();
      if (smooth_distribution(p) && smooth_distribution(q)) div = kl_divergence(p, q);
      if (div < best) {
        best = div;
        best_i = i;
      }
    }
    const float thr = static_cast<float>(static_cast<double>(best_i) * top_ / static_cast<double>(B));
    return {std::max(-thr, min_), std::min(thr, max_)};
  }

 private:
  std::vector<std::int64_t> counts_;
  int levels_;
  float top_ = 0.0f;
  float min_ = 0.0f, max_ = 0.0f;
  bool seen_ = false;
};

}  // namespace

std::unique_ptr<RangeEstimator> make_entropy_estimator(const ObserverOptions& o) {
  const int bins = o.bins > 0 ? o.bins : 2048;
  if (bins < 2 || bins % 2) fail("entropy observer: bins must be even and >= 2, got ", bins);
  return std::make_unique<EntropyEstimator>(bins, o.quantized_bins);
}

}  // namespace lowbit::calib
