// W4A16 matmul y = x . W^T for Hopper: int4 weights in lowbit's tile layout (lowbit/w4a16.h),
// fp16/bf16 activations, group-128 fp16 scales, mma.sync m16n8k16 with fp32 accumulation.
// m <= 16 goes to gemv_w4a16__cuda.cu, larger m to gemm_w4a16_wgmma__cuda.cu (or, up to 32
// rows on narrow weights, to gemm_w4a16_cluster__cuda.cu); this kernel takes any m on request.
// A block's 4 or 8 warps own NT 8-column tiles each and share MT 16-row tiles of activations;
// cp.async streams groups of 128 inputs through shared memory 4 deep; K splits across
// blocks when the columns alone cannot fill the GPU.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/gemm_w4a16_cluster.h"
#include "kernels/cuda/gemm_w4a16_wgmma.h"
#include "kernels/cuda/gemv_w4a16.h"
#include "kernels/cuda/multiprocessors.cuh"
#include "kernels/cuda/w4a16_half_ops.cuh"
#include "lowbit/cuda_gemm.h"
#include "lowbit/w4a16.h"

namespace lowbit::cuda {
namespace {

using kernels::kW4A16Group;

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

constexpr int kStages = 4;
// An activation row of one group is 256 bytes. A quarter-warp's 16-byte reads are lanes
// t = 0..3 of rows g and g + 1 at piece 4t + q: pieces 8 apart share banks, so the upper
// half of a row swaps neighbouring pieces, and 32 bytes of padding move row g + 1 two
// pieces along: the eight reads then cover all eight 16-byte bank groups.
constexpr int kRowBytes = 256 + 32;
__device__ __forceinline__ int swizzle(int piece) { return piece ^ ((piece >> 3) & 1); }

struct Plan {
  int mt = 1, nt = 4, warps = 4, splits = 1, colblocks = 0, mchunks = 0;
};

int stage_bytes(int mt, int nt, int warps) { return mt * 16 * kRowBytes + warps * nt * 512; }

Plan plan_for(int m, std::int64_t n, std::int64_t k, W4A16Tuning tune) {
  Plan p;
  // The H200 sweep's best per row count (bench/cuda/w4a16_notes.md), within ~10 % of the
  // best plan on all three shapes.
  p.mt = m <= 16 ? 1 : m <= 64 ? 2 : 4;
  p.nt = m > 64 && m <= 128 ? 2 : 4;
  p.warps = (m > 16 && m <= 32) || (m > 64 && m <= 128) ? 8 : 4;
  if (tune.mt == 1 || tune.mt == 2 || tune.mt == 4) p.mt = tune.mt;
  if (tune.nt == 2 || tune.nt == 4) p.nt = tune.nt;
  if (tune.warps == 4 || tune.warps == 8) p.warps = tune.warps;
  // Narrow weights take narrower blocks rather than failing.
  while (n % (p.warps * 8 * p.nt) != 0 && (p.nt > 2 || p.warps > 4)) {
    if (p.warps > 4)
      p.warps = 4;
    else
      p.nt /= 2;
  }
  p.colblocks = static_cast<int>(n / (p.warps * 8 * p.nt));
  p.mchunks = (m + 16 * p.mt - 1) / (16 * p.mt);
  // About three blocks per multiprocessor in one wave, each block
  // keeping at least 8 groups so its 4-stage pipeline runs full most of the time.
  const int kt = static_cast<int>(k / kW4A16Group);
  const int base = p.colblocks * p.mchunks;
  const int want = (detail::multiprocessors() * 3 + base - 1) / base;
  p.splits = std::max(1, std::min(want, kt / 8));
  if (tune.splits > 0) p.splits = std::min(tune.splits, kt);
  return p;
}

// Arrival counters for the narrowest plan (64 columns, 16 rows per block) whatever the
// plan, so the partial sums start at the same offset for every plan of a shape: a call
// with another plan on the same workspace then never finds its counters overwritten by
// an earlier call's partials.
std::size_t counters_bytes(int m, std::int64_t n) {
  const std::size_t blocks = static_cast<std::size_t>(n / 64) * static_cast<std::size_t>((m + 15) / 16);
  return (blocks * sizeof(unsigned) + 255) / 256 * 256;
}

// Block = 4 or 8 warps side by side on N (warp w: columns 8 NT w ..), sharing each group's
// activation rows, which cp.async brings to shared memory with the warps' weight tiles,
// kStages groups deep. Lane (g, t) takes inputs 32t .. 32t + 31 of the group for rows g
// and g + 8 of each m-tile: the permutation of k the weight tile uses (lowbit/w4a16.h).
// Each weight fragment is dequantized once per group to halves holding (q - z) * s (the
// subtraction exact, one rounding in the product) and serves all MT m-tiles, so the
// accumulators take the mma results directly: no per-group epilogue, no row-sum mma.
template <class T, int MT, int NT, int kWarps>
__global__ void __launch_bounds__(kWarps * 32) gemm_w4a16_kernel(const T* __restrict__ x, const uint4* __restrict__ qw,
                                                                 const std::uint16_t* __restrict__ scales,
                                                                 const std::uint32_t* __restrict__ zeros,
                                                                 T* __restrict__ y, float* __restrict__ partial,
                                                                 unsigned* __restrict__ counters, int m, int n, int kt,
                                                                 int splits) {
  using Ops = HalfOps<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int kStageBytes = MT * 16 * kRowBytes + kWarps * NT * 512;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int colblock = blockIdx.x, split = blockIdx.y, mchunk = blockIdx.z;
  const int nb0 = (colblock * kWarps + warp) * NT, m0 = mchunk * MT * 16;
  const int kb_begin = static_cast<int>(static_cast<long long>(split) * kt / splits);
  const int kb_end = static_cast<int>(static_cast<long long>(split + 1) * kt / splits);
  const int tiles = kb_end - kb_begin;
  const std::size_t k = static_cast<std::size_t>(kt) * kW4A16Group;
  const int rows = min(MT * 16, m - m0);

  auto fill = [&](int stage, int kb) {
    unsigned char* st = smem + stage * kStageBytes;
    for (int c = threadIdx.x; c < rows * 16; c += kWarps * 32) {
      const int r = c / 16, q = c % 16;
      cp_async16(st + r * kRowBytes + swizzle(q) * 16, x + static_cast<std::size_t>(m0 + r) * k + kb * kW4A16Group + q * 8);
    }
    unsigned char* wt = st + MT * 16 * kRowBytes + warp * NT * 512;
#pragma unroll
    for (int j = 0; j < NT; ++j)
      cp_async16(wt + j * 512 + lane * 16, qw + ((static_cast<std::size_t>(nb0 + j) * kt + kb) * 32 + lane));
  };

  float acc[MT][NT][4];
#pragma unroll
  for (int i = 0; i < MT; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.f;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < tiles) fill(s, kb_begin + s);
    cp_async_commit();
  }
  for (int it = 0; it < tiles; ++it) {
    const int kb = kb_begin + it;
    // Scale and zero point of lane column g of each tile, fetched before waiting: as
    // halves pairs, s and offset + z, for (w - (offset + z)) * s on both halves at once.
    std::uint32_t ss[NT], zz[NT];
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      const std::size_t tile = static_cast<std::size_t>(nb0 + j) * kt + kb;
      ss[j] = Ops::pair_from_fp16(__ldg(scales + tile * 8 + g));
      const std::uint32_t z = zeros != nullptr ? (__ldg(zeros + tile) >> (4 * g)) & 15u : 8u;
      zz[j] = Ops::kMagic | (z * 0x00010001u);
    }
    cp_async_wait<kStages - 2>();
    __syncthreads();
    // Every warp is past the stage read last iteration: refill it.
    if (it + kStages - 1 < tiles) fill((it + kStages - 1) % kStages, kb + kStages - 1);
    cp_async_commit();
    const unsigned char* st = smem + (it % kStages) * kStageBytes;
    const unsigned char* wt = st + MT * 16 * kRowBytes + warp * NT * 512;
    std::uint32_t words[NT][4];
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      const uint4 raw = *reinterpret_cast<const uint4*>(wt + j * 512 + lane * 16);
      words[j][0] = raw.x;
      words[j][1] = raw.y;
      words[j][2] = raw.z;
      words[j][3] = raw.w;
    }
    // Word q of the lane's weights and 16-byte piece q of its activations hold mma steps
    // 2q and 2q + 1.
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      std::uint32_t b[NT][2][2];
#pragma unroll
      for (int j = 0; j < NT; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          b[j][e][0] = Ops::dequant(w4_pair<T>(words[j][q], 8 * e), zz[j], ss[j]);
          b[j][e][1] = Ops::dequant(w4_pair<T>(words[j][q], 8 * e + 4), zz[j], ss[j]);
        }
#pragma unroll
      for (int mi = 0; mi < MT; ++mi) {
        const int r0 = mi * 16 + g, r1 = r0 + 8;
        const int off = swizzle(4 * t + q) * 16;
        const uint4 lo = r0 < rows ? *reinterpret_cast<const uint4*>(st + r0 * kRowBytes + off) : make_uint4(0, 0, 0, 0);
        const uint4 hi = r1 < rows ? *reinterpret_cast<const uint4*>(st + r1 * kRowBytes + off) : make_uint4(0, 0, 0, 0);
        const std::uint32_t a0[4] = {lo.x, hi.x, lo.y, hi.y}, a1[4] = {lo.z, hi.z, lo.w, hi.w};
#pragma unroll
        for (int j = 0; j < NT; ++j) {
          Ops::mma(acc[mi][j], a0, b[j][0][0], b[j][0][1]);
          Ops::mma(acc[mi][j], a1, b[j][1][0], b[j][1][1]);
        }
      }
    }
  }
  cp_async_wait<0>();

  const int col_base = nb0 * 8;
  if (splits == 1) {
#pragma unroll
    for (int mi = 0; mi < MT; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = mi * 16 + g + 8 * h;
        if (r >= rows) continue;
#pragma unroll
        for (int j = 0; j < NT; ++j) {
          T* out = y + static_cast<std::size_t>(m0 + r) * n + col_base + j * 8 + 2 * t;
          out[0] = Ops::from_float(acc[mi][j][2 * h]);
          out[1] = Ops::from_float(acc[mi][j][2 * h + 1]);
        }
      }
    return;
  }
  // Split-K: publish this block's partial, and the last block of its columns to arrive
  // sums all splits in split order (deterministic whatever the arrival order) and writes y.
