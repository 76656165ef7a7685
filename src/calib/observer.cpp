// The Observer facade (validation, per-channel split) and the spec parser / factory
// that pick a method's estimator (see observer.h).
#include "lowbit/observer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "estimators.h"
#include "kernels/quant_rows.h"
#include "lowbit/error.h"

namespace lowbit::calib {

namespace {

struct MethodName {
  Method m;
  std::string_view name;
};
constexpr MethodName kMethods[] = {
    {Method::MinMax, "minmax"},          {Method::MovingAverage, "ma"},    {Method::Percentile, "percentile"},
    {Method::Entropy, "entropy"},        {Method::EntropyOrt, "entropy-ort"}, {Method::Distribution, "distribution"},
    {Method::HistogramL2, "hist-l2"},    {Method::Mse, "mse"},
};

double parse_number(std::string_view spec, std::string_view text) {
  double v = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || !std::isfinite(v))
    fail("observer spec '", spec, "': '", text, "' is not a number");
  return v;
}

int parse_int(std::string_view spec, std::string_view text) {
  const double v = parse_number(spec, text);
  if (v != std::floor(v) || std::fabs(v) > 1e9) fail("observer spec '", spec, "': '", text, "' is not an integer");
  return static_cast<int>(v);
}

}  // namespace

std::string_view method_name(Method m) {
  for (const auto& e : kMethods)
    if (e.m == m) return e.name;
  return "?";
}

std::vector<Method> all_methods() {
  std::vector<Method> out;
  for (const auto& e : kMethods) out.push_back(e.m);
  return out;
}

ObserverOptions parse_observer(std::string_view spec) {
  ObserverOptions o;
  std::vector<std::string_view> parts;
  for (std::size_t pos = 0;;) {
    const std::size_t c = spec.find(':', pos);
    parts.push_back(spec.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
    if (c == std::string_view::npos) break;
    pos = c + 1;
  }
  bool found = false;
  for (const auto& e : kMethods)
    if (e.name == parts[0]) {
      o.method = e.m;
      found = true;
    }
  if (!found) {
    std::string names;
    for (const auto& e : kMethods) names += (names.empty() ? "" : ", ") + std::string(e.name);
    fail("observer spec '", spec, "': unknown method '", parts[0], "' (one of ", names, ")");
  }
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string_view p = parts[i];
    if (p.empty()) fail("observer spec '", spec, "': empty option");
    if (p == "fold") {
      o.fold_each_batch = true;
      continue;
    }
    if (p == "sym" || p == "asym") {
      o.symmetric = p == "sym";
      continue;
    }
    std::string_view key, val = p;
    if (const auto eq = p.find('='); eq != std::string_view::npos) {
      key = p.substr(0, eq);
      val = p.substr(eq + 1);
    } else {  // the method's main parameter
      switch (o.method) {
        case Method::MovingAverage: key = "c"; break;
        case Method::Percentile: key = "p"; break;
        case Method::Mse: key = "grid"; break;
        case Method::MinMax: fail("observer spec '", spec, "': minmax takes no parameter, got '", p, "'");
        default: key = "bins"; break;
      }
    }
    if (key == "axis") o.channel_axis = parse_int(spec, val);
    else if (key == "c") o.averaging_constant = static_cast<float>(parse_number(spec, val));
    else if (key == "p") o.percentile = parse_number(spec, val);
    else if (key == "bins") o.bins = parse_int(spec, val);
    else if (key == "levels") o.quantized_bins = parse_int(spec, val);
    else if (key == "upsample") o.upsample_rate = parse_int(spec, val);
    else if (key == "grid") o.mse_grid = parse_int(spec, val);
    else if (key == "min-ratio") o.mse_min_ratio = static_cast<float>(parse_number(spec, val));
    else if (key == "seed") o.seed = static_cast<std::uint64_t>(parse_int(spec, val));
    else fail("observer spec '", spec, "': unknown option '", key, "'");
  }
  if (o.channel_axis < -1) fail("observer spec '", spec, "': axis must be >= 0");
  make_estimator(o);  // validates the method's parameters now, not at the first batch
  return o;
}

