// Integer GEMM for W8A8 Linears: Y[i][j] = sum_t (A[i][t] - za) * (W[j][t] - zw[j]) in exact
// int32, then y = (sa * sw[j]) * float(Y). Weights are packed once (pack_s8_weights) with
// their zero-point-adjusted row sums, so the run-time correction is one multiply-subtract
// per output (docs/numerics.md, "Integer GEMM"). __ref is the oracle; __avx2 is bit-exact.
#pragma once
#include <cstdint>
#include <vector>

namespace lowbit::kernels {

// Packing contract (shared by both twins): columns are grouped in panels of 4, k is padded
// with zeros to a multiple of 16, and panel p stores, for each 16-long k block b, the 16
// codes of column 4p, then 4p+1, 4p+2, 4p+3 (64 bytes: one cache line per k step of the
// AVX2 tile). Padding columns and padding k are zero, so they add nothing to any dot.
constexpr std::int64_t kS8PanelCols = 4;
constexpr std::int64_t kS8KBlock = 16;
// |A - za| <= 255 and |W - zw| <= 255, so |Y| <= k * 255^2 < 2^31 needs k <= 32768.
constexpr std::int64_t kS8MaxK = 32768;

struct S8Weights {
  std::int64_t n = 0, k = 0;
  std::int64_t n_pad = 0, k_pad = 0;  // n rounded up to 4, k rounded up to 16
  std::vector<std::int8_t> data;      // n_pad / 4 panels of 4 * k_pad codes (layout above)
  // Per column j < n_pad (a per-tensor value is repeated; padding columns hold 0, 0, 1):
  std::vector<std::int32_t> zero_adjusted_row_sums;  // sum_t (W[j][t] - zw[j]), computed offline
  std::vector<std::int32_t> zero_points;             // zw[j]; all 0 for symmetric weights
  std::vector<float> scales;                         // sw[j]
  bool has_zero_points = false;  // some zw[j] != 0: the kernels then need sum_t A[i][t] per row
};

// The packed code of column j, input t (0 outside [0, n) x [0, k)).
inline std::int8_t s8_weight_at(const S8Weights& w, std::int64_t j, std::int64_t t) {
  return w.data[static_cast<std::size_t>((j / kS8PanelCols) * kS8PanelCols * w.k_pad + (t / kS8KBlock) * kS8PanelCols * kS8KBlock +
                                         (j % kS8PanelCols) * kS8KBlock + t % kS8KBlock)];
}

// codes: W [n][k] row-major (output channel j is row j). scales: n_scales = 1 (per tensor) or
// n (per channel). zero_points: null or n_zero_points = 0 (symmetric), else 1 or n values in
// [-128, 127]. Throws lowbit::Error on bad counts, n or k < 1, k > kS8MaxK or bad zero points.
S8Weights pack_s8_weights(const std::int8_t* codes, std::int64_t n, std::int64_t k, const float* scales,
                          std::int64_t n_scales, const std::int32_t* zero_points, std::int64_t n_zero_points);

// Quantized activations A [m][k], row i at data + i * row_stride bytes (0: dense, k).
struct S8Activations {
  const void* data = nullptr;
  std::int64_t m = 0, k = 0, row_stride = 0;
  bool is_unsigned = true;  // uint8 codes (za in [0, 255]) or int8 codes (za in [-128, 127])
  // One value per tensor, or per row (token) when per_token. Null zero points mean za = 0;
  // null scales mean sa = 1 (callers that read only the int32 Y can leave them out).
  const std::int32_t* zero_points = nullptr;
  const float* scales = nullptr;
  bool per_token = false;
};

// Computes outputs for columns [n0, n1) of every row. y32 (int32 Y) and y (float) are [m][n]
// row-major; either may be null. Arguments are trusted: gemm_s8* validate them first.
using GemmS8Fn = void (*)(const S8Activations& a, const S8Weights& w, std::int32_t* y32, float* y, std::int64_t n0,
                          std::int64_t n1);
void gemm_s8__ref(const S8Activations& a, const S8Weights& w, std::int32_t* y32, float* y, std::int64_t n0,
                  std::int64_t n1);
void gemm_s8__avx2(const S8Activations& a, const S8Weights& w, std::int32_t* y32, float* y, std::int64_t n0,
                   std::int64_t n1);

// The kernel the library uses: __avx2 when fast_kernels_enabled() (kernels/quant_rows.h).
GemmS8Fn gemm_s8_kernel();

// Whole products on `threads` threads (<= 0: all). Columns are split in fixed blocks and
// every output is exact before its one scale multiply, so results never depend on
// threads. Throw lowbit::Error when a.k != w.k, m < 0 or a zero point is out of range.
void gemm_s8(const S8Activations& a, const S8Weights& w, float* y, int threads);
void gemm_s8_s32(const S8Activations& a, const S8Weights& w, std::int32_t* y32, int threads);

}  // namespace lowbit::kernels
