// W4A16 for 16 < m <= 64 rows: the m <= 16 kernel's operand roles (weights as mma's A, 16
// output columns x 16 inputs; activations as B, 8 batch rows) with up to eight batch
// chunks sharing each dequantized weight fragment. A block's warps sit side by side on N
// and walk one K range, the activations staged through a shared-memory ring by cp.async;
// K splits across the blocks of a thread-block cluster, summed in distributed shared memory.
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/cluster_launch.cuh"
#include "kernels/cuda/gemm_w4a16_cluster.h"
#include "kernels/cuda/gemv_w4a16_group.cuh"
#include "lowbit/w4a16.h"

namespace lowbit::cuda::detail {
namespace {

namespace cg = cooperative_groups;
using kernels::kW4A16Group;

constexpr int kStages = 4;
// One batch row of one group in the ring: 256 bytes of inputs and 32 of padding. Lane
// (g, t) reads 16-byte piece 4t + q of row g: pieces 8 apart share banks, so the upper
// half swaps neighbouring pieces and the padding moves row g + 1 two pieces along; the
// eight reads of a quarter-warp then cover all 32 banks (as in gemm_w4a16__cuda.cu).
constexpr int kRowBytes = 256 + 32;
__device__ __forceinline__ int swizzle(int piece) { return piece ^ ((piece >> 3) & 1); }

// A ring slot holds one group: the activation rows, then each warp's NP x 2 weight tiles
// (512 bytes each), their fp16 scales (16 bytes a tile) and zero-point words (4 bytes).
template <int MB>
__host__ __device__ constexpr int act_bytes() {
  return MB * 8 * kRowBytes;
}
template <int NP, int W, int MB>
__host__ __device__ constexpr int slot_bytes() {
  return act_bytes<MB>() + W * NP * 2 * (512 + 16 + 4);
}
template <int NP, int W, int MB>
constexpr int smem_bytes() {
  return std::max(kStages * slot_bytes<NP, W, MB>(), kGemvPartials<NP, MB, W> * 4);
}

// 4 bytes global -> shared (cp.async's .cg form takes only 16).
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem) {
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(d), "l"(gmem));
}

// Lane (g, t) holds column g of both 8-column tiles of each of its NP pairs and inputs
// 32t .. 32t + 31 of a group, and the same inputs of batch row 8b + g of chunk b: mma step
// s takes weight word s / 2 (nibbles at 8 (s % 2) and + 4) and activation words 2s, 2s + 1.
// Weights become (q - z) * s halves once per group and serve all MB chunks. Everything a
// group needs arrives by cp.async kStages - 1 groups ahead, so no register waits on DRAM.
template <class T, int NP, int W, int MB>
__global__ void __launch_bounds__(W * 32) gemm_w4a16_cluster_kernel(const T* __restrict__ x,
                                                                    const uint4* __restrict__ qw,
                                                                    const std::uint16_t* __restrict__ scales,
                                                                    const std::uint32_t* __restrict__ zeros,
                                                                    T* __restrict__ y, int m, int n, int kt) {
  using Ops = HalfOps<T>;
  constexpr int kTiles = NP * 2;  // weight tiles per warp
  constexpr int kSlot = slot_bytes<NP, W, MB>(), kAct = act_bytes<MB>();
  constexpr int kScales = kAct + W * kTiles * 512, kZeros = kScales + W * kTiles * 16;
  extern __shared__ __align__(16) unsigned char smem[];
  cg::cluster_group cluster = cg::this_cluster();
  const int splits = static_cast<int>(cluster.num_blocks()), rank = static_cast<int>(cluster.block_rank());
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int tile0 = (blockIdx.x * W + warp) * kTiles;  // the warp's first 8-column tile
  const int kb_begin = static_cast<int>(static_cast<long long>(rank) * kt / splits);
  const int kb_end = static_cast<int>(static_cast<long long>(rank + 1) * kt / splits);
  const int groups = kb_end - kb_begin;
  const std::size_t k = static_cast<std::size_t>(kt) * kW4A16Group;

  // Rows m .. 8 MB - 1 of every slot are read by the mma but never staged: zero them, so
  // the columns of B they fill (outputs nobody writes) hold numbers.
  constexpr int kPieces = kRowBytes / 16;
  for (int i = threadIdx.x; i < kStages * (MB * 8 - m) * kPieces; i += W * 32) {
    const int per_slot = (MB * 8 - m) * kPieces;
    const int slot = i / per_slot, r = m + (i % per_slot) / kPieces, c = i % kPieces;
    *reinterpret_cast<uint4*>(smem + slot * kSlot + r * kRowBytes + c * 16) = make_uint4(0, 0, 0, 0);
  }
  auto stage = [&](int j) {
    unsigned char* slot = smem + (j % kStages) * kSlot;
    const int kb = kb_begin + j;
    const std::size_t col = static_cast<std::size_t>(kb) * kW4A16Group;
    for (int c = threadIdx.x; c < m * 16; c += W * 32) {
      const int r = c / 16, q = c % 16;
      cp_async16(slot + r * kRowBytes + swizzle(q) * 16, x + static_cast<std::size_t>(r) * k + col + q * 8);
    }
#pragma unroll
    for (int i = 0; i < kTiles; ++i) {
      const std::size_t tile = static_cast<std::size_t>(tile0 + i) * kt + kb;
      cp_async16(slot + kAct + (warp * kTiles + i) * 512 + lane * 16, qw + tile * 32 + lane);
    }
    if (lane < kTiles) {
      const std::size_t tile = static_cast<std::size_t>(tile0 + lane) * kt + kb;
      cp_async16(slot + kScales + (warp * kTiles + lane) * 16, scales + tile * 8);
      if (zeros != nullptr) cp_async4(slot + kZeros + (warp * kTiles + lane) * 4, zeros + tile);
    }
  };
#pragma unroll
  for (int j = 0; j < kStages - 1; ++j) {
    if (j < groups) stage(j);
    asm volatile("cp.async.commit_group;\n" ::);
  }

  float acc[NP][MB][4];
  gemv_zero(acc);

  for (int j = 0; j < groups; ++j) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 2));
    __syncthreads();
    // Every warp is past the slot read last group: refill it.
    if (j + kStages - 1 < groups) stage(j + kStages - 1);
    asm volatile("cp.async.commit_group;\n" ::);
    const unsigned char* slot = smem + (j % kStages) * kSlot;
    uint4 wv[NP][2];
    std::uint32_t ss[NP][2], zz[NP][2];
