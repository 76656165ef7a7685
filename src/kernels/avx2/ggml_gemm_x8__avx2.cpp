// AVX2 tiles over eight-row panels (ggml_gemm_x8.h): 8 weight rows x up to 4 activation
// rows, int32 lane r = row r's exact block dot, then one cvt + fma per block and row set;
// the same float operations in the same order as the reference twins, bit for bit.
#include <immintrin.h>

#include <cstring>

#include "kernels/ggml_gemm_x8.h"

namespace lowbit::kernels {
namespace {

// Four activation codes 4k..4k+3 of a block in every 32-bit lane.
__m256i codes4(const std::int8_t* qs, int k) {
  std::int32_t v;
  std::memcpy(&v, qs + 4 * k, 4);
  return _mm256_set1_epi32(v);
}

__m256 row_scales(const std::uint16_t* d) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d)));
}

// Q4_0: unsigned nibbles u = q + 8 times signed activation codes; a pair of products is
// at most 2 * 15 * 127 in magnitude, so eight maddubs results add in int16 (30480 <
// 2^15) before one madd widens them; the dot is then sum(u * x) - 8 * sum(x), exact.
template <int C>
void tile_q4_0(const block_q4_0x8* w, const GgmlX8Activation* const* x, std::int64_t nb, float* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  __m256 acc[C];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    __m256i s16[C];
    for (auto& s : s16) s = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[ib].qs + 32 * p));
      const __m256i lo = _mm256_and_si256(packed, m4), hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), m4);
      for (int c = 0; c < C; ++c) {
        s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(lo, codes4(x[c][ib].qs, p)));
        s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(hi, codes4(x[c][ib].qs, p + 4)));
      }
    }
    const __m256 dw = row_scales(w[ib].d);
    for (int c = 0; c < C; ++c) {
      const __m256i dot = _mm256_sub_epi32(_mm256_madd_epi16(s16[c], ones), _mm256_set1_epi32(x[c][ib].sum8));
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw, _mm256_set1_ps(x[c][ib].d)), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + 8 * c, acc[c]);
}

// Q8_0: signed x signed through the sign trick; pairs reach 2 * 127 * 127, so every
// maddubs result is widened to int32 at once.
template <int C>
void tile_q8_0(const block_q8_0x8* w, const GgmlX8Activation* const* x, std::int64_t nb, float* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[C];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    __m256i s32[C];
    for (auto& s : s32) s = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[ib].qs + 32 * k));
      const __m256i aq = _mm256_sign_epi8(q, q);
      for (int c = 0; c < C; ++c) {
        const __m256i p = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(codes4(x[c][ib].qs, k), q));
        s32[c] = _mm256_add_epi32(s32[c], _mm256_madd_epi16(p, ones));
      }
    }
    const __m256 dw = row_scales(w[ib].d);
    for (int c = 0; c < C; ++c)
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32[c]), _mm256_mul_ps(dw, _mm256_set1_ps(x[c][ib].d)), acc[c]);
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + 8 * c, acc[c]);
}

// c (1..4) activation rows, x_stride blocks apart.
template <class Panel, void (*T1)(const Panel*, const GgmlX8Activation* const*, std::int64_t, float*),
          void (*T2)(const Panel*, const GgmlX8Activation* const*, std::int64_t, float*),
          void (*T3)(const Panel*, const GgmlX8Activation* const*, std::int64_t, float*),
          void (*T4)(const Panel*, const GgmlX8Activation* const*, std::int64_t, float*)>
void tile_of(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride, std::int64_t n, int c,
             float* out) {
  const GgmlX8Activation* rows[4];
  for (int j = 0; j < c; ++j) rows[j] = x + static_cast<std::size_t>(j) * x_stride;
  const auto* w = reinterpret_cast<const Panel*>(panel);
  switch (c) {
    case 1: T1(w, rows, n / 32, out); break;
    case 2: T2(w, rows, n / 32, out); break;
    case 3: T3(w, rows, n / 32, out); break;
    default: T4(w, rows, n / 32, out); break;
  }
}

}  // namespace

void ggml_gemm_q4_0x8_q8_0__avx2(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                 std::int64_t n, int c, float* out) {
  tile_of<block_q4_0x8, tile_q4_0<1>, tile_q4_0<2>, tile_q4_0<3>, tile_q4_0<4>>(panel, x, x_stride, n, c, out);
}

void ggml_gemm_q8_0x8_q8_0__avx2(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                 std::int64_t n, int c, float* out) {
  tile_of<block_q8_0x8, tile_q8_0<1>, tile_q8_0<2>, tile_q8_0<3>, tile_q8_0<4>>(panel, x, x_stride, n, c, out);
}

}  // namespace lowbit::kernels
