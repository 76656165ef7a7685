// W8A8 matmul on wgmma fed by the tensor copy engine (TMA, cp.async.bulk.tensor): the
// contract of gemm_w8a8 for k % 128 == 0, as the cp.async wgmma kernel, but warp-
// specialized. One warpgroup only issues copies (one thread, two TMA per stage, 40
// registers); two consumer warpgroups of 64 rows wait on a stage's mbarrier, multiply, and
// release it on another, so no block-wide barrier and no per-thread copy issue sits
// between one stage's MMAs and the next. Persistent schedules walk tiles, a block per
// multiprocessor, the producer filling the next tile's stages while the last is written,
// which goes out through shared memory in whole 128-byte lines.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/gemm_w8a8_ops.cuh"
#include "kernels/cuda/gemm_w8a8_wgmma.h"
#include "kernels/cuda/multiprocessors.cuh"
#include "kernels/cuda/tma.cuh"
#include "kernels/cuda/wgmma_s8.cuh"

namespace lowbit::cuda::detail {
namespace {

constexpr int kBM = 128, kBK = kW8A8WgmmaK, kThreads = 384;
constexpr int kRingBytes = 220 * 1024;

template <int BN>
struct TmaRing {
  static constexpr int kABytes = kBM * kBK, kStageBytes = (kBM + BN) * kBK;
  static constexpr int kStages = kRingBytes / kStageBytes;
  // Per consumer warpgroup and tile parity, the tile's column scales and weight sums
  // (BN floats, BN ints).
  static constexpr int kColBytes = 2 * 2 * BN * 8;
  // The ring, the two consumers' output staging, the full and empty mbarriers (8 bytes
  // each), the column operands, and slack to align the ring's swizzle atoms to 1024 bytes.
  static constexpr int kOut = kStages * kStageBytes;
  static constexpr int kSmemBytes = kOut + 2 * kOutStageBytes + 2 * kStages * 8 + kColBytes + 1024;
};

template <class T, int BN>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_w8a8_tma_kernel(const __grid_constant__ CUtensorMap map_x, const __grid_constant__ CUtensorMap map_w,
                         const float* __restrict__ sx, const std::int32_t* __restrict__ zx,
                         const float* __restrict__ sw, const std::int32_t* __restrict__ wsum, T* __restrict__ y, int m,
                         int n, int k, int probe, int band) {
  using R = TmaRing<BN>;
  extern __shared__ __align__(16) std::int8_t smem_raw[];
  const std::uint32_t raw = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem_raw));
  const std::uint32_t ring = (raw + 1023) & ~1023u;
  const std::uint32_t full = ring + R::kOut + 2 * kOutStageBytes, empty = full + 8 * R::kStages;
  float* const col_ops = reinterpret_cast<float*>(smem_raw + (empty + 8 * R::kStages - raw));
  const int wg = threadIdx.x / 128;
  const int tiles = ((m + kBM - 1) / kBM) * ((n + BN - 1) / BN), ktiles = k / kBK;

  if (threadIdx.x == 0) {
    for (int s = 0; s < R::kStages; ++s) {
      mbar_init(full + 8 * s, 1);   // the producer's arrive, plus the copies' bytes
      mbar_init(empty + 8 * s, 2);  // one arrive per consumer warpgroup
    }
  }
  __syncthreads();