#pragma unroll
    for (int p = 0; p < NP; ++p)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int i = warp * kTiles + 2 * p + h;
        wv[p][h] = *reinterpret_cast<const uint4*>(slot + kAct + i * 512 + lane * 16);
        ss[p][h] = Ops::pair_from_fp16(*reinterpret_cast<const std::uint16_t*>(slot + kScales + i * 16 + g * 2));
        const std::uint32_t zw = zeros != nullptr ? *reinterpret_cast<const std::uint32_t*>(slot + kZeros + i * 4) : 0x88888888u;
        zz[p][h] = Ops::kMagic | (((zw >> (4 * g)) & 15u) * 0x00010001u);
      }
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      std::uint32_t a[NP][2][4];
#pragma unroll
      for (int p = 0; p < NP; ++p) {
        const std::uint32_t w0 = word_of(wv[p][0], q), w1 = word_of(wv[p][1], q);
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          a[p][e][0] = Ops::dequant(w4_pair<T>(w0, 8 * e), zz[p][0], ss[p][0]);
          a[p][e][1] = Ops::dequant(w4_pair<T>(w1, 8 * e), zz[p][1], ss[p][1]);
          a[p][e][2] = Ops::dequant(w4_pair<T>(w0, 8 * e + 4), zz[p][0], ss[p][0]);
          a[p][e][3] = Ops::dequant(w4_pair<T>(w1, 8 * e + 4), zz[p][1], ss[p][1]);
        }
      }
#pragma unroll
      for (int b = 0; b < MB; ++b) {
        const uint4 xv = *reinterpret_cast<const uint4*>(slot + (8 * b + g) * kRowBytes + swizzle(4 * t + q) * 16);
#pragma unroll
        for (int p = 0; p < NP; ++p) {
          Ops::mma(acc[p][b], a[p][0], xv.x, xv.y);
          Ops::mma(acc[p][b], a[p][1], xv.z, xv.w);
        }
      }
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
  __syncthreads();

  // The cluster's K shares: each block publishes its accumulators in its own shared
  // memory, then sums a 1 / splits slice of them over all blocks in rank order.
  float* part = reinterpret_cast<float*>(smem);
  gemv_store_partials<NP, MB>(part, acc, warp, lane);
  cluster.sync();
  constexpr int kElems = kGemvPartials<NP, MB, W>;
  const int e_end = static_cast<int>(static_cast<long long>(rank + 1) * kElems / splits);
  for (int e = static_cast<int>(static_cast<long long>(rank) * kElems / splits) + threadIdx.x; e < e_end; e += W * 32) {
    float v = 0.f;
    for (int r = 0; r < splits; ++r) v += cluster.map_shared_rank(part, r)[e];
    const int l = e % 32, pc = e / 32, c = pc % 4, b = pc / 4 % MB, wp = pc / (4 * MB);
    const int row = 8 * b + 2 * (l % 4) + (c & 1);
    const int col = (blockIdx.x * W * kTiles + 2 * wp + c / 2) * 8 + l / 4;
    if (row < m) y[static_cast<std::size_t>(row) * n + col] = Ops::from_float(v);
  }
  // No block may leave while another still reads its shared memory.
  cluster.sync();
}

