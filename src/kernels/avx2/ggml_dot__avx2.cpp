// AVX2 ggml block dot products (see ggml_dot.h): the same lanes, fmas and fold as the
// reference twins, so results are identical bit for bit; compiled with -mavx2 -mfma -mf16c.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "formats/ggml_blocks.h"
#include "kernels/avx2/q5_K_codes_avx2.h"
#include "kernels/avx2/q6_K_codes_avx2.h"
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

// ggml_hsum8 in registers, the same additions in the same order: t = hi + lo lane-wise,
// then (t0 + t2) + (t1 + t3) (a store and eight scalar loads cost a small tile ~15 %).
float fold(__m256 acc) {
  const __m128 t = _mm_add_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
  const __m128 s = _mm_add_ps(t, _mm_movehl_ps(t, t));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// Register tiles: 1 weight row x 1..8 activation rows per pass (eight accumulators and
// the operands fit the 16 ymm registers, and each weight block is unpacked once for eight
// activations, which Q5_0's bit spreading needs most; 4 x 3 unpacked it for three and
// spilled), or 4 rows x 1..2 activations for generation; every output keeps the single
// dot's own lanes, fmas and fold, so a tile equals the dots it replaces bit for bit.
// Signed weight codes of block ib of a Q4_0 or Q8_0 row.
template <class Block>
__m256i codes(const Block& b);
template <>
__m256i codes(const ggml::block_q4_0& b) {
  return _mm256_sub_epi8(nibbles(b.qs), _mm256_set1_epi8(8));
}
template <>
__m256i codes(const ggml::block_q5_0& b) {
  // Byte j takes bit j of qh: byte j / 8 of the word spread over eight lanes, then the
  // lane's own bit tested; a clear bit leaves the nibble minus 16 (OR 0xF0), a set one
  // the nibble itself, i.e. (nibble | h << 4) - 16 as ggml decodes it.
  std::uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(qh)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_or_si256(nibbles(b.qs), _mm256_andnot_si256(set, _mm256_set1_epi8(static_cast<char>(0xF0))));
}
template <>
__m256i codes(const ggml::block_q8_0& b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
}

// Q4_1 pairs with Q8_1 activations: unsigned nibbles times signed bytes, plus m * s per
// block in a scalar fma chain added after the fold (ggml's summs). Keeping that chain in
// the vector loop spills a few accumulators, yet measured faster than a second pass.
template <class Block>
constexpr bool kHasMin = std::is_same_v<Block, ggml::block_q4_1>;
template <class Block>
using ActivationBlock = std::conditional_t<kHasMin<Block>, ggml::block_q8_1, ggml::block_q8_0>;

template <class Block, int R, int C>
void tile(const std::byte* w, std::size_t w_row_bytes, const std::byte* x, int x_stride, const float* xd,
          std::int64_t xd_stride, std::int64_t n, float* out) {
  using XBlock = ActivationBlock<Block>;
  const Block* a[R];
  for (int r = 0; r < R; ++r) a[r] = reinterpret_cast<const Block*>(w + static_cast<std::size_t>(r) * w_row_bytes);
  const auto* xb = reinterpret_cast<const XBlock*>(x);
  // Set and folded in unrolled loops: with rolled ones GCC kept the array in memory too
  // and stored every accumulator each block.
  __m256 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  [[maybe_unused]] __m128 summs[R][C];
  if constexpr (kHasMin<Block>)
    for (auto& row : summs)
      for (auto& v : row) v = _mm_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::int64_t ib = 0; ib < n / 32; ++ib, xb += x_stride) {
    // The tile's d_w * d_x products, one multiply per weight row for all its activations
    // (their scales come decoded, xd), each then broadcast from memory: the same
    // roundings as a scalar product per output, without a multiply per output.
    alignas(32) float dd[R][8];
    const __m256 dx = _mm256_loadu_ps(xd + ib * xd_stride);
    for (int r = 0; r < R; ++r) _mm256_store_ps(dd[r], _mm256_mul_ps(_mm256_set1_ps(half(a[r][ib].d)), dx));
    for (int r = 0; r < R; ++r) {
      // The same block R rows down (the next tile's): rows are short (a few hundred
      // bytes in small models), too short for the hardware prefetcher to ramp up within.
      _mm_prefetch(reinterpret_cast<const char*>(a[r] + ib) + R * w_row_bytes, _MM_HINT_T0);
      if constexpr (kHasMin<Block>) {
        const __m256i ua = nibbles(a[r][ib].qs);
        const __m128 ma = _mm_set_ss(half(a[r][ib].m));
        for (int c = 0; c < C; ++c) {
          summs[r][c] = _mm_fmadd_ss(ma, _mm_set_ss(half(xb[c].s)), summs[r][c]);
          const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[c].qs));
          const __m256i p = _mm256_madd_epi16(ones, _mm256_maddubs_epi16(ua, qb));
          acc[r][c] = _mm256_fmadd_ps(_mm256_broadcast_ss(&dd[r][c]), _mm256_cvtepi32_ps(p), acc[r][c]);
        }
      } else {
        const __m256i qa = codes(a[r][ib]);
        const __m256i ua = _mm256_sign_epi8(qa, qa);
        for (int c = 0; c < C; ++c) {
          const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[c].qs));
          const __m256i p = _mm256_madd_epi16(ones, _mm256_maddubs_epi16(ua, _mm256_sign_epi8(qb, qa)));
          acc[r][c] = _mm256_fmadd_ps(_mm256_broadcast_ss(&dd[r][c]), _mm256_cvtepi32_ps(p), acc[r][c]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      out[c * R + r] = fold(acc[r][c]);
      if constexpr (kHasMin<Block>) out[c * R + r] += _mm_cvtss_f32(summs[r][c]);
    }
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

float ggml_dot_q5_0_q8_0__avx2(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q5_0*>(w);
  const auto* b = static_cast<const ggml::block_q8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t ib = 0; ib < n / 32; ++ib) {
    const __m256 d = _mm256_set1_ps(half(a[ib].d) * half(b[ib].d));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[ib].qs));
    acc = _mm256_fmadd_ps(d, lanes_ss(codes(a[ib]), qb), acc);
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

