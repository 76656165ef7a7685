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

// Outputs (row, col) and (row, col + 1) from their exact int32 sums; col is even and n % 8
// == 0, so both columns exist when col < n. Rows past m are skipped.
template <class T>
__device__ __forceinline__ void store_w8a8_pair(T* __restrict__ y, int row, int col, int v0, int v1, int m, int n,
                                                const float* __restrict__ sx, const std::int32_t* __restrict__ zx,
                                                const float* __restrict__ sw, const std::int32_t* __restrict__ wsum) {
  if (row >= m || col >= n) return;
  if (zx) {
    const int z = zx[row];
    v0 -= z * wsum[col];
    v1 -= z * wsum[col + 1];
  }
  const float s = sx[row];
  store2(y + static_cast<std::size_t>(row) * n + col, s * sw[col] * static_cast<float>(v0),
         s * sw[col + 1] * static_cast<float>(v1));
}

}  // namespace lowbit::cuda