  // The block's tiles are blockIdx.x + seq * gridDim.x; both roles count the ring stages
  // they pass (it) across tiles, so the ring and its barrier phases run on from one tile
  // into the next.
  if (wg == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) {
      int it = 0;
      for (int tile = static_cast<int>(blockIdx.x); tile < tiles; tile += static_cast<int>(gridDim.x)) {
        int bm, bn;
        banded_tile<kBM, BN>(tile, m, n, bm, bn, band);
        for (int kt = 0; kt < ktiles; ++kt, ++it) {
          const int s = it % R::kStages;
          // The stage's previous use (it - kStages) must have been released by its readers.
          if (it >= R::kStages) mbar_wait(empty + 8 * s, ((it / R::kStages) & 1) ^ 1);
          if ((probe & 1) && it >= R::kStages) {
            mbar_arrive(full + 8 * s);
            continue;
          }
          mbar_expect_tx(full + 8 * s, R::kStageBytes);
          const std::uint32_t a = ring + s * R::kStageBytes;
          const int kc = (probe & 2) ? 0 : kt * kBK;
          tma_load(a, &map_x, kc, bm, full + 8 * s);
          tma_load(a + R::kABytes, &map_w, kc, bn, full + 8 * s);
        }
      }
    }
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int c = wg - 1, tid = threadIdx.x % 128;
    const auto release = [&](int s) {
      if (tid == 0) mbar_arrive(empty + 8 * s);
    };
    int it = 0, parity = 0;
    for (int tile = static_cast<int>(blockIdx.x); tile < tiles; tile += static_cast<int>(gridDim.x), parity ^= 1) {
      int bm, bn;
      banded_tile<kBM, BN>(tile, m, n, bm, bn, band);
      // The epilogue's scales are requested now and wait in registers through the K loop:
      // read at the end, their global-memory latency was a fifth of the consumers' time
      // (ncu at M = 4096).
      const RowScales rs = row_scales(sx, zx, bm + c * 64, m);
      float swv[BN / 128];
      int wsv[BN / 128];
#pragma unroll
      for (int i = 0; i < BN / 128; ++i) {
        const int col = bn + tid + 128 * i;
        swv[i] = col < n ? sw[col] : 0.f;
        wsv[i] = zx != nullptr && col < n ? wsum[col] : 0;
      }
      int acc[BN / 2];
#pragma unroll
      for (int i = 0; i < BN / 2; ++i) acc[i] = 0;
      for (int kt = 0; kt < ktiles; ++kt, ++it) {
        const int s = it % R::kStages;
        mbar_wait(full + 8 * s, (it / R::kStages) & 1);
        if (probe & 4) {
          if (kt > 0) release((it - 1) % R::kStages);
          continue;
        }
        const std::uint32_t a = ring + s * R::kStageBytes + c * 64 * kBK, b = ring + s * R::kStageBytes + R::kABytes;
        fence_acc(acc);
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
        for (int ks = 0; ks < kBK / 32; ++ks) wgmma_s8<BN>(acc, smem_desc(a + 32 * ks), smem_desc(b + 32 * ks));
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        // The group of stage it - 1 has retired: that stage goes back to the producer.
        asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
        fence_acc(acc);
        if (kt > 0) release((it - 1) % R::kStages);
      }
      asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
      fence_acc(acc);
      // The tile's last stage is free before the epilogue, so the producer runs ahead into
      // the next tile while this one is written.
      release((it - 1) % R::kStages);
      // The column operands go to this warpgroup's shared memory for the fragment's
      // scattered reads; alternate tiles use alternate copies, so one barrier suffices (a
      // thread writing tile i + 1's copy has passed tile i's barrier, which no thread
      // passes before finishing tile i - 1's epilogue).
      float* const sw_t = col_ops + (2 * parity + c) * 2 * BN;
      std::int32_t* const wsum_t = reinterpret_cast<std::int32_t*>(sw_t + BN);
#pragma unroll
      for (int i = 0; i < BN / 128; ++i) sw_t[tid + 128 * i] = swv[i], wsum_t[tid + 128 * i] = wsv[i];
      const std::uint32_t stage = ring + R::kOut + c * kOutStageBytes;
      asm volatile("bar.sync %0, 128;\n" ::"r"(1 + c) : "memory");
      if (probe & 16) {
        store_wgmma_acc<T, BN>(y, acc, bm + c * 64, bn, m, n, rs, sw_t, zx ? wsum_t : nullptr);
      } else if (!(probe & 8)) {
        store_wgmma_acc_staged<T, BN>(y, acc, bm + c * 64, bn, m, n, rs, sw_t, zx ? wsum_t : nullptr,
                                      reinterpret_cast<std::uint8_t*>(smem_raw) + (stage - raw), 1 + c);
      }
    }
  }
}

