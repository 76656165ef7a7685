// torch.ao HistogramObserver: a running histogram over [min, max] of everything seen
// (torch.histc binning; a wider batch re-bins the old counts by upsampling each old bin
// `upsample_rate` times and summing into the new, coarser bins), then the L2-norm search
// of caffe2's NormMinimization: shrink [min, max] one bin at a time from the side whose
// CDF tail is lighter while the modelled quantization error (uniform density per bin,
// 2^bits destination bins) keeps falling.
// Semantics are torch 2.0-2.4's; torch 1.13 truncates the histc range to integers
// (pytorch#83672), which agrees with this whenever the batch extremes are integers.
// The re-binning is computed by overlap instead of materialising bins * downsample
// fine cells, so memory stays at `bins` however far the range grows.
#include <algorithm>
#include <cmath>
#include <limits>

#include "estimators.h"
#include "lowbit/error.h"

namespace lowbit::calib {

namespace {

// torch.histc(x, bins, min=lo, max=hi) added into `counts`: index computed in fp32 as
// (x - lo) * bins / (hi - lo), values outside [lo, hi] ignored; lo == hi widens by 1.
void histc_add(std::span<const float> x, float lo, float hi, std::vector<double>& counts) {
  if (lo == hi) {
    lo -= 1.0f;
    hi += 1.0f;
  }
  const std::size_t n = counts.size();
  const float nb = static_cast<float>(n);
  const float width = hi - lo;
  std::vector<std::uint32_t> local(n, 0);
  for (float v : x) {
    if (!(v >= lo && v <= hi)) continue;
    std::size_t b = static_cast<std::size_t>((v - lo) * nb / width);
    local[b < n ? b : n - 1] += 1;
  }
  for (std::size_t i = 0; i < n; ++i) counts[i] += local[i];
}

class HistogramL2Estimator final : public RangeEstimator {
 public:
  HistogramL2Estimator(int bins, int upsample) : hist_(static_cast<std::size_t>(bins), 0.0), upsample_(upsample) {}

  void ingest(std::span<const float> x, float lo, float hi) override {
    // Batches larger than 2^32 elements would overflow the per-batch uint32 counts.
    if (x.size() >= (std::size_t{1} << 32)) fail("hist-l2 observer: batch of ", x.size(), " values is too large");
    if (!seen_ || min_ == max_) {  // torch restarts while every value seen was equal
      std::fill(hist_.begin(), hist_.end(), 0.0);
      min_ = lo;
      max_ = hi;
      seen_ = true;
      histc_add(x, lo, hi, hist_);
      return;
    }
    float cmin = std::min(lo, min_), cmax = std::max(hi, max_);
    // _adjust_min_max, in torch's fp32 steps.
    const float nbins = static_cast<float>(hist_.size());
    const float hist_bin_width = (max_ - min_) / (nbins * static_cast<float>(upsample_));
    const float coarse = nbins * hist_bin_width;
    const auto downsample = static_cast<std::int64_t>(std::ceil((cmax - cmin) / coarse));
    const float e = static_cast<float>(downsample) * coarse - (cmax - cmin);
    cmax = cmax + e;
    const auto start_idx = static_cast<std::int64_t>(std::nearbyint((min_ - cmin) / hist_bin_width));
    std::vector<double> combined(hist_.size(), 0.0);
    histc_add(x, cmin, cmax, combined);
    if (cmin == min_ && cmax == max_) {
      for (std::size_t i = 0; i < hist_.size(); ++i) combined[i] += hist_[i];
    } else {
      // Old bin k covers fine cells [start + k*U, start + (k+1)*U), each holding h_k/U;
      // new bin j sums fine cells [j*D, (j+1)*D).
      const std::int64_t U = upsample_, D = downsample, n = static_cast<std::int64_t>(hist_.size());
      for (std::int64_t k = 0; k < n; ++k) {
        if (hist_[static_cast<std::size_t>(k)] == 0.0) continue;
        std::int64_t a = start_idx + k * U;
        const std::int64_t b = a + U;
        const double per_cell = hist_[static_cast<std::size_t>(k)] / static_cast<double>(U);
        while (a < b) {
          const std::int64_t j = a / D;
          if (j >= n) break;  // beyond the new range: torch's slice drops them too
          const std::int64_t cell_end = std::min(b, (j + 1) * D);
          combined[static_cast<std::size_t>(j)] += per_cell * static_cast<double>(cell_end - a);
          a = cell_end;
        }
      }
    }
    hist_ = std::move(combined);
    min_ = cmin;
    max_ = cmax;
  }