float ggml_dot_q4_K_q8_K__avx2(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q4_K*>(w);
  const auto* b = static_cast<const ggml::block_q8_K*>(x);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (std::int64_t ib = 0; ib < n / ggml::QK_K; ++ib) {
    const float d = b[ib].d * half(a[ib].d);
    const float dmin = -b[ib].d * half(a[ib].dmin);
    // get_scale_min for all eight sub-blocks at once, four bytes per word: scales 0-3,
    // scales 4-7, mins 0-3, mins 4-7.
    std::uint32_t u[3];
    std::memcpy(u, a[ib].scales, 12);
    const std::uint32_t sc03 = u[0] & 0x3F3F3F3F, mn03 = u[1] & 0x3F3F3F3F;
    const std::uint32_t sc47 = (u[2] & 0x0F0F0F0F) | (((u[0] >> 6) & 0x03030303) << 4);
    const std::uint32_t mn47 = ((u[2] >> 4) & 0x0F0F0F0F) | (((u[1] >> 6) & 0x03030303) << 4);
    const __m256i sm = _mm256_cvtepu8_epi16(_mm_set_epi32(static_cast<int>(mn47), static_cast<int>(mn03),
                                                          static_cast<int>(sc47), static_cast<int>(sc03)));
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[ib].bsums));
    const __m128i q8sums = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
    const __m128i mins = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), q8sums);
    acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mins), acc_m);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      // Bytes 2k, 2k+1 of every word pick 16-bit scale k.
      const __m256i sl = _mm256_shuffle_epi8(scales, _mm256_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * j))));
      const __m256i sh = _mm256_shuffle_epi8(scales, _mm256_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * j + 1))));
      const __m256i q4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[ib].qs + 32 * j));
      const __m256i q8l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[ib].qs + 64 * j));
      const __m256i q8h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[ib].qs + 64 * j + 32));
      const __m256i pl = _mm256_madd_epi16(sl, _mm256_maddubs_epi16(_mm256_and_si256(q4, m4), q8l));
      const __m256i ph = _mm256_madd_epi16(sh, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q4, 4), m4), q8h));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  __m128 m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
  m = _mm_add_ss(m, _mm_movehdup_ps(m));
  return fold(acc) + _mm_cvtss_f32(m);
}

namespace {

// Lanes += run J's products: sub-block 2J's codes against q8[64J..], 2J + 1's against
// q8[64J + 32..], each pair sum times its scale.
template <int J>
[[gnu::always_inline]] inline __m256i q5_K_run(const ggml::block_q5_K& a, __m256i hbits, __m256i scales,
                                              const std::int8_t* q8, __m256i sumi) {
  __m256i lo, hi;
  q5_K_run_codes<J>(a, hbits, lo, hi);
  const __m256i q8l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 64 * J));
  const __m256i q8h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 64 * J + 32));
  const __m256i pl = _mm256_madd_epi16(q5_K_scale<2 * J>(scales), _mm256_maddubs_epi16(lo, q8l));
  const __m256i ph = _mm256_madd_epi16(q5_K_scale<2 * J + 1>(scales), _mm256_maddubs_epi16(hi, q8h));
  return _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
}

}  // namespace

