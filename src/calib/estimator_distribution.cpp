// ONNX Runtime's DistributionCalibrater: the symmetric value histogram's extent [-t, t]
// is the range (ORT stores mean and std of the bin centres beside it for its
// distribution-aware schemes; lowbit's ranges need only the extent). ORT refuses fewer
// than 512 bins, so its class default (128) fails; lowbit takes create_calibrator's 2048.
#include "estimators.h"
#include "histogram_numpy.h"
#include "lowbit/error.h"

namespace lowbit::calib {

namespace {
class DistributionEstimator final : public RangeEstimator {
 public:
  explicit DistributionEstimator(int bins) : h_(bins) {}
  void ingest(std::span<const float> v, float lo, float hi) override { h_.add(v, lo, hi); }
  Range range(const QuantTarget&) const override {
    require_observed(!h_.empty(), "distribution");
    return {h_.edges().front(), h_.edges().back()};
  }

 private:
  SymmetricHistogram h_;
};
}  // namespace

std::unique_ptr<RangeEstimator> make_distribution_estimator(const ObserverOptions& o) {
  const int bins = o.bins > 0 ? o.bins : 2048;
  if (bins < 512) fail("distribution observer: needs at least 512 bins (as ONNX Runtime), got ", bins);
  return std::make_unique<DistributionEstimator>(bins);
}

}  // namespace lowbit::calib
