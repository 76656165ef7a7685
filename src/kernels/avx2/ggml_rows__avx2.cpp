// AVX2 twins of the ggml reference row functions for the types models ship most
// (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K decode; Q4_0, Q8_0 encode). Each performs the
// reference's float operations in the reference's order, one lane per weight, with no
// FMA contraction, so outputs are bit-identical; tests/kernels compares them.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "kernels/ggml_rows_fast.h"
#include "kernels/quant_rows.h"
#include "lowbit/fp16.h"

namespace lowbit::kernels {

namespace {

using namespace lowbit::ggml;

float half(std::uint16_t h) { return fp16_to_fp32(h); }

// 8 bytes -> 8 floats (exact: small integers).
__m256 u8x8_to_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)); }
__m256 i8x8_to_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }

// Low and high nibbles of 16 bytes as two 16-byte vectors.
void nibbles(const std::uint8_t* q, __m128i& lo, __m128i& hi) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m128i m = _mm_set1_epi8(0x0F);
  lo = _mm_and_si128(v, m);
  hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
}

// y[0..16) = (codes - bias) * d, then optional + m; the reference computes int*float
// (one rounding) then + m (a second rounding): two separate instructions here too.
void store16(float* y, __m128i codes, int bias, __m256 d) {
  const __m128i b = _mm_set1_epi8(static_cast<char>(bias));
  const __m128i c = _mm_sub_epi8(codes, b);
  _mm256_storeu_ps(y, _mm256_mul_ps(i8x8_to_ps(c), d));
  _mm256_storeu_ps(y + 8, _mm256_mul_ps(i8x8_to_ps(_mm_srli_si128(c, 8)), d));
}
void store16_affine(float* y, __m128i codes, __m256 d, __m256 m) {
  _mm256_storeu_ps(y, _mm256_add_ps(_mm256_mul_ps(u8x8_to_ps(codes), d), m));
  _mm256_storeu_ps(y + 8, _mm256_add_ps(_mm256_mul_ps(u8x8_to_ps(_mm_srli_si128(codes, 8)), d), m));
}
// d1 * code - m1 for 32 unsigned codes (Q4_K/Q5_K sub-block).
void store32_scale_min(float* y, const std::uint8_t* codes, __m256 d1, __m256 m1) {
  for (int k = 0; k < 32; k += 8) {
    const __m128i c = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + k));
    _mm256_storeu_ps(y + k, _mm256_sub_ps(_mm256_mul_ps(d1, u8x8_to_ps(c)), m1));
  }
}

void dequantize_q4_0(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q4_0*>(vx);
  for (std::int64_t i = 0; i < k / QK4_0; ++i, y += QK4_0) {
    const __m256 d = _mm256_set1_ps(half(x[i].d));
    __m128i lo, hi;
    nibbles(x[i].qs, lo, hi);
    store16(y, lo, 8, d);
    store16(y + 16, hi, 8, d);
  }
}

void dequantize_q4_1(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q4_1*>(vx);
  for (std::int64_t i = 0; i < k / QK4_1; ++i, y += QK4_1) {
    const __m256 d = _mm256_set1_ps(half(x[i].d)), m = _mm256_set1_ps(half(x[i].m));
    __m128i lo, hi;
    nibbles(x[i].qs, lo, hi);
    store16_affine(y, lo, d, m);
    store16_affine(y + 16, hi, d, m);
  }
}

// Bit j of qh (j = 0..31) as 0x10 in byte j: the fifth bit of Q5 codes.
__m256i q5_high_bits(const std::uint8_t qh_bytes[4]) {
  std::uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bits = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)), shuf);
  const __m256i mask = _mm256_set1_epi64x(0x8040201008040201LL);
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bits, mask), mask);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

void dequantize_q5_0(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q5_0*>(vx);
  for (std::int64_t i = 0; i < k / QK5_0; ++i, y += QK5_0) {
    const __m256 d = _mm256_set1_ps(half(x[i].d));
    __m128i lo, hi;
    nibbles(x[i].qs, lo, hi);
    const __m256i h = q5_high_bits(x[i].qh);
    store16(y, _mm_or_si128(lo, _mm256_castsi256_si128(h)), 16, d);
    store16(y + 16, _mm_or_si128(hi, _mm256_extracti128_si256(h, 1)), 16, d);
  }
}

