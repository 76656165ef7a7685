// Calibration observers: consume batches of one tensor in bounded memory and return the
// clipping range [alpha, beta] (per tensor or per channel) and its scale / zero point.
// Each method is named after, and matches, the peer whose algorithm it implements
// (torch.ao observers, ONNX Runtime calibrators, TensorRT's entropy calibration).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/calib_qparams.h"

namespace lowbit::calib {

enum class Method : std::uint8_t {
  MinMax,         // torch.ao MinMaxObserver / PerChannelMinMaxObserver, ORT MinMax
  MovingAverage,  // torch.ao MovingAverage(PerChannel)MinMaxObserver: m += c * (batch - m)
  Percentile,     // ORT Percentile: histogram CDF cut at p (one side, or split over two)
  Entropy,        // TensorRT KL-divergence threshold search (2048 |x| bins, 128 levels)
  EntropyOrt,     // ORT Entropy calibrator's variant of the same search (its quirks kept)
  Distribution,   // ORT Distribution: histogram extent plus mean / std of the values
  HistogramL2,    // torch.ao HistogramObserver: L2-norm search over histogram bins
  Mse,            // direct search over clip ratios minimizing the quantization MSE
};

struct ObserverOptions {
  Method method = Method::MinMax;
  // -1: one range for the whole tensor; otherwise one range per index of this axis.
  int channel_axis = -1;
  float averaging_constant = 0.01f;  // MovingAverage (torch default)
  // MinMax / MovingAverage: make each batch's range symmetric (-max|x|, max|x|) before
  // merging, as ORT's symmetric MinMax calibrator does; torch folds only at the end.
  bool fold_each_batch = false;
  double percentile = 99.999;        // Percentile (ORT default), in (0, 100]
  // Percentile / Entropy*: fold the sign away (range -t..t) or cut both tails.
  bool symmetric = true;
  // Histogram bins. 0 picks the method's default: Entropy 2048 (|x| bins, TensorRT),
  // EntropyOrt 128 (ORT's default; degenerate, see docs/numerics.md), Percentile 2048,
  // Distribution 2048 (ORT's create_calibrator default; it refuses fewer than 512),
  // HistogramL2 2048.
  int bins = 0;
  // Entropy: quantized levels the KL search merges into; 0 derives them from the target
  // (2^(b-1) signed, 2^b when the data is non-negative). EntropyOrt: 0 means 128.
  int quantized_bins = 0;
  int upsample_rate = 128;  // HistogramL2 (torch default)
  // Mse: clip ratios r = 1 - k / grid for k = 0..grid*(1-min_ratio); the data kept for
  // the search is capped at sample_cap values per channel (a seeded reservoir).
  int mse_grid = 100;
  float mse_min_ratio = 0.2f;
  std::size_t sample_cap = std::size_t{1} << 20;
  std::uint64_t seed = 0;
};

// "minmax[:fold]", "ma[:C][:fold]", "percentile[:P][:asym]", "entropy[:BINS]", "entropy-ort[:BINS[:LEVELS]]",
// "distribution[:BINS]", "hist-l2[:BINS]", "mse[:GRID]"; a trailing ":axis=N" asks for
// per-channel ranges. Throws lowbit::Error with the offending text.
ObserverOptions parse_observer(std::string_view spec);
std::string_view method_name(Method m);
std::vector<Method> all_methods();

// One method's streaming state for one channel (or the whole tensor).
class RangeEstimator {
 public:
  virtual ~RangeEstimator() = default;
  // A non-empty batch of finite values and its min / max (the Observer has computed them
  // while validating, so estimators do not pass over the data again for them).
  virtual void ingest(std::span<const float> values, float batch_min, float batch_max) = 0;
  virtual Range range(const QuantTarget& target) const = 0;
};
std::unique_ptr<RangeEstimator> make_estimator(const ObserverOptions& o);

// Observer for one named tensor: validates every batch, splits it into channels and
// feeds each channel's estimator.
class Observer {
 public:
  Observer(ObserverOptions options, std::string tensor_name);
  // `shape` is the batch's shape (row-major); per-channel observers need the channel
  // count to stay the same across batches. Empty batches are ignored (as torch does).
  // NaN or Inf anywhere is refused with an error naming tensor, batch and element.
  void observe(std::span<const float> values, std::span<const std::int64_t> shape);
  void observe(std::span<const float> values) {
    const std::int64_t n = static_cast<std::int64_t>(values.size());
    observe(values, std::span<const std::int64_t>(&n, 1));
  }
  std::vector<Range> ranges(const QuantTarget& target) const;
  std::vector<AffineParams> qparams(const QuantTarget& target) const;
  std::uint64_t batches() const { return batches_; }
  const ObserverOptions& options() const { return options_; }

 private:
  ObserverOptions options_;
  std::string name_;
  std::vector<std::unique_ptr<RangeEstimator>> channels_;
  std::vector<float> gather_;
  std::uint64_t batches_ = 0;
};

}  // namespace lowbit::calib
