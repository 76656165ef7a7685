// Histograms built the way ONNX Runtime's HistogramCollector builds them with numpy:
// np.histogram's float32 edges (linspace) and bin assignment, and ORT's two ways of
// growing the histogram when a later batch exceeds the range. Reproducing them is what
// lets lowbit's Percentile/Entropy/Distribution ranges equal ORT's on the same batches.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace lowbit::calib {

// np.linspace(lo, hi, n + 1, dtype=float32): fl(fl(k * step) + lo), last edge = hi;
// in_double: the same in float64, rounded at the end (linspace of Python floats).
std::vector<float> numpy_uniform_edges(float lo, float hi, std::size_t n, bool in_double = false);

// np.histogram(values, n, range=(lo, hi)) added into `counts` (size n); values outside
// [lo, hi] are dropped. `edges` must be numpy_uniform_edges(lo, hi, n).
void numpy_histogram_uniform(std::span<const float> values, float lo, float hi, std::span<const float> edges,
                             std::span<std::int64_t> counts);

// ORT collect_value: bins over [-t, t], t = max|x| seen; a batch with a larger |x| adds
// whole bins of the old width on both sides (old counts kept in the middle).
class SymmetricHistogram {
 public:
  explicit SymmetricHistogram(int bins) : initial_bins_(bins) {}
  void add(std::span<const float> values);
  bool empty() const { return counts_.empty(); }
  const std::vector<std::int64_t>& counts() const { return counts_; }
  const std::vector<float>& edges() const { return edges_; }
  float min() const { return min_; }
  float max() const { return max_; }
  float threshold() const { return threshold_; }

 private:
  int initial_bins_;
  std::vector<std::int64_t> counts_;
  std::vector<float> edges_;
  float min_ = 0, max_ = 0, threshold_ = 0;
};

// ORT collect_absolute_value: bins over [min|x|, max|x|] of the first batch; a larger
// |x| later appends bins of the first width. Values below the first edge are dropped,
// as np.histogram drops them.
class AbsHistogram {
 public:
  explicit AbsHistogram(int bins) : initial_bins_(bins) {}
  void add(std::span<const float> values);
  bool empty() const { return counts_.empty(); }
  const std::vector<std::int64_t>& counts() const { return counts_; }
  const std::vector<float>& edges() const { return edges_; }
  float min() const { return min_; }
  float max() const { return max_; }

 private:
  int initial_bins_;
  std::vector<std::int64_t> counts_;
  std::vector<float> edges_;
  std::vector<float> scratch_;
  float min_ = 0, max_ = 0;
};

}  // namespace lowbit::calib
