// AVX2 twin of ggml::quantize_row_q8_K_ref, the Q8_K activation rows of Q4_K and Q6_K
// matmuls: the same amax, the same first element of that magnitude for the sign, the same
// fp32 products rounded to nearest-even, so the same bytes (NaNs and infinities included).
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "formats/ggml_rows.h"
#include "kernels/ggml_dot.h"

namespace lowbit::kernels {
namespace {

// bsums[j] = sum of codes 16j..16j+15, from the block's stored codes.
void block_sums(ggml::block_q8_K& b) {
  const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  __m256i s[8];  // lane l of s[u]: codes 32u + 4l .. 32u + 4l + 3
  for (int u = 0; u < 8; ++u)
    s[u] = _mm256_madd_epi16(
        _mm256_maddubs_epi16(ones8, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * u))), ones16);
  // Low halves end as [b0 b2 b4 b6 | b8 b10 b12 b14], high halves the odd sums.
  const __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
  const __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[4], s[5]), _mm256_hadd_epi32(s[6], s[7]));
  const __m256i p = _mm256_packs_epi32(h0, h1);  // |sum| <= 16 * 127: no saturation
  const __m128i even = _mm256_castsi256_si128(p), odd = _mm256_extracti128_si256(p, 1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(b.bsums), _mm_unpacklo_epi16(even, odd));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(b.bsums + 8), _mm_unpackhi_epi16(even, odd));
}

}  // namespace

void ggml_quantize_row_q8_K__avx2(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<ggml::block_q8_K*>(vy);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i top = _mm256_set1_epi32(127), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (std::int64_t i = 0; i < k / ggml::QK_K; ++i, x += ggml::QK_K) {
    ggml::block_q8_K& b = y[i];
    // max(|x|, acc) returns acc for a NaN |x|: NaNs are skipped, as by the reference's >.
    __m256 am = _mm256_setzero_ps();
    for (int j = 0; j < ggml::QK_K; j += 8) am = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), am);
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(am), _mm256_extractf128_ps(am, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float amax = _mm_cvtss_f32(m);
    if (amax == 0) {
      std::memset(&b, 0, sizeof(b));
      continue;
    }
    // The reference keeps the first element of largest magnitude; its sign is the codes'.
    const __m256 target = _mm256_set1_ps(amax);
    int first = 0;
    for (int j = 0; j < ggml::QK_K; j += 8) {
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), target, _CMP_EQ_OQ));
      if (hit) {
        first = j + __builtin_ctz(static_cast<unsigned>(hit));
        break;
      }
    }
    const float iscale = -127.f / x[first];
    if (!std::isfinite(iscale)) {  // |max| below 127 / FLT_MAX: products of inf, codes of NaN
      ggml::quantize_row_q8_K_ref(x, &b, ggml::QK_K);
      continue;
    }
    const __m256 mul = _mm256_set1_ps(iscale);
    for (int j = 0; j < ggml::QK_K; j += 32) {
      __m256i v[4];
      for (int u = 0; u < 4; ++u) {
        // The reference's float-bias rounding turns a NaN product (a NaN input, or an
        // infinite one times the -0 scale of an infinite max) into code 0; cvtps gives
        // INT_MIN, so NaN lanes are cleared.
        const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * u), mul);
        v[u] = _mm256_andnot_si256(_mm256_castps_si256(_mm256_cmp_ps(p, p, _CMP_UNORD_Q)),
                                   _mm256_min_epi32(_mm256_cvtps_epi32(p), top));
      }
      const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qs + j), _mm256_permutevar8x32_epi32(packed, order));
    }
    block_sums(b);
    b.d = 1 / iscale;
  }
}

}  // namespace lowbit::kernels