float ggml_dot_q5_K_q8_K__avx2(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q5_K*>(w);
  const auto* b = static_cast<const ggml::block_q8_K*>(x);
  __m256 acc = _mm256_setzero_ps();
  float summs = 0.f;
  for (std::int64_t ib = 0; ib < n / ggml::QK_K; ++ib) {
    const float d = b[ib].d * half(a[ib].d);
    const float dmin = -b[ib].d * half(a[ib].dmin);
    const __m256i sm = q5_K_scales_mins(a[ib]);
    // llama.cpp's build contracts `summs += dmin * mins` into one fma.
    summs = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(dmin), _mm_set_ss(q5_K_mins(sm, b[ib])), _mm_set_ss(summs)));
    const __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
    const __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[ib].qh));
    __m256i sumi = _mm256_setzero_si256();
    sumi = q5_K_run<0>(a[ib], hbits, scales, b[ib].qs, sumi);
    sumi = q5_K_run<1>(a[ib], hbits, scales, b[ib].qs, sumi);
    sumi = q5_K_run<2>(a[ib], hbits, scales, b[ib].qs, sumi);
    sumi = q5_K_run<3>(a[ib], hbits, scales, b[ib].qs, sumi);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return fold(acc) + summs;
}

namespace {

// vec_dot's eight int32 lanes of one Q6_K super-block (see the reference's q6_K_lanes).
[[gnu::always_inline]] inline __m256i q6_K_lanes(const ggml::block_q6_K& a, const ggml::block_q8_K& b) {
  __m256i sumi = _mm256_setzero_si256();
  for (int h = 0; h < 2; ++h) {
    const __m256i half_scales = q6_K_half_scales(a, h);
    for (int run = 0; run < 4; ++run) {
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 128 * h + 32 * run));
      // Unsigned 6-bit codes: pair sums stay within int16 (63 * 128 * 2 < 2^15).
      const __m256i p = _mm256_maddubs_epi16(q6_K_run_codes(a, h, run), y);
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(q6_K_run_scales(half_scales, run), p));
    }
  }
  return _mm256_sub_epi32(sumi, q6_K_offset(a, b));
}

}  // namespace

float ggml_dot_q6_K_q8_K__avx2(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q6_K*>(w);
  const auto* b = static_cast<const ggml::block_q8_K*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t ib = 0; ib < n / ggml::QK_K; ++ib) {
    const float d = b[ib].d * half(a[ib].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(q6_K_lanes(a[ib], b[ib])), acc);
  }
  return fold(acc);
}

float ggml_dot_q6_K_q8_K_tiled__avx2(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q6_K*>(w);
  const auto* b = static_cast<const ggml::block_q8_K*>(x);
  __m128 acc = _mm_setzero_ps();
  for (std::int64_t ib = 0; ib < n / ggml::QK_K; ++ib) {
    const __m256i l = q6_K_lanes(a[ib], b[ib]);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(l), _mm256_extracti128_si256(l, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    const float res = half(a[ib].d) * static_cast<float>(_mm_cvtsi128_si32(s));
    acc = _mm_fmadd_ss(_mm_set_ss(res), _mm_set_ss(b[ib].d), acc);
  }
  return _mm_cvtss_f32(acc);
}

float ggml_dot_f16_tinyblas__avx2(const float* a, const float* b, std::int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  return fold(acc);
}

namespace {

__m256 widen(const float* p) { return _mm256_loadu_ps(p); }
__m256 widen(const std::uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

template <int C, class A, class B>
void tinyblas_tile(const A* a, std::int64_t a_stride, const B* b, std::int64_t b_stride, std::int64_t n,
                   float* out) {
  __m256 acc[4][C];
  for (auto& row : acc)
    for (auto& v : row) v = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < n; i += 8) {
    __m256 bv[C];
    for (int j = 0; j < C; ++j) bv[j] = widen(b + j * b_stride + i);
    for (int r = 0; r < 4; ++r) {
      const __m256 av = widen(a + r * a_stride + i);
      for (int j = 0; j < C; ++j) acc[r][j] = _mm256_fmadd_ps(av, bv[j], acc[r][j]);
    }
  }
  // ggml_hsum8 of each, four at once: t = lo + hi = (a0+a4, a1+a5, a2+a6, a3+a7), then
  // (t0 + t2) + (t1 + t3), with the four t vectors transposed so each term is one lane.
  auto halves = [](__m256 v) { return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); };
  for (int j = 0; j < C; ++j) {
    __m128 t0 = halves(acc[0][j]), t1 = halves(acc[1][j]), t2 = halves(acc[2][j]), t3 = halves(acc[3][j]);
    _MM_TRANSPOSE4_PS(t0, t1, t2, t3);
    _mm_storeu_ps(out + 4 * j, _mm_add_ps(_mm_add_ps(t0, t2), _mm_add_ps(t1, t3)));
  }
}

template <class A, class B>
void tinyblas_tile_of(const A* a, std::int64_t a_stride, const B* b, std::int64_t b_stride, std::int64_t n, int c,
                      float* out) {
  switch (c) {
    case 1: tinyblas_tile<1>(a, a_stride, b, b_stride, n, out); break;
    case 2: tinyblas_tile<2>(a, a_stride, b, b_stride, n, out); break;
    default: tinyblas_tile<3>(a, a_stride, b, b_stride, n, out); break;
  }
}

}  // namespace

