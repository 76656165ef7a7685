// The W8A8 paths on Hopper's warpgroup MMA, fed by cp.async (gemm_w8a8_wgmma__cuda.cu) or
// by the tensor copy engine (gemm_w8a8_tma__cuda.cu), called by gemm_w8a8 once it has
// checked the shape and k % kW8A8WgmmaK == 0.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lowbit/cuda_gemm.h"

namespace lowbit::cuda::detail {

constexpr int kW8A8WgmmaK = 128;  // one 128-byte swizzled row of K per ring stage

// bn: the block's width on N (128 or 256; 0 picks by how many blocks the grid gets).
int gemm_w8a8_wgmma(Half t, const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq,
                    const float* sw, const std::int32_t* wsum, void* y, int m, int n, int k, int bn, cudaStream_t s);
// persistent 1: one block per multiprocessor walking the tiles; 0: one block per tile;
// -1: the first when there are many tiles per multiprocessor.
int gemm_w8a8_tma(Half t, const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq,
                  const float* sw, const std::int32_t* wsum, void* y, int m, int n, int k, int bn, int persistent,
                  int probe, int band, cudaStream_t s);

}  // namespace lowbit::cuda::detail
