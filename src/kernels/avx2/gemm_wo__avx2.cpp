// AVX2 weight-only GEMM (kernels/gemm_wo.h): bit for bit gemm_f32_nt__avx2 on the
// reference's dequantized weights, by two paths: m <= 3 (decode) dequantizes in registers
// for 1-3 rows; m >= 4 dequantizes a block of columns once into an L2-sized scratch that
// gemm_f32_nt__avx2's 3x4 tile then runs over all rows.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/avx2/fold8_avx2.h"
#include "kernels/gemm_f32.h"
#include "kernels/gemm_wo.h"

namespace lowbit::kernels {
namespace {

// s * float(q - z): q - z is an exact small integer, so this is wo_weight_at's one rounding.
inline __m256 dequant(__m256i q, __m256i z, __m256 s) {
  return _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_sub_epi32(q, z)));
}

inline __m256i widen8(const std::uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// 4-bit codes t0..t0+15 from their 8 bytes: low nibbles are t0..t0+7, high t0+8..t0+15.
inline void widen16_u4(const std::uint8_t* p, __m256i& lo, __m256i& hi) {
  const __m256i v = widen8(p);
  lo = _mm256_and_si256(v, _mm256_set1_epi32(15));
  hi = _mm256_srli_epi32(v, 4);
}

// Row j's weights, k floats, into out.
void dequant_row(const WoWeights& w, std::int64_t j, float* out) {
  const std::int64_t groups = w.k / w.group;
  const std::uint8_t* codes = w.codes.data() + j * (w.k * w.bits / 8);
  for (std::int64_t g = 0; g < groups; ++g) {
    const auto pg = static_cast<std::size_t>(j * groups + g);
    const __m256i z = _mm256_set1_epi32(w.zeros[pg]);
    const __m256 s = _mm256_set1_ps(w.scales[pg]);
    const std::int64_t t1 = (g + 1) * w.group;
    if (w.bits == 8) {
      for (std::int64_t t = g * w.group; t < t1; t += 8) _mm256_storeu_ps(out + t, dequant(widen8(codes + t), z, s));
    } else {
      for (std::int64_t t = g * w.group; t < t1; t += 16) {
        __m256i lo, hi;
        widen16_u4(codes + t / 2, lo, hi);
        _mm256_storeu_ps(out + t, dequant(lo, z, s));
        _mm256_storeu_ps(out + t + 8, dequant(hi, z, s));
      }
    }
  }
}

// MR rows x NR columns from j, weights dequantized in registers (each used by MR fmas).
// Per output: 8 lanes of fma stepping by 8 in k order from zero, then fold8, which is how
// gemm_f32_nt__avx2's tile sums (k % 8 == 0 here, so it never takes its masked tail).
template <int MR, int NR, int BITS>
void tile_inline(const float* x, const WoWeights& w, float* y, std::int64_t n, std::int64_t j) {
  const std::int64_t k = w.k, groups = k / w.group, row_bytes = k * BITS / 8;
  const std::uint8_t* codes = w.codes.data() + j * row_bytes;
  __m256 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm256_setzero_ps();
  for (std::int64_t g = 0; g < groups; ++g) {
    __m256i z[NR];
    __m256 s[NR];
    for (int c = 0; c < NR; ++c) {
      const auto pg = static_cast<std::size_t>((j + c) * groups + g);
      z[c] = _mm256_set1_epi32(w.zeros[pg]);
      s[c] = _mm256_set1_ps(w.scales[pg]);
    }
    const std::int64_t t1 = (g + 1) * w.group;
    if constexpr (BITS == 8) {
      for (std::int64_t t = g * w.group; t < t1; t += 8)
        for (int c = 0; c < NR; ++c) {
          const __m256 wv = dequant(widen8(codes + c * row_bytes + t), z[c], s[c]);
          for (int r = 0; r < MR; ++r) acc[r][c] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * k + t), wv, acc[r][c]);
        }
    } else {
      for (std::int64_t t = g * w.group; t < t1; t += 16)
        for (int c = 0; c < NR; ++c) {
          __m256i lo, hi;
          widen16_u4(codes + c * row_bytes + t / 2, lo, hi);
          const __m256 w0 = dequant(lo, z[c], s[c]), w1 = dequant(hi, z[c], s[c]);
          for (int r = 0; r < MR; ++r) {
            acc[r][c] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * k + t), w0, acc[r][c]);
            acc[r][c] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * k + t + 8), w1, acc[r][c]);
          }
        }
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) y[r * n + j + c] = fold8(acc[r][c]);
}

template <int MR, int BITS>
void strip_inline(const float* x, const WoWeights& w, float* y, std::int64_t n0, std::int64_t n1) {
  std::int64_t j = n0;
  for (; j + 4 <= n1; j += 4) tile_inline<MR, 4, BITS>(x, w, y, w.n, j);
  for (; j < n1; ++j) tile_inline<MR, 1, BITS>(x, w, y, w.n, j);
}

template <int BITS>
void rows_inline(const float* x, const WoWeights& w, float* y, std::int64_t m, std::int64_t n0, std::int64_t n1) {
  if (m == 3) strip_inline<3, BITS>(x, w, y, n0, n1);
  if (m == 2) strip_inline<2, BITS>(x, w, y, n0, n1);
  if (m == 1) strip_inline<1, BITS>(x, w, y, n0, n1);
}

}  // namespace

void gemm_wo__avx2(const float* x, const WoWeights& w, float* y, std::int64_t m, std::int64_t n0, std::int64_t n1) {
  if (m <= 0 || n0 >= n1) return;
  if (m <= 3) {
    if (w.bits == 8) rows_inline<8>(x, w, y, m, n0, n1);
    else rows_inline<4>(x, w, y, m, n0, n1);
    return;
  }
  const std::int64_t k = w.k;
  // ~128 KiB of dequantized rows (a multiple of the 3x4 tile's 4 columns) stay in L2
  // while every activation row passes over them.
  const std::int64_t nb = std::max<std::int64_t>(4, (32768 / k) & ~std::int64_t{3});
  std::vector<float> scratch(static_cast<std::size_t>(nb * k));
  for (std::int64_t jb = n0; jb < n1; jb += nb) {
    const std::int64_t cols = std::min(nb, n1 - jb);
    for (std::int64_t c = 0; c < cols; ++c) dequant_row(w, jb + c, scratch.data() + c * k);
    // Columns [0, cols) of the scratch land at y + jb; w.n is y's row stride.
    gemm_f32_nt__avx2(x, scratch.data(), y + jb, m, w.n, k, 0, cols);
  }
}

}  // namespace lowbit::kernels
