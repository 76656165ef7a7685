// AVX2 twin of ggml_q8_codes__ref: the instruction sequence of the x86 build's
// quantize_row_q8_0/_1 (max of |x|, 127/amax, round to nearest-even, packs).
#include <immintrin.h>

#include "kernels/ggml_dot.h"

namespace lowbit::kernels {

void ggml_q8_codes__avx2(const float* x, std::int64_t nb, std::int8_t* codes, std::size_t code_stride, float* d,
                       std::int32_t* sums) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (std::int64_t b = 0; b < nb; ++b, x += 32, codes += code_stride) {
    __m256 v[4];
    for (int j = 0; j < 4; ++j) v[j] = _mm256_loadu_ps(x + 8 * j);
    __m256 amax = _mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1]));
    amax = _mm256_max_ps(amax, _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(amax, 1), _mm256_castps256_ps128(amax));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float mx = _mm_cvtss_f32(m4);
    const __m256 id = _mm256_set1_ps(mx != 0.0f ? 127.0f / mx : 0.0f);
    __m256i q[4];
    for (int j = 0; j < 4; ++j)
      q[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[j], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
    // packs interleave 128-bit halves; the permute puts the 32 codes back in order.
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes),
                        _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    d[b] = mx / 127.0f;
    sums[b] = _mm_cvtsi128_si32(s4);
  }
}

}  // namespace lowbit::kernels
