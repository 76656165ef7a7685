// ONNX Runtime's EntropyCalibrater threshold search (HistogramCollector.
// get_entropy_threshold), kept with its quirks so ranges match ORT: the candidate
// windows are centred on the histogram's middle bin, Q is expanded with integer
// (truncating) division over P's non-zero bins, Q's remainder bins stay 0, and P and Q
// are smoothed with eps = 1e-4 before KL. With ORT's defaults (128 bins, 128 levels)
// there is one candidate, the whole histogram: the "search" returns plain min/max.
#include <algorithm>
#include <cmath>
#include <limits>

#include "estimators.h"
#include "histogram_numpy.h"
#include "lowbit/error.h"

namespace lowbit::calib {

bool smooth_distribution(std::vector<double>& p, double eps) {
  std::size_t zeros = 0;
  for (double v : p) zeros += v == 0.0;
  const std::size_t nonzeros = p.size() - zeros;
  if (nonzeros == 0) return false;
  const double eps1 = eps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : p) v += v == 0.0 ? eps : -eps1;
  return true;
}

double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (double v : p) sp += v;
  for (double v : q) sq += v;
  double s = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double pi = p[i] / sp, qi = q[i] / sq;
    if (pi == 0.0) continue;
    if (qi <= 0.0) return std::numeric_limits<double>::infinity();
    s += pi * std::log(pi / qi);
  }
  return s;
}

namespace {

class EntropyOrtEstimator final : public RangeEstimator {
 public:
  EntropyOrtEstimator(int bins, int levels) : h_(bins), levels_(levels) {}
  void ingest(std::span<const float> v, float lo, float hi) override { h_.add(v, lo, hi); }
  Range range(const QuantTarget&) const override {
    require_observed(!h_.empty(), "entropy-ort");
    const auto& hist = h_.counts();
    const auto& edges = h_.edges();
    const std::size_t nbins = hist.size(), zero = nbins / 2, half_q = static_cast<std::size_t>(levels_) / 2;
    if (half_q > zero) fail("entropy-ort observer: ", levels_, " quantized bins exceed the histogram's ", nbins, " bins");
    const std::size_t nq = static_cast<std::size_t>(levels_);
    double best = std::numeric_limits<double>::infinity();
    Range best_r{edges[zero - half_q], edges[std::min(zero + half_q + 1, nbins)]};
    bool have = false;
    std::vector<std::int64_t> prefix(nbins + 1, 0);
    for (std::size_t i = 0; i < nbins; ++i) prefix[i + 1] = prefix[i] + hist[i];
    std::vector<double> p, q;
    std::vector<std::int64_t> qbins(nq);
    for (std::size_t i = half_q; i <= zero; ++i) {
      const std::size_t start = zero - i, end = std::min(zero + i + 1, nbins), len = end - start;
      p.assign(hist.begin() + static_cast<std::ptrdiff_t>(start), hist.begin() + static_cast<std::ptrdiff_t>(end));
      p.front() += static_cast<double>(prefix[start]);
      p.back() += static_cast<double>(prefix[nbins] - prefix[end]);
      const std::size_t merged = len / nq;
      for (std::size_t k = 0; k < nq; ++k)
        qbins[k] = prefix[start + (k + 1) * merged] - prefix[start + k * merged];
      qbins[nq - 1] += prefix[end] - prefix[start + nq * merged];
      q.assign(len, 0.0);
      for (std::size_t k = 0; k < nq; ++k) {
        std::int64_t norm = 0;
        for (std::size_t j = k * merged; j < (k + 1) * merged; ++j) norm += p[j] != 0.0;
        if (norm != 0)
          for (std::size_t j = k * merged; j < (k + 1) * merged; ++j)
            q[j] = static_cast<double>(qbins[k] / norm);  // int64 array: truncated
      }
      double div = std::numeric_limits<double>::infinity();
      if (smooth_distribution(p) && smooth_distribution(q)) div = kl_divergence(p, q);
      // np.argmin: the first minimum; an all-inf search keeps the first candidate.
      if (!have || div < best) {
        best = div;
        best_r = {edges[start], edges[end]};
        have = true;
      }
    }
    best_r.min = std::max(best_r.min, h_.min());
    best_r.max = std::min(best_r.max, h_.max());
    return best_r;
  }

 private:
  SymmetricHistogram h_;
  int levels_;
};

}  // namespace

std::unique_ptr<RangeEstimator> make_entropy_ort_estimator(const ObserverOptions& o) {
  const int bins = o.bins > 0 ? o.bins : 128;
  const int levels = o.quantized_bins > 0 ? o.quantized_bins : 128;
  if (levels < 2) fail("entropy-ort observer: needs at least 2 quantized bins, got ", levels);
  return std::make_unique<EntropyOrtEstimator>(bins, levels);
}

}  // namespace lowbit::calib
