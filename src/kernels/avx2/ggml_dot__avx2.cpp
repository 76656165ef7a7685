// AVX2 ggml block dot products (see ggml_dot.h): the same lanes, fmas and fold as the
// reference twins, so results are identical bit for bit; compiled with -mavx2 -mfma -mf16c.
#include <immintrin.h>

#include "formats/ggml_blocks.h"
#include "kernels/ggml_dot.h"

namespace lowbit::kernels {
namespace {

float half(std::uint16_t h) { return _cvtsh_ss(h); }

// 16 packed nibbles -> 32 bytes: low nibbles first, then high nibbles (ggml's element order).
__m256i nibbles(const std::uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_insertf128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Eight int32 lanes, lane l = sum of products 4l..4l+3 of unsigned u and signed s bytes.
__m256 lanes_us(__m256i u, __m256i s) {
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_set1_epi16(1), _mm256_maddubs_epi16(u, s)));
}
// Signed x signed through the sign trick (|a| * sign(b, a)).
__m256 lanes_ss(__m256i a, __m256i b) { return lanes_us(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a)); }

float fold(__m256 acc) {
  alignas(32) float a[8];
  _mm256_store_ps(a, acc);
  return ggml_hsum8(a);
}

}  // namespace

float ggml_dot_q4_0_q8_0__avx2(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q4_0*>(w);
  const auto* b = static_cast<const ggml::block_q8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t ib = 0; ib < n / 32; ++ib) {
    const __m256 d = _mm256_set1_ps(half(a[ib].d) * half(b[ib].d));
    const __m256i qa = _mm256_sub_epi8(nibbles(a[ib].qs), _mm256_set1_epi8(8));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[ib].qs));
    acc = _mm256_fmadd_ps(d, lanes_ss(qa, qb), acc);
  }
  return fold(acc);
}

float ggml_dot_q4_1_q8_1__avx2(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q4_1*>(w);
  const auto* b = static_cast<const ggml::block_q8_1*>(x);
  __m256 acc = _mm256_setzero_ps();
  float summs = 0.0f;
  for (std::int64_t ib = 0; ib < n / 32; ++ib) {
    summs = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(half(a[ib].m)), _mm_set_ss(half(b[ib].s)), _mm_set_ss(summs)));
    const __m256 d = _mm256_set1_ps(half(a[ib].d) * half(b[ib].d));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[ib].qs));
    acc = _mm256_fmadd_ps(d, lanes_us(nibbles(a[ib].qs), qb), acc);
  }
  return fold(acc) + summs;
}

float ggml_dot_q8_0_q8_0__avx2(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q8_0*>(w);
  const auto* b = static_cast<const ggml::block_q8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t ib = 0; ib < n / 32; ++ib) {
    const __m256 d = _mm256_set1_ps(half(a[ib].d) * half(b[ib].d));
    const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[ib].qs));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[ib].qs));
    acc = _mm256_fmadd_ps(d, lanes_ss(qa, qb), acc);
  }
  return fold(acc);
}

float ggml_dot_f16_tinyblas__avx2(const float* a, const float* b, std::int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  return fold(acc);
}

void ggml_dot_f16_tinyblas4__avx2(const float* a, std::int64_t stride, const float* b, std::int64_t n, float* out) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  for (std::int64_t i = 0; i < n; i += 8) {
    const __m256 bv = _mm256_loadu_ps(b + i);
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), bv, acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + stride + i), bv, acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 2 * stride + i), bv, acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 3 * stride + i), bv, acc3);
  }
  // ggml_hsum8 of each, four at once: t = lo + hi = (a0+a4, a1+a5, a2+a6, a3+a7), then
  // (t0 + t2) + (t1 + t3), with the four t vectors transposed so each term is one lane.
  auto halves = [](__m256 v) { return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); };
  __m128 t0 = halves(acc0), t1 = halves(acc1), t2 = halves(acc2), t3 = halves(acc3);
  _MM_TRANSPOSE4_PS(t0, t1, t2, t3);
  _mm_storeu_ps(out, _mm_add_ps(_mm_add_ps(t0, t2), _mm_add_ps(t1, t3)));
}

}  // namespace lowbit::kernels
