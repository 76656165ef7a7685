// bfloat16 (the top half of an fp32) <-> fp32 in portable C++: round-to-nearest-even,
// overflow to inf, subnormals kept (no flush), NaN keeps its sign and top payload bits
// and becomes quiet — the same NaN rule as fp16.h, so every quiet bf16 NaN round-trips.
#pragma once
#include <bit>
#include <cstdint>
#include <span>

namespace lowbit {

constexpr std::uint16_t fp32_to_bf16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  // NaN must not go through the rounding add: a carry could turn it into inf or flip the sign.
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((x >> 16) | 0x0040u);
  // Nearest-even on the dropped 16 bits; carries walk into the exponent, and from the
  // largest finite value into inf, exactly as rounding requires.
  return static_cast<std::uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

constexpr float bf16_to_fp32(std::uint16_t b) {
  std::uint32_t x = static_cast<std::uint32_t>(b) << 16;
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) x |= 0x400000u;  // signalling NaN -> quiet, as fp16
  return std::bit_cast<float>(x);
}

// Bulk versions; `out` must have exactly in.size() elements (lowbit::Error otherwise).
void fp32_to_bf16(std::span<const float> in, std::span<std::uint16_t> out);
void bf16_to_fp32(std::span<const std::uint16_t> in, std::span<float> out);

}  // namespace lowbit
