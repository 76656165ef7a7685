// W8A8 matmul for Hopper on mma.sync m16n8k32 (int8 x int8 -> int32, then y = sx[m] *
// sw[n] * (acc - zx[m] * wsum[n]) in one epilogue): the path for k % 128 != 0 (or path 1);
// gemm_w8a8 sends the rest to the wgmma kernels. Block tile 128 x 128, K in steps of 64
// through a 4-stage cp.async pipeline; 8 warps of 64 x 32 each. Both operands are
// row-major [rows][k], so each lane reads 16 contiguous bytes per row.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstring>

#include "kernels/cuda/gemm_w8a8_ops.cuh"
#include "kernels/cuda/gemm_w8a8_wgmma.h"
#include "lowbit/cuda_gemm.h"

namespace lowbit::cuda {
namespace {

constexpr int kBM = 128, kBN = 128, kBK = 64, kStages = 4, kThreads = 256;
constexpr int kTileBytes = kBM * kBK;  // A and B tiles are the same size
constexpr int kSmemBytes = 2 * kStages * kTileBytes;

__device__ __forceinline__ void mma_s8(int (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Lane (g, t) of mma's k32 step holds logical inputs 4t..4t+3 and 16+4t..16+4t+3; we give
// it the 8 contiguous bytes 8t..8t+7 instead (the same permutation for A and B), so one
// 16-byte shared-memory read per row feeds two k32 steps.
template <class T>
__global__ void __launch_bounds__(kThreads) gemm_w8a8_kernel(const std::int8_t* __restrict__ xq,
                                                             const float* __restrict__ sx,
                                                             const std::int32_t* __restrict__ zx,
                                                             const std::int8_t* __restrict__ wq,
                                                             const float* __restrict__ sw,
                                                             const std::int32_t* __restrict__ wsum, T* __restrict__ y,
                                                             int m, int n, int k) {
  extern __shared__ __align__(16) std::int8_t smem[];
  std::int8_t* sa = smem;
  std::int8_t* sb = smem + kStages * kTileBytes;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int wm = warp / 4, wn = warp % 4;  // warp tile: rows 64 wm.., columns 32 wn..
  const int bm = blockIdx.y * kBM, bn = blockIdx.x * kBN;
  const int ksteps = k / kBK;

  auto load_stage = [&](int stage, int kb) {
    for (int c = threadIdx.x; c < kBM * kBK / 16; c += kThreads) {
      const int r = c / (kBK / 16), col = (c % (kBK / 16)) * 16;
      const int ra = bm + r, rb = bn + r;
      cp_async16_zfill(sa + stage * kTileBytes + r * kBK + col, xq + static_cast<std::size_t>(ra < m ? ra : 0) * k + kb * kBK + col,
                 ra < m);
      cp_async16_zfill(sb + stage * kTileBytes + r * kBK + col, wq + static_cast<std::size_t>(rb < n ? rb : 0) * k + kb * kBK + col,
                 rb < n);
    }
  };

  int acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ksteps) load_stage(s, s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  for (int kb = 0; kb < ksteps; ++kb) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 2));
    __syncthreads();
    // Refill the stage the slowest warp finished with last iteration.
    if (kb + kStages - 1 < ksteps) load_stage((kb + kStages - 1) % kStages, kb + kStages - 1);
    asm volatile("cp.async.commit_group;\n" ::);
    const std::int8_t* ta = sa + (kb % kStages) * kTileBytes;
    const std::int8_t* tb = sb + (kb % kStages) * kTileBytes;
    uint4 bf[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) bf[j] = *reinterpret_cast<const uint4*>(tb + (wn * 32 + j * 8 + g) * kBK + 16 * t);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint4 lo = *reinterpret_cast<const uint4*>(ta + (wm * 64 + i * 16 + g) * kBK + 16 * t);
      const uint4 hi = *reinterpret_cast<const uint4*>(ta + (wm * 64 + i * 16 + g + 8) * kBK + 16 * t);
      const unsigned a0[4] = {lo.x, hi.x, lo.y, hi.y};
      const unsigned a1[4] = {lo.z, hi.z, lo.w, hi.w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        mma_s8(acc[i][j], a0, bf[j].x, bf[j].y);
        mma_s8(acc[i][j], a1, bf[j].z, bf[j].w);
      }
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::);

#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        store_w8a8_pair(y, bm + wm * 64 + i * 16 + g + 8 * h, bn + wn * 32 + j * 8 + 2 * t, acc[i][j][2 * h],
                        acc[i][j][2 * h + 1], m, n, sx, zx, sw, wsum);
}

template <class T>
int launch(const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq, const float* sw,
           const std::int32_t* wsum, void* y, int m, int n, int k, cudaStream_t s) {
  static bool configured = false;
  if (!configured) {
    const cudaError_t e =
        cudaFuncSetAttribute(gemm_w8a8_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
    if (e != cudaSuccess) return static_cast<int>(e);
    configured = true;
  }
  const dim3 grid((n + kBN - 1) / kBN, (m + kBM - 1) / kBM);
  gemm_w8a8_kernel<T><<<grid, kThreads, kSmemBytes, s>>>(xq, sx, zx, wq, sw, wsum, static_cast<T*>(y), m, n, k);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int gemm_w8a8(Half t, const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq,
              const float* sw, const std::int32_t* wsum, void* y, int m, std::int64_t n, std::int64_t k, void* stream,
              W8A8Tuning tune) {
  if (m < 1 || n <= 0 || k <= 0 || n % 8 != 0 || k % kBK != 0 || n > (1 << 30) || k > kW8A8MaxK || !xq || !sx || !wq ||
      !sw || !y || (zx && !wsum) || tune.path < 0 || tune.path > 4 || tune.probe < 0 || tune.probe > 31 ||
      tune.band < 0 || (tune.bn != 0 && tune.bn != 128 && tune.bn != 256))
    return kBadShape;
  auto* s = static_cast<cudaStream_t>(stream);
  const int ni = static_cast<int>(n), ki = static_cast<int>(k);
  const bool wgmma = tune.path >= 2 || (tune.path == 0 && ki % detail::kW8A8WgmmaK == 0);
  if (wgmma) {
    if (ki % detail::kW8A8WgmmaK != 0) return kBadShape;
    // The TMA-fed kernel by default: faster at every M >= 256 measured, mixed below
    // (bench/cuda/w4a16_notes.md, "W8A8 on wgmma").
    return tune.path == 2 ? detail::gemm_w8a8_wgmma(t, xq, sx, zx, wq, sw, wsum, y, m, ni, ki, tune.bn, s)
                          : detail::gemm_w8a8_tma(t, xq, sx, zx, wq, sw, wsum, y, m, ni, ki, tune.bn,
                                                  tune.path == 4 ? 1 : tune.path == 3 ? 0 : -1, tune.probe,
                                                  tune.band, s);
  }
  return t == Half::BF16 ? launch<__nv_bfloat16>(xq, sx, zx, wq, sw, wsum, y, m, ni, ki, s)
                         : launch<__half>(xq, sx, zx, wq, sw, wsum, y, m, ni, ki, s);
}

}  // namespace lowbit::cuda