std::unique_ptr<RangeEstimator> make_estimator(const ObserverOptions& o) {
  switch (o.method) {
    case Method::MinMax: return make_minmax_estimator(o.fold_each_batch);
    case Method::MovingAverage: return make_moving_average_estimator(o.averaging_constant, o.fold_each_batch);
    case Method::Percentile: return make_percentile_estimator(o);
    case Method::Entropy: return make_entropy_estimator(o);
    case Method::EntropyOrt: return make_entropy_ort_estimator(o);
    case Method::Distribution: return make_distribution_estimator(o);
    case Method::HistogramL2: return make_histogram_l2_estimator(o);
    case Method::Mse: return make_mse_estimator(o);
  }
  fail("observer: unknown method");
}

Observer::Observer(ObserverOptions options, std::string tensor_name)
    : options_(std::move(options)), name_(std::move(tensor_name)) {
  make_estimator(options_);
}

void Observer::observe(std::span<const float> values, std::span<const std::int64_t> shape) {
  std::uint64_t count = 1;
  for (std::int64_t d : shape) {
    if (d < 0) fail("observer '", name_, "' batch ", batches_, ": negative dimension ", d);
    count *= static_cast<std::uint64_t>(d);
  }
  if (count != values.size())
    fail("observer '", name_, "' batch ", batches_, ": shape holds ", count, " values but ", values.size(), " were given");
  if (values.empty()) return;
  // One pass (the AVX2 row kernel where the CPU has it) validates and finds min / max;
  // the slow search for the culprit runs only on failure.
  const kernels::QuantRowKernels& k = kernels::quant_rows();
  auto minmax = [&](std::span<const float> v, float& lo, float& hi) {
    const auto n = static_cast<std::int64_t>(v.size());
    return k.minmax_groups(v.data(), n, n, &lo, &hi);
  };
  float lo = 0, hi = 0;
  const bool finite = minmax(values, lo, hi);
  for (std::size_t i = 0; !finite && i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      fail("observer '", name_, "' batch ", batches_, ": element ", i, " is ", values[i],
           "; observers refuse NaN/Inf (a range from them would be garbage): mask or clamp them first");
  const int axis = options_.channel_axis;
  if (axis < 0) {
    if (channels_.empty()) channels_.push_back(make_estimator(options_));
    channels_[0]->ingest(values, lo, hi);
    ++batches_;
    return;
  }
  if (static_cast<std::size_t>(axis) >= shape.size())
    fail("observer '", name_, "' batch ", batches_, ": channel axis ", axis, " but the batch has ", shape.size(),
         " dimensions");
  const auto ch = static_cast<std::size_t>(shape[static_cast<std::size_t>(axis)]);
  std::size_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < static_cast<std::size_t>(axis); ++d) outer *= static_cast<std::size_t>(shape[d]);
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < shape.size(); ++d)
    inner *= static_cast<std::size_t>(shape[d]);
  if (channels_.empty()) {
    for (std::size_t c = 0; c < ch; ++c) channels_.push_back(make_estimator(options_));
  } else if (channels_.size() != ch) {
    fail("observer '", name_, "' batch ", batches_, ": ", ch, " channels on axis ", axis, " but earlier batches had ",
         channels_.size());
  }
  for (std::size_t c = 0; c < ch; ++c) {
    std::span<const float> slice = values.subspan(c * inner, inner);
    if (outer != 1) {
      gather_.resize(outer * inner);
      for (std::size_t o = 0; o < outer; ++o)
        std::copy_n(values.begin() + static_cast<std::ptrdiff_t>((o * ch + c) * inner), inner,
                    gather_.begin() + static_cast<std::ptrdiff_t>(o * inner));
      slice = gather_;
    }
    if (slice.empty()) continue;
    float clo, chi;
    minmax(slice, clo, chi);
    channels_[c]->ingest(slice, clo, chi);
  }
  ++batches_;
}

std::vector<Range> Observer::ranges(const QuantTarget& target) const {
  if (channels_.empty()) fail("observer '", name_, "': no data observed yet");
  std::vector<Range> out;
  out.reserve(channels_.size());
  for (const auto& c : channels_) out.push_back(c->range(target));
  return out;
}

std::vector<AffineParams> Observer::qparams(const QuantTarget& target) const {
  return qparams_from_ranges(ranges(target), target);
}

}  // namespace lowbit::calib
