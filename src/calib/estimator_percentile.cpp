// Percentile clipping as ONNX Runtime's PercentileCalibrater computes it: a histogram
// (|x| when symmetric, x otherwise; 2048 bins), its CDF, and the first bin edge where
// the CDF reaches p (symmetric) or each tail's (100 - p) / 2 %; clamped to the data.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <variant>

#include "estimators.h"
#include "histogram_numpy.h"
#include "lowbit/error.h"

namespace lowbit::calib {

namespace {

// np.searchsorted(cdf, v, side='left') with cdf = np.cumsum(hist / total) in float64.
std::size_t cdf_search(const std::vector<std::int64_t>& hist, double v) {
  const double total = static_cast<double>(std::accumulate(hist.begin(), hist.end(), std::int64_t{0}));
  double c = 0;
  for (std::size_t i = 0; i < hist.size(); ++i) {
    c += static_cast<double>(hist[i]) / total;
    if (c >= v) return i;
  }
  return hist.size();
}

class PercentileEstimator final : public RangeEstimator {
 public:
  PercentileEstimator(int bins, double p, bool symmetric)
      : h_(symmetric ? Histogram(AbsHistogram(bins)) : Histogram(SymmetricHistogram(bins))),
        p_(p),
        symmetric_(symmetric) {}
  void ingest(std::span<const float> v, float lo, float hi) override {
    std::visit([&](auto& h) { h.add(v, lo, hi); }, h_);
  }
  Range range(const QuantTarget&) const override {
    return std::visit(
        [&](const auto& h) {
          require_observed(!h.empty(), "percentile");
          const auto& e = h.edges();
          Range r;
          if (symmetric_) {
            const std::size_t i = std::min(cdf_search(h.counts(), p_ / 100.0), e.size() - 1);
            r = {-e[i], e[i]};
          } else {
            const double cut = (100.0 - p_) / 200.0;
            const std::size_t ir = std::min(cdf_search(h.counts(), 1.0 - cut), e.size() - 1);
            const std::size_t il = std::min(cdf_search(h.counts(), cut), e.size() - 1);
            r = {e[il], e[ir]};
          }
          r.min = std::max(r.min, h.min());
          r.max = std::min(r.max, h.max());
          return r;
        },
        h_);
  }

 private:
  using Histogram = std::variant<AbsHistogram, SymmetricHistogram>;
  Histogram h_;
  double p_;
  bool symmetric_;
};

}  // namespace

std::unique_ptr<RangeEstimator> make_percentile_estimator(const ObserverOptions& o) {
  if (!(o.percentile > 0.0 && o.percentile <= 100.0))
    fail("percentile observer: percentile ", o.percentile, " is not in (0, 100]");
  return std::make_unique<PercentileEstimator>(o.bins > 0 ? o.bins : 2048, o.percentile, o.symmetric);
}

}  // namespace lowbit::calib
