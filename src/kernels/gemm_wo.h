// Weight-only GEMM y[i][j] = sum_t x[i][t] * w(j, t): fp32 activations, 4/8-bit codes with
// an fp32 scale and integer zero point per group; w = s * float(q - z) (wo_weight_at). __ref
// sums in k order, __avx2 as gemm_f32_nt__avx2 does on the dequantized matrix (8 lanes, then
// a fold): |avx2 - ref| <= (gamma(k) + gamma(k/8 + 3)) * sum|x * w| (the test derives it).
#pragma once
#include <cstdint>
#include <vector>

namespace lowbit::kernels {

// Codes of one row j, [k * bits / 8] bytes. 8-bit: byte t is code t. 4-bit: each 16 inputs
// t0..t0+15 take 8 bytes, byte b holding code t0+b in its low nibble and t0+8+b in its
// high one (ggml's Q4 split), so one 8-byte load widens to two in-order 8-lane vectors.
// Symmetric weights store zero points too (2^(bits-1); int8 codes are stored offset by
// +128), so both twins compute every width and mode as s * (q - z).
struct WoWeights {
  std::int64_t n = 0, k = 0, group = 0;
  int bits = 4;
  bool symmetric = true;
  std::vector<std::uint8_t> codes;  // [n][k * bits / 8]
  std::vector<float> scales;        // [n][k / group]
  std::vector<std::uint8_t> zeros;  // [n][k / group]
};

inline std::int32_t wo_code_at(const WoWeights& w, std::int64_t j, std::int64_t t) {
  if (w.bits == 8) return w.codes[static_cast<std::size_t>(j * w.k + t)];
  const std::uint8_t byte = w.codes[static_cast<std::size_t>(j * (w.k / 2) + (t / 16) * 8 + t % 8)];
  return t % 16 < 8 ? byte & 15 : byte >> 4;
}

// The weight the codes stand for: the fp32 multiply of the scale by the exact integer q - z.
inline float wo_weight_at(const WoWeights& w, std::int64_t j, std::int64_t t) {
  const auto g = static_cast<std::size_t>(j * (w.k / w.group) + t / w.group);
  return w.scales[g] * static_cast<float>(wo_code_at(w, j, t) - std::int32_t{w.zeros[g]});
}

// Packers from one code per element, codes [n][k] and scales [n][k / group] row-major.
// Each throws lowbit::Error unless n, k >= 1, group divides k, and group is a multiple of
// 16 (4-bit) or 8 (8-bit), or when a code or zero point does not fit its width.
// 4-bit unsigned codes 0..15; zeros [n][k / group] in 0..15, or null for symmetric (z = 8).
WoWeights pack_wo_u4(const std::uint8_t* codes, const float* scales, const std::uint8_t* zeros, std::int64_t n,
                     std::int64_t k, std::int64_t group);
// 8-bit symmetric: w = s * q for int8 q.
WoWeights pack_wo_s8(const std::int8_t* codes, const float* scales, std::int64_t n, std::int64_t k,
                     std::int64_t group);
// 8-bit asymmetric: w = s * (q - z) for uint8 q and z.
WoWeights pack_wo_u8(const std::uint8_t* codes, const float* scales, const std::uint8_t* zeros, std::int64_t n,
                     std::int64_t k, std::int64_t group);

// Columns [n0, n1) of y [m][n] for x [m][k], both dense row-major; arguments are trusted.
using GemmWoFn = void (*)(const float* x, const WoWeights& w, float* y, std::int64_t m, std::int64_t n0,
                          std::int64_t n1);
void gemm_wo__ref(const float* x, const WoWeights& w, float* y, std::int64_t m, std::int64_t n0, std::int64_t n1);
void gemm_wo__avx2(const float* x, const WoWeights& w, float* y, std::int64_t m, std::int64_t n0, std::int64_t n1);

// The kernel the library uses: __avx2 when fast_kernels_enabled() (kernels/quant_rows.h).
GemmWoFn gemm_wo_kernel();

// Whole product on `threads` threads (<= 0: all). Columns are split in fixed blocks and
// each output is summed the same way whichever thread owns it (and whatever m is), so
// results never depend on threads. Throws lowbit::Error when m < 0 or x is null with m > 0.
void gemm_wo(const float* x, const WoWeights& w, float* y, std::int64_t m, int threads);

}  // namespace lowbit::kernels
