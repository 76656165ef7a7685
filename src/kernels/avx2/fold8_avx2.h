// The fp32 GEMM's horizontal sum of eight lanes ((lo + hi), then pairs, then the last
// two), shared so kernels that promise bit-identity with gemm_f32_nt__avx2 fold the same
// way. Include only from files compiled with -mavx2 (src/kernels/avx2/).
#pragma once
#include <immintrin.h>

namespace lowbit::kernels {

inline float fold8(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

}  // namespace lowbit::kernels
