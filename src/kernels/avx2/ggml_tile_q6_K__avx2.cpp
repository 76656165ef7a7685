// Q6_K batch tile in llama.cpp's tiled order (ggml_dot.h): one weight row against up to
// eight activation rows, each run of 32 codes unpacked once and used for all of them; the
// per-activation integer sums and fmas are the single tiled dot's, bit for bit.
#include <immintrin.h>

#include "kernels/avx2/q6_K_codes_avx2.h"
#include "kernels/ggml_dot.h"
#include "kernels/tile_cols.h"

namespace lowbit::kernels {
namespace {

std::int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

// Keeps each running sum one chain in the order written: without it GCC reassociates
// the adds into a tree of independent products and spills them (as in ggml_gemm_x8__avx2).
__m256i chained(__m256i v) {
  asm("" : "+x"(v));
  return v;
}

// Eight super-block sums at once: t[c]'s eight lanes summed into lane c (exact integers,
// so the order is free), for the full tile's one vector of fmas.
__m256i hsum8_epi32(const __m256i* t) {
  const __m256i h0123 = _mm256_hadd_epi32(_mm256_hadd_epi32(t[0], t[1]), _mm256_hadd_epi32(t[2], t[3]));
  const __m256i h4567 = _mm256_hadd_epi32(_mm256_hadd_epi32(t[4], t[5]), _mm256_hadd_epi32(t[6], t[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20),
                          _mm256_permute2x128_si256(h0123, h4567, 0x31));
}

template <int C>
void tile(const ggml::block_q6_K* a, const ggml::block_q8_K* x, std::size_t x_stride, std::int64_t nb, float* out) {
  // Lane c of acc8 (C == 8), or acc[c], is activation c's running sum.
  __m256 acc8 = _mm256_setzero_ps();
  __m128 acc[C];
  for (auto& v : acc) v = _mm_setzero_ps();
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    const auto xb = [&](int c) -> const ggml::block_q8_K& {
      return x[static_cast<std::size_t>(c) * x_stride + static_cast<std::size_t>(ib)];
    };
    __m256i sumi[C];
    for (auto& v : sumi) v = _mm256_setzero_si256();
    // Unrolled so the runs' shifts are immediates and sumi stays in registers (GCC left
    // both loops rolled and kept all eight sums on the stack).
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256i half_scales = q6_K_half_scales(a[ib], h);
#pragma GCC unroll 4
      for (int run = 0; run < 4; ++run) {
        const __m256i q = q6_K_run_codes(a[ib], h, run), sc = q6_K_run_scales(half_scales, run);
        for (int c = 0; c < C; ++c) {
          const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb(c).qs + 128 * h + 32 * run));
          sumi[c] = chained(_mm256_add_epi32(sumi[c], _mm256_madd_epi16(sc, _mm256_maddubs_epi16(q, y))));
        }
      }
    }
    const float dw = _cvtsh_ss(a[ib].d);
    for (int c = 0; c < C; ++c) sumi[c] = _mm256_sub_epi32(sumi[c], q6_K_offset(a[ib], xb(c)));
    if constexpr (C == 8) {
      const __m256 s = _mm256_mul_ps(_mm256_set1_ps(dw), _mm256_cvtepi32_ps(hsum8_epi32(sumi)));
      const __m256 dx = _mm256_setr_ps(xb(0).d, xb(1).d, xb(2).d, xb(3).d, xb(4).d, xb(5).d, xb(6).d, xb(7).d);
      acc8 = _mm256_fmadd_ps(s, dx, acc8);
    } else {
      for (int c = 0; c < C; ++c)
        acc[c] = _mm_fmadd_ss(_mm_set_ss(dw * static_cast<float>(hsum_epi32(sumi[c]))), _mm_set_ss(xb(c).d), acc[c]);
    }
  }
  if constexpr (C == 8)
    _mm256_storeu_ps(out, acc8);
  else
    for (int c = 0; c < C; ++c) out[c] = _mm_cvtss_f32(acc[c]);
}

}  // namespace

void ggml_dot_tile_q6_K_q8_K_tiled__avx2(const void* w, const ggml::block_q8_K* x, std::size_t x_stride,
                                         std::int64_t n, int c, float* out) {
  const auto* a = static_cast<const ggml::block_q6_K*>(w);
  const std::int64_t nb = n / ggml::QK_K;
  with_tile_cols(c, [&](auto cols) { tile<decltype(cols)::value>(a, x, x_stride, nb, out); });
}

}  // namespace lowbit::kernels
