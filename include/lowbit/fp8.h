// 8-bit floats of the OCP OFP8 specification v1.0 <-> fp32, portable C++ reference:
// E4M3FN (bias 7, no inf, NaN = S.1111.111, finite overflow and ±inf saturate to ±448)
// and E5M2 (bias 15, IEEE-like: overflow to ±inf). Round-to-nearest-even, subnormals both
// ways; NaN stays NaN with its sign (E5M2 also keeps the top payload bits, set quiet).
#pragma once
#include <bit>
#include <cstdint>
#include <span>

#include "lowbit/fp16.h"

namespace lowbit {

constexpr std::uint8_t fp32_to_fp8_e4m3fn(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 24) & 0x80u;
  const std::uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return static_cast<std::uint8_t>(sign | 0x7Fu);  // the only NaN code
  // Saturation (OCP "satfinite"): scaled models rely on large values clipping to the
  // largest finite value, never turning into NaN; ±inf clips too since E4M3FN has no inf.
  const std::uint32_t code = detail::round_minifloat_magnitude<3, 7>(ax);
  return static_cast<std::uint8_t>(sign | (code > 0x7Eu ? 0x7Eu : code));
}

constexpr float fp8_e4m3fn_to_fp32(std::uint8_t c) {
  const std::uint32_t sign = static_cast<std::uint32_t>(c & 0x80u) << 24;
  if ((c & 0x7Fu) == 0x7Fu) return std::bit_cast<float>(sign | 0x7FC00000u);
  return std::bit_cast<float>(sign | detail::minifloat_finite_to_fp32_bits<3, 7>((c >> 3) & 0xFu, c & 7u));
}

constexpr std::uint8_t fp32_to_fp8_e5m2(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 24) & 0x80u;
  const std::uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u)  // E5M2 is fp16's top byte: same NaN rule as fp16 (quiet, top payload)
    return static_cast<std::uint8_t>(sign | 0x7Eu | ((ax >> 21) & 3u));
  const std::uint32_t code = detail::round_minifloat_magnitude<2, 15>(ax);
  return static_cast<std::uint8_t>(sign | (code > 0x7Bu ? 0x7Cu : code));
}

constexpr float fp8_e5m2_to_fp32(std::uint8_t c) {
  const std::uint32_t sign = static_cast<std::uint32_t>(c & 0x80u) << 24;
  const std::uint32_t e = (c >> 2) & 0x1Fu;
  const std::uint32_t m = c & 3u;
  if (e == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (m == 0 ? 0u : 0x400000u | (m << 21)));
  return std::bit_cast<float>(sign | detail::minifloat_finite_to_fp32_bits<2, 15>(e, m));
}

// Bulk versions; `out` must have exactly in.size() elements (lowbit::Error otherwise).
void fp32_to_fp8_e4m3fn(std::span<const float> in, std::span<std::uint8_t> out);
void fp8_e4m3fn_to_fp32(std::span<const std::uint8_t> in, std::span<float> out);
void fp32_to_fp8_e5m2(std::span<const float> in, std::span<std::uint8_t> out);
void fp8_e5m2_to_fp32(std::span<const std::uint8_t> in, std::span<float> out);

}  // namespace lowbit