#pragma unroll
  for (int mi = 0; mi < MT; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = mi * 16 + g + 8 * h;
      if (r >= rows) continue;
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        float* out = partial + (static_cast<std::size_t>(split) * m + m0 + r) * n + col_base + j * 8 + 2 * t;
        __stcg(reinterpret_cast<float2*>(out), make_float2(acc[mi][j][2 * h], acc[mi][j][2 * h + 1]));
      }
    }
  __threadfence();
  __syncthreads();
  __shared__ bool last;
  unsigned* counter = counters + static_cast<std::size_t>(mchunk) * gridDim.x + colblock;
  if (threadIdx.x == 0) last = atomicAdd(counter, 1u) == static_cast<unsigned>(splits - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();
  constexpr int kCols = kWarps * NT * 8;
  const int bcol = colblock * kCols;
  for (int e = threadIdx.x; e < rows * kCols / 2; e += kWarps * 32) {
    const int r = e / (kCols / 2), c = 2 * (e % (kCols / 2));
    float v0 = 0.f, v1 = 0.f;
    for (int s = 0; s < splits; ++s) {
      const float2 p = __ldcg(reinterpret_cast<const float2*>(partial + (static_cast<std::size_t>(s) * m + m0 + r) * n + bcol + c));
      v0 += p.x;
      v1 += p.y;
    }
    T* out = y + static_cast<std::size_t>(m0 + r) * n + bcol + c;
    out[0] = Ops::from_float(v0);
    out[1] = Ops::from_float(v1);
  }
  if (threadIdx.x == 0) *counter = 0u;
}

