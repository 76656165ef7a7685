// numpy/ORT histogram mechanics (see histogram_numpy.h). All edge arithmetic is float32
// in numpy's order; counts are exact int64 as np.histogram returns them.
#include "histogram_numpy.h"

#include <algorithm>
#include <cmath>

#include "lowbit/error.h"

namespace lowbit::calib {

namespace {
void minmax_of(std::span<const float> v, float& lo, float& hi) {
  lo = v[0];
  hi = v[0];
  for (float x : v) {
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
  }
}

// np.histogram(values, bins=edges) for arbitrary increasing edges: [e_i, e_i+1), the
// last bin closed; outside values dropped.
void histogram_edges(std::span<const float> values, std::span<const float> edges,
                     std::span<std::int64_t> counts) {
  const std::size_t nb = edges.size() - 1;
  for (float x : values) {
    if (!(x >= edges.front() && x <= edges.back())) continue;
    std::size_t i = static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin());
    i = i == 0 ? 0 : i - 1;
    if (i >= nb) i = nb - 1;
    ++counts[i];
  }
}
}  // namespace

std::vector<float> numpy_uniform_edges(float lo, float hi, std::size_t n, bool in_double) {
  std::vector<float> e(n + 1);
  if (in_double) {
    const double step = (static_cast<double>(hi) - lo) / static_cast<double>(n);
    for (std::size_t k = 0; k <= n; ++k) e[k] = static_cast<float>(static_cast<double>(k) * step + lo);
    e[n] = hi;
    return e;
  }
  const float delta = hi - lo;
  const float step = delta / static_cast<float>(n);
  for (std::size_t k = 0; k <= n; ++k) {
    const float y = step == 0.0f ? static_cast<float>(k) / static_cast<float>(n) * delta
                                 : static_cast<float>(k) * step;
    e[k] = y + lo;
  }
  e[n] = hi;
  return e;
}

void numpy_histogram_uniform(std::span<const float> values, float lo, float hi, std::span<const float> edges,
                             std::span<std::int64_t> counts) {
  const std::size_t n = counts.size();
  const float denom = hi - lo;
  const float num = static_cast<float>(n);
  for (float x : values) {
    if (!(x >= lo && x <= hi)) continue;
    std::size_t i = static_cast<std::size_t>(static_cast<std::int64_t>((x - lo) / denom * num));
    if (i >= n) i = n - 1;
    // numpy's correction: the index must agree with the float32 edges.
    if (x < edges[i]) --i;
    else if (i != n - 1 && x >= edges[i + 1]) ++i;
    ++counts[i];
  }
}

bool NumpyHistogram::note_range(float lo, float hi) {
  const bool first = counts_.empty();
  min_ = first ? lo : std::min(min_, lo);
  max_ = first ? hi : std::max(max_, hi);
  return first;
}

void SymmetricHistogram::add(std::span<const float> values, float bmin, float bmax) {
  if (values.empty()) return;
  const float thr = std::max(std::fabs(bmin), std::fabs(bmax));
  auto fresh = [&](float t, std::size_t nb) {
    float lo = -t, hi = t;
    if (lo == hi) {  // np.histogram widens an empty range by 0.5 each way
      lo -= 0.5f;
      hi += 0.5f;
    }
    std::vector<float> edges = numpy_uniform_edges(lo, hi, nb);
    std::vector<std::int64_t> counts(nb, 0);
    numpy_histogram_uniform(values, lo, hi, edges, counts);
    return std::pair{std::move(counts), std::move(edges)};
  };
  if (note_range(bmin, bmax)) {
    auto [c, e] = fresh(thr, static_cast<std::size_t>(initial_bins_));
    counts_ = std::move(c);
    edges_ = std::move(e);
    threshold_ = thr;
    return;
  }
  if (thr <= threshold_) {
    auto [c, e] = fresh(threshold_, counts_.size());
    for (std::size_t i = 0; i < c.size(); ++i) counts_[i] += c[i];
    return;
  }
  if (threshold_ == 0.0f) {  // ORT adds the old counts bin by bin onto the new range
    auto [c, e] = fresh(thr, counts_.size());
    for (std::size_t i = 0; i < c.size(); ++i) c[i] += counts_[i];
    counts_ = std::move(c);
    edges_ = std::move(e);
    threshold_ = thr;
    return;
  }
  const std::size_t old_bins = counts_.size();
  const float stride = 2.0f * threshold_ / static_cast<float>(old_bins);
  const std::size_t half = static_cast<std::size_t>(std::floor((thr - threshold_) / stride) + 1.0f);
  if (old_bins + 2 * half > (std::size_t{1} << 26))
    fail("histogram: range grew by ", thr / threshold_, "x over the first batch; ORT-style histograms would need ",
         old_bins + 2 * half, " bins");
  const float new_thr = static_cast<float>(half) * stride + threshold_;
  auto [c, e] = fresh(new_thr, old_bins + 2 * half);
  for (std::size_t i = 0; i < old_bins; ++i) c[half + i] += counts_[i];
  counts_ = std::move(c);
  edges_ = std::move(e);
  threshold_ = new_thr;
}

void AbsHistogram::add(std::span<const float> values, float bmin, float bmax) {
  if (values.empty()) return;
  scratch_.resize(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) scratch_[i] = std::fabs(values[i]);
  float amin, amax;
  minmax_of(scratch_, amin, amax);
  if (note_range(bmin, bmax)) {
    float lo = amin, hi = amax;
    if (lo == hi) {
      lo -= 0.5f;
      hi += 0.5f;
    }
    // No range given: numpy takes min/max as Python floats, so linspace runs in double.
    edges_ = numpy_uniform_edges(lo, hi, static_cast<std::size_t>(initial_bins_), true);
    counts_.assign(static_cast<std::size_t>(initial_bins_), 0);
    numpy_histogram_uniform(scratch_, lo, hi, edges_, counts_);
    return;
  }
  if (amax > edges_.back()) {  // np.arange(last + w, amax + w, w) in float32
    const float w = edges_[1] - edges_[0];
    const float start = edges_.back() + w;
    const float stop = amax + w;
    const double len = std::ceil(static_cast<double>((stop - start) / w));
    if (len > static_cast<double>(std::size_t{1} << 26))
      fail("histogram: |x| grew by ", amax / edges_.back(), "x over the first batch; ORT-style histograms would need ",
           len, " more bins");
    const std::size_t added = len > 0 ? static_cast<std::size_t>(len) : 0;
    const float delta = (start + w) - start;
    for (std::size_t i = 0; i < added; ++i)
      edges_.push_back(i == 0 ? start : start + static_cast<float>(i) * delta);
    counts_.resize(edges_.size() - 1, 0);
  }
  histogram_edges(scratch_, edges_, counts_);
}

}  // namespace lowbit::calib
