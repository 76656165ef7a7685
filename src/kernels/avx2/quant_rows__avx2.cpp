// AVX2 twin of kernels/ref/quant_rows__ref.cpp. Bit-exact with the reference by
// construction: the same fp32 operations in the same order per element (x*inv, round to
// nearest even, +Z, clamp, truncate; dequant (q-Z) converted then *S), only 8 at a time.
// Groups are walked one by one so a group of any length (and ragged tails) stays exact.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/quant_rows.h"
#include "lowbit/bf16.h"
#include "lowbit/fp16.h"

namespace lowbit::kernels {
namespace {

float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}
float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

bool minmax_groups_avx2(const float* x, std::int64_t n, std::int64_t group, float* mn, float* mx) {
  // x * 0 is +-0 for finite x and NaN for NaN/Inf, so summing it flags non-finite input
  // without a compare per element.
  __m256 nanacc = _mm256_setzero_ps();
  const __m256 zero = _mm256_setzero_ps();
  float tail_flag = 0.0f;
  for (std::int64_t j0 = 0, gi = 0; j0 < n; j0 += group, ++gi) {
    const std::int64_t e = std::min(n, j0 + group);
    std::int64_t j = j0;
    float a = x[j0], b = x[j0];
    if (e - j0 >= 8) {
      __m256 va = _mm256_loadu_ps(x + j), vb = va;
      for (; j + 8 <= e; j += 8) {
        const __m256 v = _mm256_loadu_ps(x + j);
        va = _mm256_min_ps(va, v);
        vb = _mm256_max_ps(vb, v);
        nanacc = _mm256_add_ps(nanacc, _mm256_mul_ps(v, zero));
      }
      a = hmin(va), b = hmax(vb);
    }
    for (; j < e; ++j) {
      tail_flag += x[j] * 0.0f;
      a = std::min(a, x[j]);
      b = std::max(b, x[j]);
    }
    mn[gi] = a, mx[gi] = b;
  }
  alignas(32) float f[8];
  _mm256_store_ps(f, nanacc);
  float s = tail_flag;
  for (float v : f) s += v;
  return !std::isnan(s);
}

// 8 floats -> 8 int32 codes, exactly quantize_value(x, p, range, NearestEven).
inline __m256i quantize8(__m256 v, __m256 inv, __m256 z, __m256 lo, __m256 hi) {
  __m256 r = _mm256_round_ps(_mm256_mul_ps(v, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, z), lo), hi);
  return _mm256_cvttps_epi32(r);
}

void quantize_groups_avx2(const float* x, std::int64_t n, std::int64_t group, const AffineParams* params,
                          const IntRange& range, std::uint8_t* codes) {
  const std::uint32_t mask = (1u << range.bits) - 1u;
  const __m256i vmask = _mm256_set1_epi32(int(mask));
  const __m256 lo = _mm256_set1_ps(float(range.qmin)), hi = _mm256_set1_ps(float(range.qmax));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (std::int64_t j0 = 0, gi = 0; j0 < n; j0 += group, ++gi) {
    const AffineParams& p = params[gi];
    const std::int64_t e = std::min(n, j0 + group);
    const __m256 inv = _mm256_set1_ps(p.inv_scale), z = _mm256_set1_ps(float(p.zero_point));
    std::int64_t j = j0;
    for (; j + 32 <= e; j += 32) {
      const __m256i a = _mm256_and_si256(quantize8(_mm256_loadu_ps(x + j), inv, z, lo, hi), vmask);
      const __m256i b = _mm256_and_si256(quantize8(_mm256_loadu_ps(x + j + 8), inv, z, lo, hi), vmask);
      const __m256i c = _mm256_and_si256(quantize8(_mm256_loadu_ps(x + j + 16), inv, z, lo, hi), vmask);
      const __m256i d = _mm256_and_si256(quantize8(_mm256_loadu_ps(x + j + 24), inv, z, lo, hi), vmask);
      // packus works per 128-bit lane; the permute restores element order.
      const __m256i ab = _mm256_packus_epi32(a, b), cd = _mm256_packus_epi32(c, d);
      const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), order);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + j), bytes);
    }
    for (; j + 8 <= e; j += 8) {
      alignas(32) std::int32_t t[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(t),
                         _mm256_and_si256(quantize8(_mm256_loadu_ps(x + j), inv, z, lo, hi), vmask));
      for (int k = 0; k < 8; ++k) codes[j + k] = std::uint8_t(t[k]);
    }
    for (; j < e; ++j)
      codes[j] = std::uint8_t(std::uint32_t(quantize_value(x[j], p, range, Rounding::NearestEven)) & mask);
  }
}

