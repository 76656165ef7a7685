// The pieces of a Q5_K super-block that llama.cpp's AVX2 vec_dot unpacks, shared by the
// single dot (ggml_dot__avx2.cpp) and the batch tile (ggml_tile_q5_K__avx2.cpp) so both
// compute the same integers. Include only from files compiled with -mavx2.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "formats/ggml_blocks.h"

namespace lowbit::kernels {

// get_scale_min for all eight sub-blocks as 16-bit values: scales 0-7 in the low 128 bits,
// mins 0-7 in the high ones.
[[gnu::always_inline]] inline __m256i q5_K_scales_mins(const ggml::block_q5_K& a) {
  std::uint32_t u[3];
  std::memcpy(u, a.scales, 12);
  const std::uint32_t sc03 = u[0] & 0x3F3F3F3F, mn03 = u[1] & 0x3F3F3F3F;
  const std::uint32_t sc47 = (u[2] & 0x0F0F0F0F) | (((u[0] >> 6) & 0x03030303) << 4);
  const std::uint32_t mn47 = ((u[2] >> 4) & 0x0F0F0F0F) | (((u[1] >> 6) & 0x03030303) << 4);
  return _mm256_cvtepu8_epi16(_mm_set_epi32(static_cast<int>(mn47), static_cast<int>(mn03), static_cast<int>(sc47),
                                            static_cast<int>(sc03)));
}

// The super-block's min term before dmin: sum of min x (pair of bsums, wrapped to 16
// bits as hadd_epi16 does), as madd gives four pairs and hadd_epi32 twice adds them.
[[gnu::always_inline]] inline float q5_K_mins(__m256i sm, const ggml::block_q8_K& b) {
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.bsums));
  const __m128i q8sums = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
  const __m128i prod = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), q8sums);
  const __m128i zero = _mm_setzero_si128();
  return static_cast<float>(_mm_cvtsi128_si32(_mm_hadd_epi32(_mm_hadd_epi32(prod, zero), zero)));
}

// Run j's (0..3) 32 codes of sub-block 2j (lo) and 2j + 1 (hi), unsigned 0..31: the
// nibbles of qs[32j..] plus bit 2j (2j + 1) of each qh byte moved to bit 4 (masked first,
// so the 16-bit shifts carry nothing across bytes).
template <int J>
[[gnu::always_inline]] inline void q5_K_run_codes(const ggml::block_q5_K& a, __m256i hbits, __m256i& lo, __m256i& hi) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i q5 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 32 * J));
  const __m256i hl = _mm256_slli_epi16(_mm256_srli_epi16(_mm256_and_si256(hbits, _mm256_set1_epi8(1 << (2 * J))), 2 * J), 4);
  const __m256i hh =
      _mm256_slli_epi16(_mm256_srli_epi16(_mm256_and_si256(hbits, _mm256_set1_epi8(1 << (2 * J + 1))), 2 * J + 1), 4);
  lo = _mm256_add_epi8(_mm256_and_si256(q5, m4), hl);
  hi = _mm256_add_epi8(_mm256_and_si256(_mm256_srli_epi16(q5, 4), m4), hh);
}

// The 16-bit scale of sub-block s broadcast to every pair of bytes (scales: the low half
// of q5_K_scales_mins in both halves).
template <int S>
[[gnu::always_inline]] inline __m256i q5_K_scale(__m256i scales) {
  return _mm256_shuffle_epi8(scales, _mm256_set1_epi16(static_cast<short>(0x0100 + 0x0202 * S)));
}

}  // namespace lowbit::kernels