template <class T, int NP, int W, int MB>
int launch(const void* x, const W4A16View& w, void* y, int m, int splits, cudaStream_t s) {
  constexpr int smem = smem_bytes<NP, W, MB>();
  auto* kernel = gemm_w4a16_cluster_kernel<T, NP, W, MB>;
  static bool configured = false;  // per instantiation
  if (!configured) {
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) return static_cast<int>(e);
    configured = true;
  }
  const dim3 grid(static_cast<unsigned>(w.n / (16 * NP * W)), static_cast<unsigned>(splits), 1);
  return static_cast<int>(launch_clusters_along_y(kernel, grid, W * 32, smem, s, static_cast<const T*>(x),
                                                  reinterpret_cast<const uint4*>(w.qweight), w.scales, w.zeros,
                                                  static_cast<T*>(y), m, static_cast<int>(w.n),
                                                  static_cast<int>(w.k / kW4A16Group)));
}

template <class T, int NP, int W>
int pick_chunks(const void* x, const W4A16View& w, void* y, int m, int splits, cudaStream_t s) {
  if (m <= 8) return launch<T, NP, W, 1>(x, w, y, m, splits, s);
  if (m <= 16) return launch<T, NP, W, 2>(x, w, y, m, splits, s);
  if (m <= 32) return launch<T, NP, W, 4>(x, w, y, m, splits, s);
  return launch<T, NP, W, 8>(x, w, y, m, splits, s);
}

template <class T>
int pick_shape(int np, int warps, const void* x, const W4A16View& w, void* y, int m, int splits, cudaStream_t s) {
  if (np == 1) return warps == 8 ? pick_chunks<T, 1, 8>(x, w, y, m, splits, s) : pick_chunks<T, 1, 4>(x, w, y, m, splits, s);
  return warps == 8 ? pick_chunks<T, 2, 8>(x, w, y, m, splits, s) : pick_chunks<T, 2, 4>(x, w, y, m, splits, s);
}

}  // namespace

int gemm_w4a16_cluster(Half t, const void* x, const W4A16View& w, void* y, int m, int np, int warps, int splits,
                       void* stream) {
  if (m < 1 || m > kClusterMaxRows) return kBadShape;
  const int kt = static_cast<int>(w.k / kW4A16Group);
  // The H200 sweep's choices (bench/cuda/w4a16_notes.md): up to 32 rows two tile pairs per
  // warp; beyond, one (half the accumulators: more warps fit an SM) and clusters of at most
  // two; then as many K splits as keep the grid within two blocks per multiprocessor (132
  // on an H100 or H200), a cluster at most 8 (the portable limit) and no block empty.
  const bool wide = m > 32;
  if (np != 1 && np != 2) np = wide ? 1 : 2;
  if (warps != 4 && warps != 8) warps = 4;
  // Narrow weights take narrower blocks rather than failing.
  while (w.n % (16 * np * warps) != 0 && (warps > 4 || np > 1)) {
    if (warps > 4)
      warps = 4;
    else
      np = 1;
  }
  if (w.n % (16 * np * warps) != 0) return kBadShape;
  if (splits < 1 || splits > 8) {
    const std::int64_t cols = w.n / (16 * np * warps);
    const int cap = wide ? 2 : 8;
    splits = 1;
    while (2 * splits <= cap && cols * 2 * splits <= 2 * 132 && 2 * splits <= kt) splits *= 2;
  }
  if (splits > kt) return kBadShape;
  auto* s = static_cast<cudaStream_t>(stream);
  return t == Half::BF16 ? pick_shape<__nv_bfloat16>(np, warps, x, w, y, m, splits, s)
                         : pick_shape<__half>(np, warps, x, w, y, m, splits, s);
}

}  // namespace lowbit::cuda::detail
