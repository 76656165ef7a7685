// IEEE 754 binary16 <-> fp32 in portable C++ (bit manipulation only): the reference
// definition the F16C/CUDA paths are tested against, bit-exact with VCVTPS2PH/VCVTPH2PS
// (round-to-nearest-even, subnormals both ways, NaN keeps sign and top payload bits and
// becomes quiet). Also home of the generic minifloat rounding that fp8.h shares.
#pragma once
#include <bit>
#include <cstdint>
#include <span>

namespace lowbit {

namespace detail {

// Magnitude bits of a finite fp32 (sign cleared) rounded to nearest-even into a float
// format with M mantissa bits and exponent bias Bias, returned as that format's
// magnitude code *without an upper bound*: callers compare it with their largest finite
// code to apply their own overflow policy (inf, or saturation). Requires the target's
// half-smallest-subnormal to be above fp32's normal range floor (true for fp16 and fp8),
// so fp32 subnormals always round to zero.
template <int M, int Bias>
constexpr std::uint32_t round_minifloat_magnitude(std::uint32_t ax) {
  static_assert(M >= 1 && M <= 22 && Bias >= 1 && Bias < 127);
  constexpr std::uint32_t kMinNormalField = 127 - Bias + 1;  // fp32 exponent field of 2^(1-Bias)
  const std::uint32_t field = ax >> 23;
  if (field >= kMinNormalField) {
    // Adding half-minus-one plus the kept lsb is nearest-even; a mantissa carry simply
    // bumps the exponent, which is the correct rounded result.
    constexpr int kShift = 23 - M;
    const std::uint32_t r = ax + ((1u << (kShift - 1)) - 1u) + ((ax >> kShift) & 1u);
    return (r >> kShift) - (static_cast<std::uint32_t>(127 - Bias) << M);
  }
  if (field == 0) return 0;  // fp32 zero/subnormal: far below half the target's min subnormal
  // Target subnormal: the implicit bit becomes explicit and shifts right by the extra
  // exponent distance; rounding up into code 1<<M yields the smallest normal, as it should.
  const int shift = 23 - M + static_cast<int>(kMinNormalField - field);
  if (shift > 24) return 0;  // below half the smallest subnormal (the tie itself is at 24)
  const std::uint32_t m = (ax & 0x7FFFFFu) | 0x800000u;
  return (m + ((1u << (shift - 1)) - 1u) + ((m >> shift) & 1u)) >> shift;
}

// Exact fp32 bits of a minifloat with M mantissa bits and bias Bias given its finite,
// unsigned exponent field e and mantissa m (no inf/NaN handling: callers do that).
template <int M, int Bias>
constexpr std::uint32_t minifloat_finite_to_fp32_bits(std::uint32_t e, std::uint32_t m) {
  if (e != 0) return ((e + 127 - Bias) << 23) | (m << (23 - M));
  if (m == 0) return 0;
  // Subnormal m * 2^(1-Bias-M): normalise on the highest set bit p of m.
  const int p = std::bit_width(m) - 1;
  return (static_cast<std::uint32_t>(p + 128 - Bias - M) << 23) | ((m << (23 - p)) & 0x7FFFFFu);
}

}  // namespace detail

constexpr std::uint16_t fp32_to_fp16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u)  // NaN: as F16C, keep the top 10 payload bits and set the quiet bit
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
  const std::uint32_t code = detail::round_minifloat_magnitude<10, 15>(ax);  // inf -> big code
  return static_cast<std::uint16_t>(sign | (code > 0x7BFFu ? 0x7C00u : code));
}

constexpr float fp16_to_fp32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1Fu;
  const std::uint32_t m = h & 0x3FFu;
  if (e == 0x1F)  // inf stays inf; NaN becomes quiet with its payload on top (as F16C)
    return std::bit_cast<float>(sign | 0x7F800000u | (m == 0 ? 0u : 0x400000u | (m << 13)));
  return std::bit_cast<float>(sign | detail::minifloat_finite_to_fp32_bits<10, 15>(e, m));
}

// Bulk versions; `out` must have exactly in.size() elements (lowbit::Error otherwise).
void fp32_to_fp16(std::span<const float> in, std::span<std::uint16_t> out);
void fp16_to_fp32(std::span<const std::uint16_t> in, std::span<float> out);

}  // namespace lowbit
