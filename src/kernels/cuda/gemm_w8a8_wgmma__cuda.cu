// W8A8 matmul on Hopper's warpgroup MMA (wgmma.m64nNk32.s32.s8.s8, sm_90a): the contract
// of gemm_w8a8 (exact int32 sums, per-token/per-channel scales and per-token zero points
// applied in the epilogue) for k % 128 == 0. A block computes 128 x BN outputs (BN 128 or
// 256) with two warpgroups of 64 rows; both operands stream through a cp.async ring
// in the swizzled K-major layout wgmma reads, and one wgmma group stays in flight while
// the next stage is waited for.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/gemm_w8a8_ops.cuh"
#include "kernels/cuda/gemm_w8a8_wgmma.h"
#include "kernels/cuda/wgmma_s8.cuh"

namespace lowbit::cuda::detail {
namespace {

constexpr int kBM = 128, kBK = kW8A8WgmmaK, kThreads = 256;
constexpr int kRingBytes = 220 * 1024;  // the stages share at most this much shared memory

// A stage holds 128 bytes of K (one 128-byte swizzled row) for the block's 128 activation
// and BN weight rows. (Measured and not kept, bench/cuda/w4a16_notes.md: 64-byte stages,
// twice as many for the same bytes, were slower, the per-stage barrier then costing twice
// as often; retiring each stage's MMAs before the next barrier, which frees one more
// stage for copies, changed nothing.)
template <int BN>
struct Ring {
  static constexpr int kStageBytes = (kBM + BN) * kBK;
  static constexpr int kStages = kRingBytes / kStageBytes;
  // Tiles stay resident until the wgmma group two iterations back has finished, so a
  // stage is refilled with the tile kStages - 2 ahead of the one being multiplied.
  static constexpr int kAhead = kStages - 2;
  static constexpr int kSmemBytes = kStages * kStageBytes + 1024;  // + slack to align the swizzle atoms
};

template <class T, int BN>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_w8a8_wgmma_kernel(const std::int8_t* __restrict__ xq, const float* __restrict__ sx,
                           const std::int32_t* __restrict__ zx, const std::int8_t* __restrict__ wq,
                           const float* __restrict__ sw, const std::int32_t* __restrict__ wsum, T* __restrict__ y, int m,
                           int n, int k) {
  extern __shared__ __align__(16) std::int8_t smem_raw[];
  std::int8_t* smem = smem_raw + ((1024 - (static_cast<unsigned>(__cvta_generic_to_shared(smem_raw)) & 1023)) & 1023);
  const int tid = threadIdx.x, wg = tid / 128;
  int bm, bn;
  banded_tile<kBM, BN>(static_cast<int>(blockIdx.x), m, n, bm, bn);
  using R = Ring<BN>;
  const int ktiles = k / kBK;

  // One tile: A rows (activations) then B rows (weights), 8 chunks of 16 bytes per
  // 128-byte row, chunk c of row r stored at chunk c ^ (r % 8) (the 128-byte swizzle).
  auto load_tile = [&](int stage, int kt) {
    std::int8_t* base = smem + stage * R::kStageBytes;
#pragma unroll
    for (int i = 0; i < (kBM + BN) * 8 / kThreads; ++i) {
      const int c = tid + i * kThreads, r = c / 8, ch = c % 8;
      const bool is_a = r < kBM;
      const int row = is_a ? bm + r : bn + (r - kBM);
      const bool valid = row < (is_a ? m : n);
      const std::int8_t* src = (is_a ? xq : wq) + static_cast<std::size_t>(valid ? row : 0) * k + kt * kBK + ch * 16;
      cp_async16_zfill(base + r * kBK + ((ch ^ (r & 7)) << 4), src, valid);
    }
  };

  int acc[BN / 2];
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0;

#pragma unroll
  for (int s = 0; s < R::kAhead; ++s) {
    if (s < ktiles) load_tile(s, s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  const std::uint32_t smem_base = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem));
  for (int kt = 0; kt < ktiles; ++kt) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(R::kAhead - 1));
    // cp.async wrote through the generic proxy; wgmma reads through the async one.
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
    // The MMAs go first, so the tensor cores get this tile while the copies are issued.
    const std::uint32_t a = smem_base + (kt % R::kStages) * R::kStageBytes + wg * 64 * kBK;
    const std::uint32_t b = smem_base + (kt % R::kStages) * R::kStageBytes + kBM * kBK;
    fence_acc(acc);
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
    for (int ks = 0; ks < kBK / 32; ++ks) wgmma_s8<BN>(acc, smem_desc(a + 32 * ks), smem_desc(b + 32 * ks));
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    // Before the barrier above every warpgroup retired the group of iteration kt - 2 in the
    // wait below, so that tile's stage takes tile kt + kAhead.
    if (kt + R::kAhead < ktiles) load_tile((kt + R::kAhead) % R::kStages, kt + R::kAhead);
    asm volatile("cp.async.commit_group;\n" ::);
    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
    fence_acc(acc);
  }
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  fence_acc(acc);
  asm volatile("cp.async.wait_group 0;\n" ::);

  store_wgmma_acc<T, BN>(y, acc, bm + wg * 64, bn, m, n, row_scales(sx, zx, bm + wg * 64, m), sw + bn,
                         zx ? wsum + bn : nullptr);
}

template <class T, int BN>
int launch(const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq, const float* sw,
           const std::int32_t* wsum, void* y, int m, int n, int k, cudaStream_t s) {
  constexpr int smem = Ring<BN>::kSmemBytes;
  static const cudaError_t configured =
      cudaFuncSetAttribute(gemm_w8a8_wgmma_kernel<T, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (configured != cudaSuccess) return static_cast<int>(configured);
  const unsigned grid = static_cast<unsigned>((n + BN - 1) / BN) * static_cast<unsigned>((m + kBM - 1) / kBM);
  gemm_w8a8_wgmma_kernel<T, BN><<<grid, kThreads, smem, s>>>(xq, sx, zx, wq, sw, wsum, static_cast<T*>(y), m, n, k);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int gemm_w8a8_wgmma(Half t, const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq,
                    const float* sw, const std::int32_t* wsum, void* y, int m, int n, int k, int bn, cudaStream_t s) {
  return with_type_and_bn(t, bn, m, n, [&](auto type, auto width) {
    return launch<decltype(type), decltype(width)::value>(xq, sx, zx, wq, sw, wsum, y, m, n, k, s);
  });
}

}  // namespace lowbit::cuda::detail
