// Q5_K batch tile in vec_dot order (ggml_dot.h): one weight row against up to eight
// activation rows, each run of codes and its scales unpacked once for all of them; every
// output keeps the single dot's lanes, fmas, fold and min sum, so it equals
// ggml_dot_q5_K_q8_K bit for bit.
#include <immintrin.h>

#include "kernels/avx2/fold8_avx2.h"
#include "kernels/avx2/q5_K_codes_avx2.h"
#include "kernels/ggml_dot.h"
#include "kernels/tile_cols.h"

namespace lowbit::kernels {
namespace {

// Keeps each running sum one chain in the order written (GCC otherwise reassociates the
// adds into independent products and spills them, as in the Q6_K tile).
__m256i chained(__m256i v) {
  asm("" : "+x"(v));
  return v;
}

template <int J, int C>
[[gnu::always_inline]] inline void run(const ggml::block_q5_K& a, __m256i hbits, __m256i scales,
                                       const ggml::block_q8_K* const (&xb)[C], __m256i (&sumi)[C]) {
  __m256i lo, hi;
  q5_K_run_codes<J>(a, hbits, lo, hi);
  const __m256i sl = q5_K_scale<2 * J>(scales), sh = q5_K_scale<2 * J + 1>(scales);
  for (int c = 0; c < C; ++c) {
    const __m256i yl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[c]->qs + 64 * J));
    const __m256i yh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[c]->qs + 64 * J + 32));
    const __m256i p = _mm256_add_epi32(_mm256_madd_epi16(sl, _mm256_maddubs_epi16(lo, yl)),
                                       _mm256_madd_epi16(sh, _mm256_maddubs_epi16(hi, yh)));
    sumi[c] = chained(_mm256_add_epi32(sumi[c], p));
  }
}

template <int C>
void tile(const ggml::block_q5_K* a, const ggml::block_q8_K* x, std::size_t x_stride, std::int64_t nb, float* out) {
  __m256 acc[C];
  float summs[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps(), summs[c] = 0.f;
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    const ggml::block_q8_K* xb[C];
    for (int c = 0; c < C; ++c) xb[c] = x + static_cast<std::size_t>(c) * x_stride + static_cast<std::size_t>(ib);
    const float dw = _cvtsh_ss(a[ib].d), dmw = _cvtsh_ss(a[ib].dmin);
    const __m256i sm = q5_K_scales_mins(a[ib]);
    for (int c = 0; c < C; ++c) {
      const float dmin = -xb[c]->d * dmw;
      summs[c] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(dmin), _mm_set_ss(q5_K_mins(sm, *xb[c])), _mm_set_ss(summs[c])));
    }
    const __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
    const __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[ib].qh));
    __m256i sumi[C];
    for (auto& v : sumi) v = _mm256_setzero_si256();
    run<0, C>(a[ib], hbits, scales, xb, sumi);
    run<1, C>(a[ib], hbits, scales, xb, sumi);
    run<2, C>(a[ib], hbits, scales, xb, sumi);
    run<3, C>(a[ib], hbits, scales, xb, sumi);
    for (int c = 0; c < C; ++c)
      acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(xb[c]->d * dw), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
  }
  for (int c = 0; c < C; ++c) out[c] = fold8(acc[c]) + summs[c];
}

}  // namespace

void ggml_dot_tile_q5_K_q8_K__avx2(const void* w, const ggml::block_q8_K* x, std::size_t x_stride, std::int64_t n,
                                   int c, float* out) {
  const auto* a = static_cast<const ggml::block_q5_K*>(w);
  const std::int64_t nb = n / ggml::QK_K;
  with_tile_cols(c, [&](auto cols) { tile<decltype(cols)::value>(a, x, x_stride, nb, out); });
}

}  // namespace lowbit::kernels
