// Uniform affine quantization, the definition every fast kernel is checked against:
//   Q(r) = clamp(round(r * inv_scale) + Z, qmin, qmax),   r' = S * (q - Z)
// inv_scale is carried next to S (not recomputed as 1/S) so recipes that define the
// multiplier directly (absmax 127/max|X|, torch.ao's inv_scale) reproduce bit for bit.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

namespace lowbit {

enum class Rounding : std::uint8_t {
  NearestEven,  // IEEE default, what std::nearbyint / numpy.round / torch.round do
  NearestAway,  // roundf: halves away from zero (ggml's choice in places)
  Stochastic,   // floor(v + u), u ~ U[0,1) from a counter-based hash of (seed, index)
};

// Integer code range of a b-bit code. Restricted drops the most negative code so the
// range is symmetric around 0 (signed) or around 2^(b-1) (unsigned).
struct IntRange {
  std::int32_t qmin = 0;
  std::int32_t qmax = 0;
  int bits = 0;
  bool is_signed = true;
  std::int32_t levels() const { return qmax - qmin; }
};
IntRange int_range(int bits, bool is_signed, bool restricted = false);

struct AffineParams {
  float scale = 1.0f;      // S: dequantization multiplier
  float inv_scale = 1.0f;  // quantization multiplier, ~1/S
  std::int32_t zero_point = 0;
};
// S and 1/S computed in fp32 from S.
AffineParams params_from_scale(float scale, std::int32_t zero_point);

// Symmetric: Z is 0 (signed) or 2^(b-1) (unsigned). Restricted ranges use the
// absmax recipe S = max|X| / (2^(b-1)-1); full ranges use torch.ao's
// S = max|X| / ((qmax - qmin) / 2). absmax == 0 gives S = 1 (every code is Z).
AffineParams choose_symmetric(float absmax, const IntRange& range);
// Asymmetric: the range is widened to contain 0 (so 0 is exact, as padding needs),
// inv = (qmax - qmin) / (max - min), Z = qmin - round(min * inv) clamped into range.
// This is the seed's zero-point recipe for int8 (Z = -round(255/(max-min)*min) - 128).
AffineParams choose_asymmetric(float min, float max, const IntRange& range);

// Rounds v with the given mode; `stream` (seed) and `index` feed stochastic rounding
// so the result does not depend on the order or thread that computes it.
float round_with(float v, Rounding mode, std::uint64_t seed, std::uint64_t index);

std::int32_t quantize_value(float r, const AffineParams& p, const IntRange& range, Rounding mode,
                            std::uint64_t seed = 0, std::uint64_t index = 0);
inline float dequantize_value(std::int32_t q, const AffineParams& p) {
  return p.scale * static_cast<float>(q - p.zero_point);
}

// Quantizes x[i] with one set of params; `index0` is x[0]'s global element index
// (stochastic rounding only).
void quantize_span(std::span<const float> x, const AffineParams& p, const IntRange& range, Rounding mode,
                   std::span<std::int32_t> q, std::uint64_t seed = 0, std::uint64_t index0 = 0);
void dequantize_span(std::span<const std::int32_t> q, const AffineParams& p, std::span<float> out);

// The seed documents' two int8 recipes, verbatim (fp32 arithmetic, nearest-even):
//   absmax:     k = 127 / max|X|,          q = round(k * x)
//   zero-point: k = 255 / (max - min), zp = -round(k * min) - 128, q = clamp(round(k * x) + zp)
AffineParams int8_absmax_recipe(std::span<const float> x);
AffineParams int8_zeropoint_recipe(std::span<const float> x);

std::string_view rounding_name(Rounding r);

}  // namespace lowbit
