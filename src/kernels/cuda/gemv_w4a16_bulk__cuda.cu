// W4A16 for m <= 16 fed by the bulk copy engine (cp.async.bulk, sm_90): one producer warp
// streams stages of G groups (each tile's G groups are contiguous in the tile layout, so a
// stage is a handful of copies) into a shared-memory ring, completing on mbarriers; G
// consumer warps take one group each per stage. Bytes in flight are bounded by shared memory.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/gemv_w4a16.h"
#include "kernels/cuda/gemv_w4a16_group.cuh"
#include "lowbit/w4a16.h"

namespace lowbit::cuda::detail {
namespace {

using kernels::kW4A16Group;

__device__ __forceinline__ unsigned smem_u32(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbar_init(std::uint64_t* bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count) : "memory");
}

// Arrives and raises the phase's expected transaction bytes in one step, so the phase
// cannot complete before copies issued afterwards land.
__device__ __forceinline__ void mbar_arrive_expect_tx(std::uint64_t* bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(bytes) : "memory");
}

__device__ __forceinline__ void mbar_arrive(std::uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_u32(bar)) : "memory");
}

__device__ __forceinline__ void mbar_wait(std::uint64_t* bar, unsigned parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n"
      "}\n" ::"r"(smem_u32(bar)),
      "r"(parity)
      : "memory");
}

// bytes (a multiple of 16, both addresses 16-byte aligned) global -> shared, counted on bar.
__device__ __forceinline__ void bulk_copy(void* dst, const void* src, unsigned bytes, std::uint64_t* bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
                   smem_u32(dst)),
               "l"(src), "r"(bytes), "r"(smem_u32(bar))
               : "memory");
}

// A stage in shared memory: for each of the 2 NP tiles its G groups' codes (512 bytes a
// group), scales (16) and zero words (4, asymmetric only), then m activation rows of G
// groups (256 bytes a group) 16 bytes apart from the next row's start bank.
template <int NP, int G, bool ASYM>
struct StageLayout {
  static constexpr int kTiles = 2 * NP, kCodes = kTiles * G * 512, kScales = kTiles * G * 16;
  static constexpr int kZeros = ASYM ? kTiles * G * 4 : 0, kXPitch = G * 256 + 16;
  static constexpr int kXOffset = kCodes + kScales + kZeros;
  __host__ __device__ static constexpr int bytes(int m) { return kXOffset + m * kXPitch; }
};

constexpr int kBarrierBytes = 256;  // full[S] and empty[S] mbarriers, S <= 16

template <class T, int NP, int G, int MB, bool ASYM>
__global__ void __launch_bounds__((G + 1) * 32) gemv_w4a16_bulk_kernel(const T* __restrict__ x,
                                                                       const unsigned char* __restrict__ qw,
                                                                       const std::uint16_t* __restrict__ scales,
                                                                       const std::uint32_t* __restrict__ zeros,
                                                                       T* __restrict__ y, int m, int n, int kt,
                                                                       int stages) {
  using L = StageLayout<NP, G, ASYM>;
  extern __shared__ __align__(128) unsigned char smem[];
  auto* full = reinterpret_cast<std::uint64_t*>(smem);
  std::uint64_t* empty = full + stages;
  unsigned char* ring = smem + kBarrierBytes;
  const int stage_bytes = L::bytes(m);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int nb0 = blockIdx.x * L::kTiles;
  const std::size_t k = static_cast<std::size_t>(kt) * kW4A16Group;
  const int nst = (kt + G - 1) / G;
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) {
      mbar_init(full + s, 1);
      mbar_init(empty + s, G);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  float acc[NP][MB][4];
  gemv_zero(acc);

  if (warp == G) {
    // Producer: stage j holds groups jG .. jG + ng - 1 of every tile of the block.
    const int copies = L::kTiles * (ASYM ? 3 : 2) + m;
    for (int j = 0; j < nst; ++j) {
      const int s = j % stages, kb = j * G, ng = min(G, kt - kb);
      if (j >= stages) mbar_wait(empty + s, ((j / stages) - 1) & 1);
      unsigned char* st = ring + s * stage_bytes;
      if (lane == 0)
        mbar_arrive_expect_tx(full + s, static_cast<unsigned>(ng * (L::kTiles * (512 + 16 + (ASYM ? 4 : 0)) + m * 256)));
      __syncwarp();
      for (int c = lane; c < copies; c += 32) {
        if (c < L::kTiles) {
          const std::size_t tile = static_cast<std::size_t>(nb0 + c) * kt + kb;
          bulk_copy(st + c * G * 512, qw + tile * 512, ng * 512, full + s);
        } else if (c < 2 * L::kTiles) {
          const int h = c - L::kTiles;
          const std::size_t tile = static_cast<std::size_t>(nb0 + h) * kt + kb;
          bulk_copy(st + L::kCodes + h * G * 16, scales + tile * 8, ng * 16, full + s);
        } else if (ASYM && c < 3 * L::kTiles) {
          const int h = c - 2 * L::kTiles;
          const std::size_t tile = static_cast<std::size_t>(nb0 + h) * kt + kb;
          bulk_copy(st + L::kCodes + L::kScales + h * G * 4, zeros + tile, ng * 4, full + s);
        } else {
          const int r = c - L::kTiles * (ASYM ? 3 : 2);
          bulk_copy(st + L::kXOffset + r * L::kXPitch, x + r * k + static_cast<std::size_t>(kb) * kW4A16Group,
                    ng * 256, full + s);
        }
      }
    }
  } else {
    // Consumer warp `warp`: group `warp` of each stage, copied to registers, the slot
    // released, then computed while the producer refills it.
    for (int j = 0; j < nst; ++j) {
      const int s = j % stages, ng = min(G, kt - j * G);
      mbar_wait(full + s, (j / stages) & 1);
      const unsigned char* st = ring + s * stage_bytes;
      const bool have = warp < ng;
      uint4 wv[NP][2], xv[MB][4];
      std::uint16_t sc[NP][2];
      std::uint32_t zw[NP][2];
      if (have) {
#pragma unroll
        for (int p = 0; p < NP; ++p)
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int tile = 2 * p + h;
            wv[p][h] = reinterpret_cast<const uint4*>(st + (tile * G + warp) * 512)[lane];
            sc[p][h] = reinterpret_cast<const std::uint16_t*>(st + L::kCodes + (tile * G + warp) * 16)[g];
            zw[p][h] = ASYM ? reinterpret_cast<const std::uint32_t*>(st + L::kCodes + L::kScales)[tile * G + warp]
                            : 0x88888888u;
          }
#pragma unroll
        for (int b = 0; b < MB; ++b) {
          const int r = 8 * b + g;
          const uint4* xr = reinterpret_cast<const uint4*>(st + L::kXOffset + r * L::kXPitch + warp * 256 + 64 * t);
#pragma unroll
          for (int q = 0; q < 4; ++q) xv[b][q] = r < m ? xr[q] : make_uint4(0, 0, 0, 0);
        }
      }
      __syncwarp();
      if (lane == 0) mbar_arrive(empty + s);
      if (have) gemv_w4a16_group<T, NP, MB>(acc, wv, sc, zw, xv, g);
    }
  }

  // Every stage was waited for by the consumers, so the ring is free for the partial sums.
  __syncthreads();
  auto* red = reinterpret_cast<float*>(ring);
  if (warp < G) gemv_store_partials<NP, MB>(red, acc, warp, lane);
  __syncthreads();
  gemv_sum_partials<T, NP, MB, G>(red, threadIdx.x, (G + 1) * 32, y, m, n, nb0);
}

