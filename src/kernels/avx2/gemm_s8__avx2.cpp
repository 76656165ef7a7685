// AVX2 integer GEMM (kernels/gemm_s8.h), bit-exact with gemm_s8__ref: activations widened
// to int16 once per call, weights sign-extended on load, every product through
// _mm256_madd_epi16 (cannot saturate, unlike maddubs), a 2-row x 4-column register tile,
// and the reference's epilogue in wrapping int32 lanes.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/gemm_s8.h"

namespace lowbit::kernels {
namespace {

// Rows of A as int16, zero-padded to k_pad (so the tile needs no k tail), and their sums.
void widen_rows(const S8Activations& a, std::int64_t k, std::int64_t k_pad, std::int16_t* out, std::int32_t* sums) {
  const std::int64_t stride = a.row_stride ? a.row_stride : k;
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::int64_t i = 0; i < a.m; ++i) {
    const auto* p = static_cast<const unsigned char*>(a.data) + i * stride;
    std::int16_t* o = out + i * k_pad;
    __m256i s = _mm256_setzero_si256();
    std::int64_t t = 0;
    for (; t + 16 <= k; t += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + t));
      const __m256i v16 = a.is_unsigned ? _mm256_cvtepu8_epi16(v) : _mm256_cvtepi8_epi16(v);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + t), v16);
      s = _mm256_add_epi32(s, _mm256_madd_epi16(v16, ones));
    }
    alignas(32) std::int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
    std::int32_t sum = 0;
    for (std::int32_t l : lanes) sum += l;
    for (; t < k; ++t) {
      const std::int16_t v = a.is_unsigned ? std::int16_t{p[t]} : std::int16_t{static_cast<std::int8_t>(p[t])};
      o[t] = v;
      sum += v;
    }
    for (; t < k_pad; ++t) o[t] = 0;
    sums[i] = sum;
  }
}

// Four 8-lane sums -> one int32 each, in column order (integer adds: any order is exact).
inline __m128i reduce4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
  return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

// dot[r][c] = sum_t a[r][t] * W[4p + c][t] over the padded k, for MR rows and one panel.
// int16 x int16 madd, not maddubs (u8 x s8 -> saturating s16 pairs: 255 * 127 * 2 > 32767):
// Zen 3 runs both on the same two ports, so maddubs plus the madd that widens its pairs
// would do no more products per cycle anyway. MR = 2: 3 rows would need 12 accumulators +
// 4 weight vectors + an activation + a product, more than 16 ymm, and GCC spills.
template <int MR>
inline void tile(const std::int16_t* a, std::int64_t k_pad, const std::int8_t* panel, __m128i dot[MR]) {
  __m256i acc[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_si256();
  for (std::int64_t t = 0; t < k_pad; t += kS8KBlock) {
    const std::int8_t* wp = panel + t * kS8PanelCols;  // 64 bytes: 16 codes of each column
    __m256i wv[4];
    for (int c = 0; c < 4; ++c)
      wv[c] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp + c * kS8KBlock)));
    for (int r = 0; r < MR; ++r) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + r * k_pad + t));
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(av, wv[c]));
    }
  }
  for (int r = 0; r < MR; ++r) dot[r] = reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
}

struct Rows {
  const S8Activations* a;
  const std::int32_t* sums;  // sum_t A[i][t]
  std::int32_t* y32;
  float* y;
  std::int64_t n, n0, n1;
};

// Y = dot - za * rowsum'[j] - zw[j] * sum_a, wrapping int32 lanes: the exact Y fits int32,
// so modular arithmetic lands on it (the reference gets there through int64). Then the
// reference's (sa * sw) * float(Y), same two roundings in the same order.
inline void finish(const Rows& rows, const S8Weights& w, std::int64_t i, std::int64_t j, __m128i dot) {
  const S8Activations& a = *rows.a;
  const std::int64_t pi = a.per_token ? i : 0;
  const std::int32_t za = a.zero_points ? a.zero_points[pi] : 0;
  const auto js = static_cast<std::size_t>(j);
  __m128i yy = _mm_sub_epi32(
      dot, _mm_mullo_epi32(_mm_set1_epi32(za),
                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.zero_adjusted_row_sums.data() + js))));
  if (w.has_zero_points)
    yy = _mm_sub_epi32(yy, _mm_mullo_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.zero_points.data() + js)),
                                           _mm_set1_epi32(rows.sums[i])));
  const std::int64_t lo = std::max(j, rows.n0), hi = std::min(j + kS8PanelCols, rows.n1);
  const bool whole = lo == j && hi == j + kS8PanelCols;
  if (rows.y32) {
    std::int32_t* dst = rows.y32 + i * rows.n + j;
    if (whole) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), yy);
    } else {
      alignas(16) std::int32_t tmp[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), yy);
      for (std::int64_t c = lo; c < hi; ++c) dst[c - j] = tmp[c - j];
    }
  }
  if (rows.y) {
    const float sa = a.scales ? a.scales[pi] : 1.0f;
    const __m128 scale = _mm_mul_ps(_mm_set1_ps(sa), _mm_loadu_ps(w.scales.data() + js));
    const __m128 f = _mm_mul_ps(scale, _mm_cvtepi32_ps(yy));
    float* dst = rows.y + i * rows.n + j;
    if (whole) {
      _mm_storeu_ps(dst, f);
    } else {
      alignas(16) float tmp[4];
      _mm_store_ps(tmp, f);
      for (std::int64_t c = lo; c < hi; ++c) dst[c - j] = tmp[c - j];
    }
  }
}

template <int MR>
void row_strip(const Rows& rows, const S8Weights& w, const std::int16_t* a16, std::int64_t i, std::int64_t p0,
               std::int64_t p1) {
  for (std::int64_t p = p0; p < p1; ++p) {
    __m128i dot[MR];
    tile<MR>(a16 + i * w.k_pad, w.k_pad, w.data.data() + p * kS8PanelCols * w.k_pad, dot);
    for (int r = 0; r < MR; ++r) finish(rows, w, i + r, p * kS8PanelCols, dot[r]);
  }
}

}  // namespace

void gemm_s8__avx2(const S8Activations& a, const S8Weights& w, std::int32_t* y32, float* y, std::int64_t n0,
                   std::int64_t n1) {
  const std::int64_t m = a.m, k_pad = w.k_pad;
  if (m <= 0 || n0 >= n1) return;
  std::vector<std::int16_t> a16(static_cast<std::size_t>(m * k_pad));
  std::vector<std::int32_t> sums(static_cast<std::size_t>(m));
  widen_rows(a, w.k, k_pad, a16.data(), sums.data());
  const Rows rows{&a, sums.data(), y32, y, w.n, n0, n1};
  const std::int64_t p_begin = n0 / kS8PanelCols, p_end = (n1 + kS8PanelCols - 1) / kS8PanelCols;
  // ~192 KiB of panels per block: they stay in L2 while every row tile passes over them.
  const std::int64_t pb = std::max<std::int64_t>(1, 196608 / (kS8PanelCols * k_pad));
  for (std::int64_t pb0 = p_begin; pb0 < p_end; pb0 += pb) {
    const std::int64_t pb1 = std::min(p_end, pb0 + pb);
    std::int64_t i = 0;
    for (; i + 2 <= m; i += 2) row_strip<2>(rows, w, a16.data(), i, pb0, pb1);
    if (m - i == 1) row_strip<1>(rows, w, a16.data(), i, pb0, pb1);
  }
}

}  // namespace lowbit::kernels