void dequantize_q8_0(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q8_0*>(vx);
  for (std::int64_t i = 0; i < k / QK8_0; ++i, y += QK8_0) {
    const __m256 d = _mm256_set1_ps(half(x[i].d));
    for (int j = 0; j < QK8_0; j += 8) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x[i].qs + j));
      _mm256_storeu_ps(y + j, _mm256_mul_ps(i8x8_to_ps(q), d));
    }
  }
}

template <bool kFive>
void dequantize_q45_K(const std::uint16_t dh, const std::uint16_t dminh, const std::uint8_t* scales,
                      const std::uint8_t* qs, const std::uint8_t* qh, float* y) {
  const float d = half(dh), mn = half(dminh);
  alignas(32) std::uint8_t codes[64];
  for (int j = 0; j < 4; ++j) {
    std::uint8_t sc, m;
    ggml::get_scale_min(2 * j, scales, sc, m);
    const float d1 = d * sc, m1 = mn * m;
    ggml::get_scale_min(2 * j + 1, scales, sc, m);
    const float d2 = d * sc, m2 = mn * m;
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * j));
    const __m256i mask = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_and_si256(v, mask);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
    if constexpr (kFive) {
      // Bit 2j (low nibbles) and 2j+1 (high nibbles) of qh[l] add 16.
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
      const __m256i b1 = _mm256_set1_epi8(static_cast<char>(1 << (2 * j)));
      const __m256i b2 = _mm256_set1_epi8(static_cast<char>(1 << (2 * j + 1)));
      const __m256i sixteen = _mm256_set1_epi8(16);
      lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, b1), b1), sixteen));
      hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, b2), b2), sixteen));
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(codes), lo);
    _mm256_store_si256(reinterpret_cast<__m256i*>(codes + 32), hi);
    store32_scale_min(y + 64 * j, codes, _mm256_set1_ps(d1), _mm256_set1_ps(m1));
    store32_scale_min(y + 64 * j + 32, codes + 32, _mm256_set1_ps(d2), _mm256_set1_ps(m2));
  }
}

void dequantize_q4_K(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q4_K*>(vx);
  for (std::int64_t i = 0; i < k / QK_K; ++i, y += QK_K)
    dequantize_q45_K<false>(x[i].d, x[i].dmin, x[i].scales, x[i].qs, nullptr, y);
}

void dequantize_q5_K(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q5_K*>(vx);
  for (std::int64_t i = 0; i < k / QK_K; ++i, y += QK_K)
    dequantize_q45_K<true>(x[i].d, x[i].dmin, x[i].scales, x[i].qs, x[i].qh, y);
}

void dequantize_q6_K(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q6_K*>(vx);
  alignas(32) std::int8_t q[128];
  for (std::int64_t i = 0; i < k / QK_K; ++i) {
    const float d = half(x[i].d);
    const std::uint8_t* ql = x[i].ql;
    const std::uint8_t* qh = x[i].qh;
    const std::int8_t* sc = x[i].scales;
    for (int n = 0; n < QK_K; n += 128, ql += 64, qh += 32, sc += 8, y += 128) {
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
      const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30), off = _mm256_set1_epi8(32);
      // ((ql nibble) | (2 qh bits << 4)) - 32, for the four 32-weight quarters.
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m2));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m2));
      const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(h, m2));
      const __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                         _mm256_and_si256(_mm256_srli_epi16(h, 2), m2));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q), _mm256_sub_epi8(q1, off));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q + 32), _mm256_sub_epi8(q2, off));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q + 64), _mm256_sub_epi8(q3, off));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q + 96), _mm256_sub_epi8(q4, off));
      // Weight l of quarter r uses scale sc[l / 16 + 2 r]: the reference forms d * sc
      // first, then multiplies by the code.
      for (int r = 0; r < 4; ++r)
        for (int half16 = 0; half16 < 2; ++half16) {
          const __m256 ds = _mm256_set1_ps(d * sc[half16 + 2 * r]);
          for (int k8 = 0; k8 < 16; k8 += 8) {
            const int l = 32 * r + 16 * half16 + k8;
            const __m128i c = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + l));
            _mm256_storeu_ps(y + l, _mm256_mul_ps(ds, i8x8_to_ps(c)));
          }
        }
    }
  }
}