void ggml_dot_f16_tinyblas_tile__avx2(const float* a, std::int64_t a_stride, const float* b, std::int64_t b_stride,
                                      std::int64_t n, int c, float* out) {
  tinyblas_tile_of(a, a_stride, b, b_stride, n, c, out);
}

void ggml_dot_f16_tinyblas_tile_h__avx2(const std::uint16_t* a, std::int64_t a_stride, const std::uint16_t* b,
                                        std::int64_t b_stride, std::int64_t n, int c, float* out) {
  tinyblas_tile_of(a, a_stride, b, b_stride, n, c, out);
}

// c interleaved activations of one tile on `rows` weight rows (1: c up to 8, in register
// tiles of up to eight, three for Q4_1 whose min chain needs registers; 4: c up to 2).
template <class Block>
void tile_of(const std::byte* w, std::size_t w_row_bytes, const std::byte* x, const float* xd,
             std::int64_t xd_stride, std::int64_t n, int rows, int c, float* out) {
  if (rows == kGgmlGemvRows) {
    if (c == 2) tile<Block, kGgmlGemvRows, 2>(w, w_row_bytes, x, c, xd, xd_stride, n, out);
    else tile<Block, kGgmlGemvRows, 1>(w, w_row_bytes, x, c, xd, xd_stride, n, out);
    return;
  }
  constexpr int kMax = kHasMin<Block> ? 3 : kGgmlTileCols;
  for (int c0 = 0; c0 < c; c0 += kMax) {
    const int cc = std::min(kMax, c - c0);
    const std::byte* xc = x + static_cast<std::size_t>(c0) * sizeof(ActivationBlock<Block>);
    float* o = out + c0;
    switch (cc) {
      case 1: tile<Block, 1, 1>(w, w_row_bytes, xc, c, xd + c0, xd_stride, n, o); break;
      case 2: tile<Block, 1, 2>(w, w_row_bytes, xc, c, xd + c0, xd_stride, n, o); break;
      case 3: tile<Block, 1, 3>(w, w_row_bytes, xc, c, xd + c0, xd_stride, n, o); break;
      case 4: tile<Block, 1, std::min(4, kMax)>(w, w_row_bytes, xc, c, xd + c0, xd_stride, n, o); break;
      case 5: tile<Block, 1, std::min(5, kMax)>(w, w_row_bytes, xc, c, xd + c0, xd_stride, n, o); break;
      case 6: tile<Block, 1, std::min(6, kMax)>(w, w_row_bytes, xc, c, xd + c0, xd_stride, n, o); break;
      case 7: tile<Block, 1, std::min(7, kMax)>(w, w_row_bytes, xc, c, xd + c0, xd_stride, n, o); break;
      default: tile<Block, 1, kMax>(w, w_row_bytes, xc, c, xd + c0, xd_stride, n, o); break;
    }
  }
}

void ggml_dot_tile_q4_0_q8_0__avx2(const std::byte* w, std::size_t w_row_bytes, const std::byte* x, const float* xd,
                                   std::int64_t xd_stride, std::int64_t n, int rows, int c, float* out) {
  tile_of<ggml::block_q4_0>(w, w_row_bytes, x, xd, xd_stride, n, rows, c, out);
}

void ggml_dot_tile_q4_1_q8_1__avx2(const std::byte* w, std::size_t w_row_bytes, const std::byte* x, const float* xd,
                                   std::int64_t xd_stride, std::int64_t n, int rows, int c, float* out) {
  tile_of<ggml::block_q4_1>(w, w_row_bytes, x, xd, xd_stride, n, rows, c, out);
}

void ggml_dot_tile_q5_0_q8_0__avx2(const std::byte* w, std::size_t w_row_bytes, const std::byte* x, const float* xd,
                                   std::int64_t xd_stride, std::int64_t n, int rows, int c, float* out) {
  tile_of<ggml::block_q5_0>(w, w_row_bytes, x, xd, xd_stride, n, rows, c, out);
}

void ggml_dot_tile_q8_0_q8_0__avx2(const std::byte* w, std::size_t w_row_bytes, const std::byte* x, const float* xd,
                                   std::int64_t xd_stride, std::int64_t n, int rows, int c, float* out) {
  tile_of<ggml::block_q8_0>(w, w_row_bytes, x, xd, xd_stride, n, rows, c, out);
}

}  // namespace lowbit::kernels
