// Reference integer GEMM (kernels/gemm_s8.h) and the weight packing both twins read: the
// dot sum A*W in int32, the offline zero-point-adjusted row sums, the run-time za and zw
// corrections in int64 (no signed overflow on the way to an int32 that always fits), and
// one scale multiply (sa * sw) * float(Y) that the AVX2 twin repeats in the same order.
#include <algorithm>
#include <vector>

#include "kernels/gemm_s8.h"
#include "lowbit/error.h"

namespace lowbit::kernels {

S8Weights pack_s8_weights(const std::int8_t* codes, std::int64_t n, std::int64_t k, const float* scales,
                          std::int64_t n_scales, const std::int32_t* zero_points, std::int64_t n_zero_points) {
  if (n < 1 || k < 1) fail("pack_s8_weights: shape [", n, ", ", k, "] is empty");
  if (k > kS8MaxK) fail("pack_s8_weights: k = ", k, " exceeds ", kS8MaxK, " (int32 accumulators could overflow)");
  if (!codes || !scales) fail("pack_s8_weights: codes and scales are required");
  if (n_scales != 1 && n_scales != n) fail("pack_s8_weights: ", n_scales, " scales for ", n, " channels (need 1 or n)");
  if (!zero_points) n_zero_points = 0;
  if (n_zero_points != 0 && n_zero_points != 1 && n_zero_points != n)
    fail("pack_s8_weights: ", n_zero_points, " zero points for ", n, " channels (need 0, 1 or n)");
  S8Weights w;
  w.n = n;
  w.k = k;
  w.n_pad = (n + kS8PanelCols - 1) / kS8PanelCols * kS8PanelCols;
  w.k_pad = (k + kS8KBlock - 1) / kS8KBlock * kS8KBlock;
  const auto np = static_cast<std::size_t>(w.n_pad);
  w.data.assign(np * static_cast<std::size_t>(w.k_pad), 0);
  w.zero_adjusted_row_sums.assign(np, 0);
  w.zero_points.assign(np, 0);
  w.scales.assign(np, 1.0f);
  for (std::int64_t j = 0; j < n; ++j) {
    const std::int32_t zw = n_zero_points == 0 ? 0 : zero_points[n_zero_points == 1 ? 0 : j];
    if (zw < -128 || zw > 127) fail("pack_s8_weights: zero point ", zw, " of channel ", j, " is outside [-128, 127]");
    const auto js = static_cast<std::size_t>(j);
    w.zero_points[js] = zw;
    w.has_zero_points = w.has_zero_points || zw != 0;
    w.scales[js] = scales[n_scales == 1 ? 0 : j];
    std::int32_t sum = 0;  // |sum| <= 255 * 32768 < 2^31
    std::int8_t* panel = w.data.data() + (j / kS8PanelCols) * kS8PanelCols * w.k_pad + (j % kS8PanelCols) * kS8KBlock;
    for (std::int64_t t = 0; t < k; ++t) {
      const std::int8_t q = codes[j * k + t];
      panel[(t / kS8KBlock) * kS8PanelCols * kS8KBlock + t % kS8KBlock] = q;
      sum += q - zw;
    }
    w.zero_adjusted_row_sums[js] = sum;
  }
  return w;
}

void gemm_s8__ref(const S8Activations& a, const S8Weights& w, std::int32_t* y32, float* y, std::int64_t n0,
                  std::int64_t n1) {
  const std::int64_t k = w.k, n = w.n;
  const std::int64_t stride = a.row_stride ? a.row_stride : k;
  std::vector<std::int32_t> row(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < a.m; ++i) {
    const std::int64_t pi = a.per_token ? i : 0;
    const std::int32_t za = a.zero_points ? a.zero_points[pi] : 0;
    const float sa = a.scales ? a.scales[pi] : 1.0f;
    const auto* bytes = static_cast<const unsigned char*>(a.data) + i * stride;
    std::int64_t sum_a = 0;
    for (std::int64_t t = 0; t < k; ++t) {
      row[static_cast<std::size_t>(t)] =
          a.is_unsigned ? static_cast<std::int32_t>(bytes[t]) : static_cast<std::int32_t>(static_cast<std::int8_t>(bytes[t]));
      sum_a += row[static_cast<std::size_t>(t)];
    }
    for (std::int64_t j = n0; j < n1; ++j) {
      const auto js = static_cast<std::size_t>(j);
      // Column j's codes: 16 per k block, blocks 64 bytes apart (s8_weight_at spelled out).
      const std::int8_t* col = w.data.data() + (j / kS8PanelCols) * kS8PanelCols * w.k_pad + (j % kS8PanelCols) * kS8KBlock;
      std::int32_t dot = 0;  // |A * W| <= 255 * 128, times k <= 32768: < 2^31
      for (std::int64_t t = 0; t < k; ++t)
        dot += row[static_cast<std::size_t>(t)] * col[(t / kS8KBlock) * kS8PanelCols * kS8KBlock + t % kS8KBlock];
      // Y = sum A*W - za * sum_t (W - zw) - zw * sum_t A  (docs/numerics.md); fits int32.
      const std::int64_t full = std::int64_t{dot} - std::int64_t{za} * w.zero_adjusted_row_sums[js] -
                                std::int64_t{w.zero_points[js]} * sum_a;
      const auto yy = static_cast<std::int32_t>(full);
      if (y32) y32[i * n + j] = yy;
      if (y) y[i * n + j] = (sa * w.scales[js]) * static_cast<float>(yy);
    }
  }
}

}  // namespace lowbit::kernels