// C's roundf (halves away from zero) exactly: trunc, then step away when the exact
// remainder is at least one half.
__m256 round_half_away(__m256 x) {
  const __m256 t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 absr = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(x, t));
  const __m256 step = _mm256_and_ps(_mm256_cmp_ps(absr, _mm256_set1_ps(0.5f), _CMP_GE_OQ), _mm256_set1_ps(1.0f));
  return _mm256_add_ps(t, _mm256_or_ps(step, sign));
}

float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

__m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

void quantize_q8_0(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q8_0*>(vy);
  for (std::int64_t i = 0; i < k / QK8_0; ++i, x += QK8_0) {
    __m256 v[4], amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
      v[j] = _mm256_loadu_ps(x + 8 * j);
      amax = _mm256_max_ps(amax, abs_ps(v[j]));
    }
    const float d = hmax(amax) / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int j = 0; j < 4; ++j) q[j] = _mm256_cvttps_epi32(round_half_away(_mm256_mul_ps(v[j], vid)));
    // int32 -> int8 with the lanes back in order after the in-lane packs.
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), p8);
  }
}

void quantize_q4_0(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q4_0*>(vy);
  for (std::int64_t i = 0; i < k / QK4_0; ++i, x += QK4_0) {
    __m256 v[4], amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
      v[j] = _mm256_loadu_ps(x + 8 * j);
      amax = _mm256_max_ps(amax, abs_ps(v[j]));
    }
    const float a = hmax(amax);
    // The reference keeps the first weight whose magnitude is the block's largest, with
    // its sign; an all-zero block keeps max = +0 (so d = -0).
    float mx = 0.0f;
    if (a > 0.0f)
      for (int j = 0; j < QK4_0; ++j)
        if (std::fabs(x[j]) == a) {
          mx = x[j];
          break;
        }
    const float d = mx / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id), bias = _mm256_set1_ps(8.5f);
    __m256i q[4];
    for (int j = 0; j < 4; ++j)
      q[j] = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(v[j], vid), bias)), _mm256_set1_epi32(15));
    // Weights j and j + 16 share byte j: low nibble, high nibble.
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    __m256i p8 = _mm256_packus_epi16(p16a, p16b);
    p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    const __m128i lo = _mm256_castsi256_si128(p8), hi = _mm256_extracti128_si256(p8, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
  }
}

// F16/BF16 rows: the F16C/AVX2 element casts of quant_rows (bit-exact with fp16.h and
// bf16.h, which is what ggml's rows compute).
void dequantize_f16(const void* x, float* y, std::int64_t k) {
  quant_rows_avx2().fp16_to_fp32(static_cast<const std::uint16_t*>(x), k, y);
}
void quantize_f16(const float* x, void* y, std::int64_t k) {
  quant_rows_avx2().fp32_to_fp16(x, k, static_cast<std::uint16_t*>(y));
}
void dequantize_bf16(const void* x, float* y, std::int64_t k) {
  quant_rows_avx2().bf16_to_fp32(static_cast<const std::uint16_t*>(x), k, y);
}
void quantize_bf16(const float* x, void* y, std::int64_t k) {
  quant_rows_avx2().fp32_to_bf16(x, k, static_cast<std::uint16_t*>(y));
}

}  // namespace

GgmlRowTwins ggml_rows_avx2(ggml::Type t) {
  switch (t) {
    case Type::F16: return {dequantize_f16, quantize_f16};
    case Type::BF16: return {dequantize_bf16, quantize_bf16};
    case Type::Q4_0: return {dequantize_q4_0, quantize_q4_0};
    case Type::Q4_1: return {dequantize_q4_1, nullptr};
    case Type::Q5_0: return {dequantize_q5_0, nullptr};
    case Type::Q8_0: return {dequantize_q8_0, quantize_q8_0};
    case Type::Q4_K: return {dequantize_q4_K, nullptr};
    case Type::Q5_K: return {dequantize_q5_K, nullptr};
    case Type::Q6_K: return {dequantize_q6_K, nullptr};
    default: return {};
  }
}

}  // namespace lowbit::kernels
