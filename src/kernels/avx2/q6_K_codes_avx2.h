// One run of 32 Q6_K codes as AVX2 bytes, and the run's two sub-block scales, shared by
// the vec_dot-order dot and the tiled-order batch tile so both unpack the same way.
// Include only from files compiled with -mavx2 (src/kernels/avx2/).
#pragma once
#include <immintrin.h>

#include "formats/ggml_blocks.h"

namespace lowbit::kernels {

// Run `run` (0..3) of half h (0..1) of super-block a: elements 128h + 32run + t, as the
// unsigned 6-bit q (code + 32): four bits from ql (low nibbles of its first or second 32
// bytes for runs 0/1, high nibbles for 2/3), two from bits 2run..2run+1 of qh.
inline __m256i q6_K_run_codes(const ggml::block_q6_K& a, int h, int run) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.ql + 64 * h + 32 * (run & 1)));
  const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qh + 32 * h));
  const __m256i lo = _mm256_and_si256(run < 2 ? ql : _mm256_srli_epi16(ql, 4), m4);
  // Bits 2run, 2run + 1 of each qh byte masked in place, then moved to bits 4-5 (run 2's
  // are there already); a 16-bit shift only carries in bits the mask has cleared.
  const __m256i bits = _mm256_and_si256(qh, _mm256_set1_epi8(static_cast<char>(3 << (2 * run))));
  const __m256i high = run < 2 ? _mm256_slli_epi16(bits, 4 - 2 * run) : run == 2 ? bits : _mm256_srli_epi16(bits, 2);
  return _mm256_or_si256(lo, high);
}

// The eight scales of half h as int16, repeated in both 128-bit lanes, for
// q6_K_run_scales: one widening load per half instead of two broadcasts per run.
inline __m256i q6_K_half_scales(const ggml::block_q6_K& a, int h) {
  return _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a.scales + 8 * h))));
}

// Run `run`'s scales from its half's: scale 2run in every int16 of the low 128 bits (the
// run's first 16 elements), scale 2run + 1 in the high, to madd against its maddubs pair
// sums.
inline __m256i q6_K_run_scales(__m256i half_scales, int run) {
  const char lo = static_cast<char>(4 * run), hi = static_cast<char>(4 * run + 2);
  const __m256i pick = _mm256_setr_epi8(lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo,
                                        lo + 1, lo, lo + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1,
                                        hi, hi + 1, hi, hi + 1, hi, hi + 1);
  return _mm256_shuffle_epi8(half_scales, pick);
}

// 32 * (scale x bsum) summed in pairs of sub-blocks: lane l holds sub-blocks 2l and 2l + 1,
// the -32 offset of the codes for activation b.
inline __m256i q6_K_offset(const ggml::block_q6_K& a, const ggml::block_q8_K& b) {
  const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.scales)));
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.bsums));
  return _mm256_slli_epi32(_mm256_madd_epi16(bsums, scales16), 5);
}

}  // namespace lowbit::kernels
