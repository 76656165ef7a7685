// Activation quantization for the quantized matmul: static (a range frozen after
// calibration, values outside it saturate) or dynamic (range computed at run time per
// tensor or per token, i.e. per row), all with torch.ao's qparams recipe, plus the
// error it costs on a given activation tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "lowbit/calib_qparams.h"
#include "lowbit/metrics.h"
#include "lowbit/observer.h"

namespace lowbit::calib {

enum class ActivationMode : std::uint8_t { Static, DynamicPerTensor, DynamicPerToken };
std::string_view activation_mode_name(ActivationMode m);

struct ActivationQuantizer {
  ActivationMode mode = ActivationMode::DynamicPerToken;
  QuantTarget target;
  AffineParams frozen;  // Static only

  // Static quantizer from a calibrated per-tensor observer's range.
  static ActivationQuantizer freeze(const Observer& calibrated, const QuantTarget& target);
  static ActivationQuantizer dynamic(ActivationMode mode, const QuantTarget& target);
};

// Row-major [rows, cols] codes and the qparams they were made with: one set (static,
// per tensor) or one per row (per token), row r's codes use params[per_row ? r : 0].
struct QuantizedActivation {
  std::size_t rows = 0, cols = 0;
  std::vector<std::int32_t> codes;
  std::vector<AffineParams> params;
  IntRange range;
  const AffineParams& row_params(std::size_t r) const { return params[params.size() == 1 ? 0 : r]; }
};

// Refuses NaN/Inf (naming the row and column): a dynamic range over them is garbage.
QuantizedActivation quantize_activation(std::span<const float> x, std::size_t rows, std::size_t cols,
                                        const ActivationQuantizer& q);
std::vector<float> dequantize_activation(const QuantizedActivation& a);
// Quantize, dequantize and compare with x.
ErrorStats activation_error(std::span<const float> x, std::size_t rows, std::size_t cols,
                            const ActivationQuantizer& q);

}  // namespace lowbit::calib
