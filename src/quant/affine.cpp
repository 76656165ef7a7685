// Reference uniform affine quantization (see include/lowbit/affine.h): ranges, parameter
// choice, rounding modes and the seed int8 recipes. Everything here is scalar fp32 on
// purpose: it is the oracle the AVX2 kernels must match bit for bit.
#include "lowbit/affine.h"

#include <algorithm>
#include <cmath>

#include "lowbit/error.h"

namespace lowbit {
namespace {

// splitmix64 finaliser: a counter-based hash, so stochastic rounding of element i
// depends only on (seed, i), never on which thread or in which order it runs.
std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

IntRange int_range(int bits, bool is_signed, bool restricted) {
  if (!((bits >= 1 && bits <= 8) || bits == 16)) fail("unsupported code width ", bits, " bits (1..8 or 16)");
  IntRange r;
  r.bits = bits;
  r.is_signed = is_signed;
  const std::int32_t half = std::int32_t{1} << (bits - 1);
  if (is_signed) {
    r.qmin = -half;
    r.qmax = half - 1;
  } else {
    r.qmin = 0;
    r.qmax = 2 * half - 1;
  }
  if (restricted) {
    if (bits < 2) fail("restricted range needs at least 2 bits");
    r.qmin += 1;
  }
  return r;
}

AffineParams params_from_scale(float scale, std::int32_t zero_point) {
  if (!(scale > 0.0f) || !std::isfinite(scale)) fail("affine scale must be finite and > 0, got ", scale);
  return AffineParams{scale, 1.0f / scale, zero_point};
}

AffineParams choose_symmetric(float absmax, const IntRange& range) {
  if (!std::isfinite(absmax)) fail("cannot choose a scale: max|x| is not finite");
  const std::int32_t zp = range.is_signed ? 0 : (std::int32_t{1} << (range.bits - 1));
  const bool restricted = (range.qmax - zp) == (zp - range.qmin);
  // Restricted: the absmax recipe (max|X| maps to the largest code). Full: torch.ao's
  // symmetric rule, half the level count, which lets -max|X| reach the extra code.
  const float denom = restricted ? static_cast<float>(range.qmax - zp)
                                 : static_cast<float>(range.qmax - range.qmin) / 2.0f;
  absmax = std::fabs(absmax);
  if (absmax == 0.0f) return AffineParams{1.0f, 1.0f, zp};
  AffineParams p;
  p.scale = absmax / denom;
  p.inv_scale = denom / absmax;
  p.zero_point = zp;
  if (!(p.scale > 0.0f) || !std::isfinite(p.inv_scale)) return params_from_scale(std::max(p.scale, 1e-30f), zp);
  return p;
}

AffineParams choose_asymmetric(float min, float max, const IntRange& range) {
  if (!std::isfinite(min) || !std::isfinite(max)) fail("cannot choose a scale: min/max not finite");
  if (min > max) fail("asymmetric range with min ", min, " > max ", max);
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  const float span = max - min;
  if (span == 0.0f) {
    const std::int32_t zp = range.is_signed ? 0 : range.qmin;
    return AffineParams{1.0f, 1.0f, std::clamp(zp, range.qmin, range.qmax)};
  }
  const float levels = static_cast<float>(range.levels());
  AffineParams p;
  p.inv_scale = levels / span;
  p.scale = span / levels;
  if (!std::isfinite(p.inv_scale) || !(p.scale > 0.0f)) {
    p.scale = std::max(p.scale, 1e-30f);
    p.inv_scale = 1.0f / p.scale;
  }
  const float z = static_cast<float>(range.qmin) - std::nearbyint(min * p.inv_scale);
  p.zero_point = static_cast<std::int32_t>(std::clamp(z, float(range.qmin), float(range.qmax)));
  return p;
}

float round_with(float v, Rounding mode, std::uint64_t seed, std::uint64_t index) {
  switch (mode) {
    case Rounding::NearestEven:
      return std::nearbyint(v);
    case Rounding::NearestAway:
      return std::round(v);
    case Rounding::Stochastic: {
      // 24 random bits: u is an exact multiple of 2^-24 in [0, 1), so floor(v + u)
      // rounds up with probability frac(v) up to 2^-24 (fp32 has 24 significant bits).
      const std::uint64_t h = mix64(seed ^ mix64(index));
      const float u = static_cast<float>(h >> 40) * 0x1.0p-24f;
      const float f = std::floor(v);
      return (v - f) > u ? f + 1.0f : f;
    }
  }
  return v;
}

std::int32_t quantize_value(float r, const AffineParams& p, const IntRange& range, Rounding mode,
                            std::uint64_t seed, std::uint64_t index) {
  if (std::isnan(r)) fail("cannot quantize NaN (element ", index, ")");
  float v = round_with(r * p.inv_scale, mode, seed, index);
  // Clamp in float before converting: r * inv can exceed the int32 range.
  v = std::clamp(v + static_cast<float>(p.zero_point), static_cast<float>(range.qmin),
                 static_cast<float>(range.qmax));
  return static_cast<std::int32_t>(v);
}

void quantize_span(std::span<const float> x, const AffineParams& p, const IntRange& range, Rounding mode,
                   std::span<std::int32_t> q, std::uint64_t seed, std::uint64_t index0) {
  if (q.size() < x.size()) fail("quantize_span: output shorter than input");
  for (std::size_t i = 0; i < x.size(); ++i) q[i] = quantize_value(x[i], p, range, mode, seed, index0 + i);
}

void dequantize_span(std::span<const std::int32_t> q, const AffineParams& p, std::span<float> out) {
  if (out.size() < q.size()) fail("dequantize_span: output shorter than input");
  for (std::size_t i = 0; i < q.size(); ++i) out[i] = dequantize_value(q[i], p);
}

AffineParams int8_absmax_recipe(std::span<const float> x) {
  float m = 0.0f;
  for (float v : x) m = std::max(m, std::fabs(v));
  if (!std::isfinite(m)) fail("absmax recipe: input has Inf/NaN");
  if (m == 0.0f) return AffineParams{1.0f, 1.0f, 0};
  const float k = 127.0f / m;
  return AffineParams{m / 127.0f, k, 0};
}

AffineParams int8_zeropoint_recipe(std::span<const float> x) {
  if (x.empty()) fail("zero-point recipe: empty input");
  auto [mn, mx] = std::minmax_element(x.begin(), x.end());
  if (!std::isfinite(*mn) || !std::isfinite(*mx)) fail("zero-point recipe: input has Inf/NaN");
  if (*mx == *mn) return AffineParams{1.0f, 1.0f, 0};
  const float k = 255.0f / (*mx - *mn);
  const float zp = -std::nearbyint(k * *mn) - 128.0f;
  return AffineParams{(*mx - *mn) / 255.0f, k, static_cast<std::int32_t>(zp)};
}

std::string_view rounding_name(Rounding r) {
  switch (r) {
    case Rounding::NearestEven: return "rne";
    case Rounding::NearestAway: return "rna";
    case Rounding::Stochastic: return "sr";
  }
  return "?";
}

}  // namespace lowbit
