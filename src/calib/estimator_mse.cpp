// Direct MSE-optimal clipping: for clip ratios r = 1, 1 - 1/G, ..., down to min_ratio,
// quantize the data with the range [r * min, r * max] on the target grid and keep the
// ratio with the least squared error (the first, on ties). Weights are seen whole; a
// stream of activations keeps at most sample_cap values per channel in a seeded
// reservoir (Vitter's algorithm R, counter-hashed so it is deterministic), so memory is
// bounded and streams shorter than the cap are searched exactly.
#include <algorithm>
#include <cmath>
#include <limits>

#include "estimators.h"
#include "lowbit/error.h"

namespace lowbit::calib {

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class MseEstimator final : public RangeEstimator {
 public:
  MseEstimator(int grid, float min_ratio, std::size_t cap, std::uint64_t seed)
      : grid_(grid), min_ratio_(min_ratio), cap_(cap), seed_(seed) {}

  void ingest(std::span<const float> v, float lo, float hi) override {
    if (!seen_) {
      r_ = {lo, hi};
      seen_ = true;
    } else {
      r_.min = std::min(r_.min, lo);
      r_.max = std::max(r_.max, hi);
    }
    for (float x : v) {
      if (sample_.size() < cap_) {
        sample_.push_back(x);
      } else {
        const std::uint64_t j = splitmix64(seed_ ^ splitmix64(seen_count_)) % (seen_count_ + 1);
        if (j < cap_) sample_[j] = x;
      }
      ++seen_count_;
    }
  }

  Range range(const QuantTarget& t) const override {
    require_observed(seen_, "mse");
    Range best = r_;
    double best_err = std::numeric_limits<double>::infinity();
    const int steps = static_cast<int>(std::floor(static_cast<double>(grid_) * (1.0 - min_ratio_) + 1e-9));
    for (int k = 0; k <= steps; ++k) {
      const float ratio = static_cast<float>(1.0 - static_cast<double>(k) / grid_);
      const Range cand{r_.min * ratio, r_.max * ratio};
      const AffineParams p = qparams_from_range(cand, t);
      double err = 0;
      for (float x : sample_) {
        float q = std::nearbyint(x * p.inv_scale) + static_cast<float>(p.zero_point);
        q = std::clamp(q, static_cast<float>(t.range.qmin), static_cast<float>(t.range.qmax));
        const double d = static_cast<double>(p.scale * (q - static_cast<float>(p.zero_point))) - x;
        err += d * d;
      }
      if (err < best_err) {
        best_err = err;
        best = cand;
      }
    }
    return best;
  }

 private:
  int grid_;
  float min_ratio_;
  std::size_t cap_;
  std::uint64_t seed_;
  std::vector<float> sample_;
  std::uint64_t seen_count_ = 0;
  Range r_;
  bool seen_ = false;
};

}  // namespace

std::unique_ptr<RangeEstimator> make_mse_estimator(const ObserverOptions& o) {
  if (o.mse_grid < 1) fail("mse observer: grid must be >= 1, got ", o.mse_grid);
  if (!(o.mse_min_ratio > 0.0f && o.mse_min_ratio <= 1.0f))
    fail("mse observer: min ratio ", o.mse_min_ratio, " is not in (0, 1]");
  if (o.sample_cap == 0) fail("mse observer: sample cap must be > 0");
  return std::make_unique<MseEstimator>(o.mse_grid, o.mse_min_ratio, o.sample_cap, o.seed);
}

}  // namespace lowbit::calib
