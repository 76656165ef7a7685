// Static and dynamic (per tensor / per token) activation quantization (see
// activation_quant.h). Dynamic ranges are plain min/max of what is being quantized,
// turned into qparams by the same torch.ao recipe the observers use.
#include "lowbit/activation_quant.h"

#include <cmath>

#include "lowbit/error.h"

namespace lowbit::calib {

std::string_view activation_mode_name(ActivationMode m) {
  switch (m) {
    case ActivationMode::Static: return "static";
    case ActivationMode::DynamicPerTensor: return "dynamic-tensor";
    case ActivationMode::DynamicPerToken: return "dynamic-token";
  }
  return "?";
}

ActivationQuantizer ActivationQuantizer::freeze(const Observer& calibrated, const QuantTarget& target) {
  if (calibrated.options().channel_axis >= 0)
    fail("static activation quantizer: needs a per-tensor observer, got one on axis ",
         calibrated.options().channel_axis);
  ActivationQuantizer q;
  q.mode = ActivationMode::Static;
  q.target = target;
  q.frozen = calibrated.qparams(target)[0];
  return q;
}

ActivationQuantizer ActivationQuantizer::dynamic(ActivationMode mode, const QuantTarget& target) {
  if (mode == ActivationMode::Static) fail("dynamic activation quantizer: mode must be dynamic");
  ActivationQuantizer q;
  q.mode = mode;
  q.target = target;
  return q;
}

namespace {
Range row_range(std::span<const float> row) {
  Range r{row[0], row[0]};
  for (float v : row) {
    r.min = v < r.min ? v : r.min;
    r.max = v > r.max ? v : r.max;
  }
  return r;
}
}  // namespace

QuantizedActivation quantize_activation(std::span<const float> x, std::size_t rows, std::size_t cols,
                                        const ActivationQuantizer& q) {
  if (x.size() != rows * cols)
    fail("quantize_activation: ", x.size(), " values for a [", rows, ", ", cols, "] activation");
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]))
      fail("quantize_activation: element [", i / cols, ", ", i % cols, "] is ", x[i],
           "; NaN/Inf activations cannot be quantized");
  QuantizedActivation a;
  a.rows = rows;
  a.cols = cols;
  a.range = q.target.range;
  a.codes.resize(x.size());
  if (x.empty()) {
    a.params.push_back(q.frozen);
    return a;
  }
  switch (q.mode) {
    case ActivationMode::Static: a.params.push_back(q.frozen); break;
    case ActivationMode::DynamicPerTensor: a.params.push_back(qparams_from_range(row_range(x), q.target)); break;
    case ActivationMode::DynamicPerToken:
      a.params.reserve(rows);
      for (std::size_t r = 0; r < rows; ++r)
        a.params.push_back(qparams_from_range(row_range(x.subspan(r * cols, cols)), q.target));
      break;
  }
  for (std::size_t r = 0; r < rows; ++r)
    quantize_span(x.subspan(r * cols, cols), a.row_params(r), a.range, Rounding::NearestEven,
                  std::span(a.codes).subspan(r * cols, cols));
  return a;
}

std::vector<float> dequantize_activation(const QuantizedActivation& a) {
  std::vector<float> out(a.codes.size());
  for (std::size_t r = 0; r < a.rows; ++r)
    dequantize_span(std::span(a.codes).subspan(r * a.cols, a.cols), a.row_params(r),
                    std::span(out).subspan(r * a.cols, a.cols));
  return out;
}

ErrorStats activation_error(std::span<const float> x, std::size_t rows, std::size_t cols,
                            const ActivationQuantizer& q) {
  const std::vector<float> y = dequantize_activation(quantize_activation(x, rows, cols, q));
  return error_stats(x, y);
}

}  // namespace lowbit::calib