template <class T, int MT, int NT, int W>
int launch(const Plan& p, const void* x, const W4A16View& w, void* y, int m, void* workspace, cudaStream_t s) {
  const int smem = kStages * stage_bytes(MT, NT, W);
  static bool configured = false;  // per instantiation
  if (!configured) {
    const cudaError_t e =
        cudaFuncSetAttribute(gemm_w4a16_kernel<T, MT, NT, W>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) return static_cast<int>(e);
    configured = true;
  }
  const dim3 grid(p.colblocks, p.splits, p.mchunks);
  auto* counters = static_cast<unsigned*>(workspace);
  auto* partial = reinterpret_cast<float*>(static_cast<char*>(workspace) + counters_bytes(m, w.n));
  gemm_w4a16_kernel<T, MT, NT, W><<<grid, W * 32, smem, s>>>(
      static_cast<const T*>(x), reinterpret_cast<const uint4*>(w.qweight),
      w.scales, w.zeros, static_cast<T*>(y), partial, counters, m,
      static_cast<int>(w.n), static_cast<int>(w.k / kW4A16Group), p.splits);
  return static_cast<int>(cudaGetLastError());
}

template <class T, int MT, int W>
int dispatch_nt(const Plan& p, const void* x, const W4A16View& w, void* y, int m, void* workspace, cudaStream_t s) {
  if (p.nt == 4) return launch<T, MT, 4, W>(p, x, w, y, m, workspace, s);
  return launch<T, MT, 2, W>(p, x, w, y, m, workspace, s);
}