// Shared memory per block: two blocks share an SM's 227 KB.
constexpr int kBulkBudget = 113 * 1024;

template <class T, int NP, int G, int MB, bool ASYM>
int launch(const void* x, const W4A16View& w, void* y, int m, int stages, cudaStream_t s) {
  using L = StageLayout<NP, G, ASYM>;
  const int kt = static_cast<int>(w.k / kW4A16Group);
  // Default ring: as many stages as fit the budget, at most one per stage of the block's K.
  if (stages <= 0) stages = std::min((kBulkBudget - kBarrierBytes) / L::bytes(m), (kt + G - 1) / G);
  stages = std::min(stages, 16);
  const int smem = kBarrierBytes + std::max(stages * L::bytes(m), kGemvPartials<NP, MB, G> * 4);
  if (stages < 1 || smem > 227 * 1024) return kBadShape;
  auto kernel = gemv_w4a16_bulk_kernel<T, NP, G, MB, ASYM>;
  static int configured = 0;  // per instantiation: the largest dynamic size allowed so far
  if (smem > configured) {
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) return static_cast<int>(e);
    configured = smem;
  }
  kernel<<<static_cast<int>(w.n / (16 * NP)), (G + 1) * 32, smem, s>>>(
      static_cast<const T*>(x), reinterpret_cast<const unsigned char*>(w.qweight), w.scales, w.zeros,
      static_cast<T*>(y), m, static_cast<int>(w.n), kt, stages);
  return static_cast<int>(cudaGetLastError());
}

template <class T, int NP, int G>
int pick_rows(const void* x, const W4A16View& w, void* y, int m, int stages, cudaStream_t s) {
  const bool asym = w.zeros != nullptr;
  if (m > 8)
    return asym ? launch<T, NP, G, 2, true>(x, w, y, m, stages, s) : launch<T, NP, G, 2, false>(x, w, y, m, stages, s);
  return asym ? launch<T, NP, G, 1, true>(x, w, y, m, stages, s) : launch<T, NP, G, 1, false>(x, w, y, m, stages, s);
}

template <class T>
int pick(const void* x, const W4A16View& w, void* y, int m, int np, int warps, int stages, cudaStream_t s) {
  if (np == 1) return warps == 4 ? pick_rows<T, 1, 4>(x, w, y, m, stages, s) : pick_rows<T, 1, 8>(x, w, y, m, stages, s);
  if (warps == 16) return pick_rows<T, 2, 16>(x, w, y, m, stages, s);
  return warps == 4 ? pick_rows<T, 2, 4>(x, w, y, m, stages, s) : pick_rows<T, 2, 8>(x, w, y, m, stages, s);
}

}  // namespace

int gemv_w4a16_bulk(Half t, const void* x, const W4A16View& w, void* y, int m, int np, int warps, int stages,
                    void* stream) {
  if (m < 1 || m > kGemvMaxRows) return kBadShape;
  const int kt = static_cast<int>(w.k / kW4A16Group);
  // Bulk copies move multiples of 16 bytes between 16-byte aligned addresses: the zero
  // words of a stage (4 bytes a group) need K in whole 4-group runs.
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  if (!aligned(x) || !aligned(w.qweight) || !aligned(w.scales) || (w.zeros && (!aligned(w.zeros) || kt % 4 != 0)))
    return kBadShape;
  if (np != 1 && np != 2) np = 2;
  if (warps != 4 && warps != 8 && (warps != 16 || np != 2)) warps = 8;
  auto* s = static_cast<cudaStream_t>(stream);
  return t == Half::BF16 ? pick<__nv_bfloat16>(x, w, y, m, np, warps, stages, s)
                         : pick<__half>(x, w, y, m, np, warps, stages, s);
}

}  // namespace lowbit::cuda::detail