  Range range(const QuantTarget& t) const override {
    require_observed(seen_, "hist-l2");
    if (min_ == max_) return {min_, max_};
    const std::size_t n = hist_.size();
    const double dst_nbins = std::ldexp(1.0, t.range.bits);
    const double bin_width = (static_cast<double>(max_) - min_) / static_cast<double>(n);
    std::vector<double> csum(n);
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) csum[i] = (total += hist_[i]);

    auto norm = [](double b, double e, double density) { return density * (e * e * e - b * b * b) / 3.0; };
    auto error = [&](std::size_t sb, std::size_t eb) {
      const double dst_w = bin_width * static_cast<double>(eb - sb + 1) / dst_nbins;
      if (dst_w == 0.0) return 0.0;
      double s = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double begin = (static_cast<double>(i) - static_cast<double>(sb)) * bin_width;
        const double end = begin + bin_width;
        const double db = std::clamp(std::floor(begin / dst_w), 0.0, dst_nbins - 1);
        const double de = std::clamp(std::floor(end / dst_w), 0.0, dst_nbins - 1);
        const double density = hist_[i] / bin_width;
        s += norm(begin - (db + 0.5) * dst_w, dst_w / 2, density);
        s += (de - db - 1) * norm(-dst_w / 2, dst_w / 2, density);
        s += norm(-dst_w / 2, end - (de * dst_w + dst_w / 2), density);
      }
      return s;
    };

    const double step = 1e-5;
    double alpha = 0.0, beta = 1.0, norm_min = std::numeric_limits<double>::infinity();
    std::size_t start = 0, end = n - 1;
    while (alpha < beta) {
      const double next_alpha = alpha + step, next_beta = beta - step;
      std::size_t l = start, r = end;
      while (l < end && csum[l] < next_alpha * total) ++l;
      while (r > start && csum[r] > next_beta * total) --r;
      std::size_t ns = start, ne = end;
      if (l - start > end - r) {
        ns = l;
        alpha = next_alpha;
      } else {
        ne = r;
        beta = next_beta;
      }
      if (ns == start && ne == end) continue;
      const double nrm = error(ns, ne);
      if (nrm > norm_min) break;
      norm_min = nrm;
      start = ns;
      end = ne;
    }
    // new_min = min + bin_width * start in torch's fp32 tensor arithmetic.
    const float bw = (max_ - min_) / static_cast<float>(n);
    return {min_ + bw * static_cast<float>(start), min_ + bw * static_cast<float>(end + 1)};
  }

 private:
  std::vector<double> hist_;
  int upsample_;
  float min_ = 0.0f, max_ = 0.0f;
  bool seen_ = false;
};

}  // namespace

std::unique_ptr<RangeEstimator> make_histogram_l2_estimator(const ObserverOptions& o) {
  const int bins = o.bins > 0 ? o.bins : 2048;
  if (bins < 2) fail("hist-l2 observer: needs at least 2 bins, got ", bins);
  if (o.upsample_rate < 1) fail("hist-l2 observer: upsample rate must be >= 1, got ", o.upsample_rate);
  return std::make_unique<HistogramL2Estimator>(bins, o.upsample_rate);
}

}  // namespace lowbit::calib
