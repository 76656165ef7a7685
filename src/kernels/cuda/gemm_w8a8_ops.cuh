// The pieces both W8A8 kernels share: a zero-filling cp.async for rows past m or n, and
// the epilogue that turns a pair of int32 dot products into outputs,
// y = sx[row] * sw[col] * (acc - zx[row] * wsum[col]), written as two fp16/bf16 values.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>

namespace lowbit::cuda {

__device__ __forceinline__ void cp_async16_zfill(void* smem, const void* gmem, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  // src-size 0 fills the 16 bytes with zeros: rows past m or n contribute nothing.
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(valid ? 16 : 0));
}

template <class T>
__device__ __forceinline__ void store2(T* p, float a, float b);
template <>
__device__ __forceinline__ void store2(__nv_bfloat16* p, float a, float b) {
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(a, b);
}
template <>
__device__ __forceinline__ void store2(__half* p, float a, float b) {
  *reinterpret_cast<__half2*>(p) = __floats2half2_rn(a, b);
}

// Outputs (row, col) and (row, col + 1) from their exact int32 sums, given the row's scale
// s and zero point z and the columns' scales w0, w1 and weight sums ws0, ws1 (z = 0 when the
// activations have no zero point). col is even and n % 8 == 0, so both columns exist when
// col < n. Rows past m are skipped.
template <class T>
__device__ __forceinline__ void store_w8a8_scaled(T* __restrict__ y, int row, int col, int v0, int v1, int m, int n,
                                                  float s, int z, float w0, float w1, int ws0, int ws1) {
  if (row >= m || col >= n) return;
  v0 -= z * ws0;
  v1 -= z * ws1;
  store2(y + static_cast<std::size_t>(row) * n + col, s * w0 * static_cast<float>(v0), s * w1 * static_cast<float>(v1));
}

// The same with every scale read from global memory.
template <class T>
__device__ __forceinline__ void store_w8a8_pair(T* __restrict__ y, int row, int col, int v0, int v1, int m, int n,
                                                const float* __restrict__ sx, const std::int32_t* __restrict__ zx,
                                                const float* __restrict__ sw, const std::int32_t* __restrict__ wsum) {
  if (row >= m || col >= n) return;
  store_w8a8_scaled(y, row, col, v0, v1, m, n, sx[row], zx ? zx[row] : 0, sw[col], sw[col + 1], zx ? wsum[col] : 0,
                    zx ? wsum[col + 1] : 0);
}

}  // namespace lowbit::cuda
