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

// What both ORT histograms keep: counts, float32 edges, and the raw data min / max
// (ORT clamps its thresholds to them).
class NumpyHistogram {
 public:
  explicit NumpyHistogram(int bins) : initial_bins_(bins) {}
  bool empty() const { return counts_.empty(); }
  const std::vector<std::int64_t>& counts() const { return counts_; }
  const std::vector<float>& edges() const { return edges_; }
  float min() const { return min_; }
  float max() const { return max_; }

 protected:
  // Records the batch's raw min / max; true for the first batch.
  bool note_range(float lo, float hi);
  int initial_bins_;
  std::vector<std::int64_t> counts_;
  std::vector<float> edges_;
  float min_ = 0, max_ = 0;
};

// ORT collect_value: bins over [-t, t], t = max|x| seen; a batch with a larger |x| adds
// whole bins of the old width on both sides (old counts kept in the middle).
class SymmetricHistogram : public NumpyHistogram {
 public:
  using NumpyHistogram::NumpyHistogram;
  // `lo`, `hi`: the batch's min and max.
  void add(std::span<const float> values, float lo, float hi);

 private:
  float threshold_ = 0;
};

// ORT collect_absolute_value: bins over [min|x|, max|x|] of the first batch; a larger
// |x| later appends bins of the first width. Values below the first edge are dropped,
// as np.histogram drops them.
class AbsHistogram : public NumpyHistogram {
 public:
  using NumpyHistogram::NumpyHistogram;
  void add(std::span<const float> values, float lo, float hi);

 private:
  std::vector<float> scratch_;
};

}  // namespace lowbit::calib