void dequantize_groups_avx2(const std::uint8_t* codes, std::int64_t n, std::int64_t group,
                            const AffineParams* params, const IntRange& range, float* out) {
  // Sign extension of a b-bit two's complement code c: (c ^ half) - half.
  const std::int32_t half = range.is_signed ? 1 << (range.bits - 1) : 0;
  const __m256i vhalf = _mm256_set1_epi32(half);
  for (std::int64_t j0 = 0, gi = 0; j0 < n; j0 += group, ++gi) {
    const AffineParams& p = params[gi];
    const std::int64_t e = std::min(n, j0 + group);
    const __m256 s = _mm256_set1_ps(p.scale);
    const __m256i z = _mm256_set1_epi32(p.zero_point);
    std::int64_t j = j0;
    for (; j + 8 <= e; j += 8) {
      __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + j)));
      q = _mm256_sub_epi32(_mm256_xor_si256(q, vhalf), vhalf);
      const __m256 f = _mm256_cvtepi32_ps(_mm256_sub_epi32(q, z));
      _mm256_storeu_ps(out + j, _mm256_mul_ps(s, f));
    }
    for (; j < e; ++j) {
      const std::int32_t q = (std::int32_t(codes[j]) ^ half) - half;
      out[j] = dequantize_value(q, p);
    }
  }
}

// F16C converts with nearest-even and quiets NaNs keeping sign and top payload bits,
// which is exactly the rule of the scalar codec (tests/core/test_fp16_f16c__avx2.cpp).
void fp32_to_fp16_avx2(const float* x, std::int64_t n, std::uint16_t* out) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) out[i] = lowbit::fp32_to_fp16(x[i]);
}
void fp16_to_fp32_avx2(const std::uint16_t* h, std::int64_t n, float* out) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
  for (; i < n; ++i) out[i] = lowbit::fp16_to_fp32(h[i]);
}
// bf16: the scalar codec's integer arithmetic, 8 lanes at a time (NaN lanes blended in).
void fp32_to_bf16_avx2(const float* x, std::int64_t n, std::uint16_t* out) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
  const __m256i bias = _mm256_set1_epi32(0x7FFF), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x0040);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_castps_si256(_mm256_loadu_ps(x + i));
    const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(v, abs_mask), inf);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(v, 16), one);
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(v, _mm256_add_epi32(bias, lsb)), 16);
    const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(v, 16), quiet);
    const __m256i r = _mm256_blendv_epi8(rounded, nan, is_nan);
    // Each lane holds a 16-bit result in its low half: pack (unsigned, no saturation hit).
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), packed);
  }
  for (; i < n; ++i) out[i] = lowbit::fp32_to_bf16(x[i]);
}
void bf16_to_fp32_avx2(const std::uint16_t* h, std::int64_t n, float* out) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
  const __m256i quiet = _mm256_set1_epi32(0x400000);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i v = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))), 16);
    const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(v, abs_mask), inf);
    v = _mm256_or_si256(v, _mm256_and_si256(is_nan, quiet));
    _mm256_storeu_ps(out + i, _mm256_castsi256_ps(v));
  }
  for (; i < n; ++i) out[i] = lowbit::bf16_to_fp32(h[i]);
}

}  // namespace

const QuantRowKernels& quant_rows_avx2() {
  static const QuantRowKernels k{minmax_groups_avx2, quantize_groups_avx2, dequantize_groups_avx2, fp32_to_fp16_avx2,
                                 fp16_to_fp32_avx2,  fp32_to_bf16_avx2,    bf16_to_fp32_avx2,      "avx2"};
  return k;
}

}  // namespace lowbit::kernels