template <class T, int MT>
int dispatch_warps(const Plan& p, const void* x, const W4A16View& w, void* y, int m, void* workspace, cudaStream_t s) {
  return p.warps == 8 ? dispatch_nt<T, MT, 8>(p, x, w, y, m, workspace, s)
                      : dispatch_nt<T, MT, 4>(p, x, w, y, m, workspace, s);
}

template <class T>
int dispatch(const Plan& p, const void* x, const W4A16View& w, void* y, int m, void* workspace, cudaStream_t s) {
  if (p.mt == 1) return dispatch_warps<T, 1>(p, x, w, y, m, workspace, s);
  if (p.mt == 2) return dispatch_warps<T, 2>(p, x, w, y, m, workspace, s);
  return dispatch_warps<T, 4>(p, x, w, y, m, workspace, s);
}

// Whether the default plan (or path 5) takes the wgmma kernel: past 32 rows on every
// shape the H200 sweep measured (M = 64: 29 / 29 / 44 us against the cluster kernel's 47 /
// 47 / 53 on 8192x8192 / 14336x4096 / 4096x14336; the tile kernel 2-4x slower at 128 and
// 256), and from 17 rows where the columns fill 64 or more of its 128-column blocks (M =
// 32: 29 us against 34 on 8192x8192; 42 against 30 on 4096x14336).
bool uses_wgmma_kernel(int m, std::int64_t n, W4A16Tuning tune) {
  if (tune.path != 0) return tune.path == 5;
  return m > 2 * detail::kGemvMaxRows || (m > detail::kGemvMaxRows && n >= 8192);
}

// Whether the call runs this file's tile kernel (the only one that needs a workspace) or
// one of the others, which split K inside a block or a cluster.
bool uses_tile_kernel(int m, std::int64_t n, W4A16Tuning tune) {
  if (tune.path == 4 || uses_wgmma_kernel(m, n, tune)) return false;
  if (m <= detail::kGemvMaxRows) return tune.path == 1;
  return !(tune.path == 0 && m <= detail::kClusterMaxRows);
}

}  // namespace

std::size_t gemm_w4a16_workspace_bytes(int m, std::int64_t n, std::int64_t k, W4A16Tuning tune) {
  if (m < 1 || n % 64 != 0 || k % kW4A16Group != 0 || n <= 0 || k <= 0 || !uses_tile_kernel(m, n, tune)) return 0;
  const Plan p = plan_for(m, n, k, tune);
  return counters_bytes(m, n) + static_cast<std::size_t>(p.splits) * m * n * sizeof(float);
}

int gemm_w4a16(Half t, const void* x, const W4A16View& w, void* y, int m, void* workspace, void* stream,
               W4A16Tuning tune) {
  if (m < 1 || w.n <= 0 || w.k <= 0 || w.n % 64 != 0 || w.k % kW4A16Group != 0 || w.n > (1 << 30) ||
      w.k > (1 << 30) || x == nullptr || y == nullptr || w.qweight == nullptr || w.scales == nullptr)
    return kBadShape;
  if (!uses_tile_kernel(m, w.n, tune)) {
    if (uses_wgmma_kernel(m, w.n, tune))
      return detail::gemm_w4a16_wgmma(t, x, w, y, m, tune, stream);
    if (m <= detail::kGemvMaxRows && tune.path == 3)
      return detail::gemv_w4a16_bulk(t, x, w, y, m, tune.np, tune.warps, tune.stages, stream);
    if (tune.path == 4 || m > detail::kGemvMaxRows)
      return detail::gemm_w4a16_cluster(t, x, w, y, m, tune.np, tune.warps, tune.splits, stream);
    return detail::gemv_w4a16(t, x, w, y, m, tune.np, tune.warps, tune.unroll, tune.xs, stream);
  }
  const Plan p = plan_for(m, w.n, w.k, tune);
  if (p.splits > 1 && workspace == nullptr) return kBadShape;
  auto* s = static_cast<cudaStream_t>(stream);
  return t == Half::BF16 ? dispatch<__nv_bfloat16>(p, x, w, y, m, workspace, s)
                         : dispatch<__half>(p, x, w, y, m, workspace, s);
}

}  // namespace lowbit::cuda
