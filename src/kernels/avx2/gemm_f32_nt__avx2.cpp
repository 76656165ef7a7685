// AVX2+FMA fp32 matmul y = x * w^T. A 3x4 register tile (3 activation rows against 4
// weight rows, 12 accumulators of 8 lanes) keeps both FMA ports fed from two loads per
// FMA pair; weight rows are walked in blocks sized to stay in L2 while every activation
// row passes over them. Each output's sum order depends on k alone (8 lanes, then a
// fixed fold), never on the tile it lands in, so results do not depend on threads.
#include <immintrin.h>

#include <algorithm>

#include "kernels/avx2/fold8_avx2.h"
#include "kernels/gemm_f32.h"

namespace lowbit::kernels {
namespace {

// Mask for the k % 8 tail: lanes below r load, the rest read as zero.
inline __m256i tail_mask(std::int64_t r) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), idx);
}

template <int MR, int NR>
void tile(const float* x, const float* w, float* y, std::int64_t n, std::int64_t k) {
  __m256 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  const std::int64_t k8 = k & ~std::int64_t{7};
  for (std::int64_t t = 0; t < k8; t += 8) {
    __m256 xv[MR];
    for (int i = 0; i < MR; ++i) xv[i] = _mm256_loadu_ps(x + i * k + t);
    for (int j = 0; j < NR; ++j) {
      const __m256 wv = _mm256_loadu_ps(w + j * k + t);
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
  if (k8 < k) {
    const __m256i mask = tail_mask(k - k8);
    __m256 xv[MR];
    for (int i = 0; i < MR; ++i) xv[i] = _mm256_maskload_ps(x + i * k + k8, mask);
    for (int j = 0; j < NR; ++j) {
      const __m256 wv = _mm256_maskload_ps(w + j * k + k8, mask);
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) y[i * n + j] = fold8(acc[i][j]);
}

template <int MR>
void row_strip(const float* x, const float* w, float* y, std::int64_t n, std::int64_t k, std::int64_t j0,
               std::int64_t j1) {
  std::int64_t j = j0;
  for (; j + 4 <= j1; j += 4) tile<MR, 4>(x, w + j * k, y + j, n, k);
  for (; j < j1; ++j) tile<MR, 1>(x, w + j * k, y + j, n, k);
}

}  // namespace

void gemm_f32_nt__avx2(const float* x, const float* w, float* y, std::int64_t m, std::int64_t n, std::int64_t k,
                       std::int64_t n0, std::int64_t n1) {
  // ~128 KiB of weight rows per block: they stay in L2 while all activation rows pass.
  const std::int64_t nb = std::max<std::int64_t>(4, (32768 / std::max<std::int64_t>(k, 1)) & ~std::int64_t{3});
  for (std::int64_t jb = n0; jb < n1; jb += nb) {
    const std::int64_t je = std::min(n1, jb + nb);
    std::int64_t i = 0;
    for (; i + 3 <= m; i += 3) row_strip<3>(x + i * k, w, y + i * n, n, k, jb, je);
    if (m - i == 2) row_strip<2>(x + i * k, w, y + i * n, n, k, jb, je);
    if (m - i == 1) row_strip<1>(x + i * k, w, y + i * n, n, k, jb, je);
  }
}

}  // namespace lowbit::kernels