// rows x k int8, row-major, read in boxes of box_rows x 128 bytes landing 128-byte swizzled.
const CUtensorMap* int8_rows_map(const std::int8_t* p, int rows, int k, int box_rows) {
  return cached_tensor_map(TmaKey{p, rows, k, box_rows, 0}, [&](CUtensorMap* map) {
    const EncodeTiled fn = encode_tiled();
    if (!fn) return CUDA_ERROR_NOT_SUPPORTED;
    const cuuint64_t dims[2] = {static_cast<cuuint64_t>(k), static_cast<cuuint64_t>(rows)};
    const cuuint64_t strides[1] = {static_cast<cuuint64_t>(k)};
    const cuuint32_t box[2] = {static_cast<cuuint32_t>(kBK), static_cast<cuuint32_t>(box_rows)};
    const cuuint32_t elem[2] = {1, 1};
    return fn(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<std::int8_t*>(p), dims, strides, box, elem,
              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  });
}

template <class T, int BN>
int launch(const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq, const float* sw,
           const std::int32_t* wsum, void* y, int m, int n, int k, bool persistent, int probe, int band,
           cudaStream_t s) {
  constexpr int smem = TmaRing<BN>::kSmemBytes;
  static const cudaError_t configured =
      cudaFuncSetAttribute(gemm_w8a8_tma_kernel<T, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (configured != cudaSuccess) return static_cast<int>(configured);
  // Each map is copied out as soon as it is found: the next lookup may encode into the
  // cache entry it came from.
  CUtensorMap maps[2];
  const CUtensorMap* map_x = int8_rows_map(xq, m, k, kBM);
  if (!map_x) return static_cast<int>(cudaErrorNotSupported);
  maps[0] = *map_x;
  const CUtensorMap* map_w = int8_rows_map(wq, n, k, BN);
  if (!map_w) return static_cast<int>(cudaErrorNotSupported);
  maps[1] = *map_w;
  const int tiles = ((n + BN - 1) / BN) * ((m + kBM - 1) / kBM);
  const unsigned grid = static_cast<unsigned>(persistent ? std::min(tiles, multiprocessors()) : tiles);
  // The staged epilogue's 16-byte stores need a 16-byte aligned y.
  if (reinterpret_cast<std::uintptr_t>(y) % 16 != 0) probe |= 16;
  gemm_w8a8_tma_kernel<T, BN>
      <<<grid, kThreads, smem, s>>>(maps[0], maps[1], sx, zx, sw, wsum, static_cast<T*>(y), m, n, k, probe, band);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int gemm_w8a8_tma(Half t, const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq,
                  const float* sw, const std::int32_t* wsum, void* y, int m, int n, int k, int bn, int persistent,
                  int probe, int band, cudaStream_t s) {
  return with_type_and_bn(t, bn, m, n, [&](auto type, auto width) {
    constexpr int kBN = decltype(width)::value;
    // Persistent blocks save each later tile's launch and prologue (the producer fills its
    // stages during the last tile's epilogue): 2-4 % at M = 4096 (about 8 tiles per
    // multiprocessor) on the H200, within noise at 4, so the default takes it from 6 on.
    const long long tiles = static_cast<long long>((n + kBN - 1) / kBN) * ((m + kBM - 1) / kBM);
    const bool walk = persistent > 0 || (persistent < 0 && tiles >= 6LL * multiprocessors());
    // Bands of 2 row tiles for the wide block: 6-14 % faster than 8 at M = 4096 on all three
    // shapes in two runs, within +-5 % in a third and at M = 1024 (H200, gemm_device.sh
    // w8a8-probe); the narrow block showed no such gain and keeps 8.
    if (band <= 0) band = kBN == 256 ? 2 : 8;
    return launch<decltype(type), kBN>(xq, sx, zx, wq, sw, wsum, y, m, n, k, walk, probe, band, s);
  });
}

}  // namespace lowbit::cuda::detail
