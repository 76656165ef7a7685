// Min-max and moving-average min-max, as torch.ao's MinMaxObserver and
// MovingAverageMinMaxObserver (and their per-channel twins, which are these applied per
// channel) update them: fp32 running min/max, m += c * (batch - m) after the first batch.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "estimators.h"
#include "lowbit/error.h"

namespace lowbit::calib {

void require_observed(bool seen, const char* method) {
  if (!seen) fail(method, " observer has seen no data: observe at least one non-empty batch first");
}

namespace {

// One estimator for both: the first batch sets the range; later batches widen it
// (min-max) or pull it toward themselves (moving average). Folding makes each batch's
// range (-max|x|, max|x|) before it is merged.
class RunningRangeEstimator final : public RangeEstimator {
 public:
  RunningRangeEstimator(bool moving, float c, bool fold) : moving_(moving), c_(c), fold_(fold) {}
  void ingest(std::span<const float>, float lo, float hi) override {
    if (fold_) {
      hi = std::max(std::fabs(lo), std::fabs(hi));
      lo = -hi;
    }
    if (!seen_) {
      r_ = {lo, hi};
      seen_ = true;
    } else if (!moving_) {
      r_.min = std::min(lo, r_.min);
      r_.max = std::max(hi, r_.max);
    } else {
      // Separate fp32 multiply and add, as torch's two tensor ops round them.
      const float dlo = c_ * (lo - r_.min);
      const float dhi = c_ * (hi - r_.max);
      r_.min = r_.min + dlo;
      r_.max = r_.max + dhi;
    }
  }
  Range range(const QuantTarget&) const override {
    require_observed(seen_, moving_ ? "moving-average minmax" : "minmax");
    return r_;
  }

 private:
  bool moving_;
  float c_;
  bool fold_;
  Range r_;
  bool seen_ = false;
};

}  // namespace

std::unique_ptr<RangeEstimator> make_minmax_estimator(bool fold) { return std::make_unique<RunningRangeEstimator>(false, 0.0f, fold); }
std::unique_ptr<RangeEstimator> make_moving_average_estimator(float c, bool fold) {
  if (!(c >= 0.0f && c <= 1.0f)) fail("moving-average observer: averaging constant ", c, " is not in [0, 1]");
  return std::make_unique<RunningRangeEstimator>(true, c, fold);
}

}  // namespace lowbit::calib
