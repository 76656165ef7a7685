// W4A16 for m <= 16 activation rows (decode, small batches): the weights are mma's A
// operand (16 output columns = two 8-column tiles, 16 inputs) and the activations its B
// (one or two chunks of 8 batch rows), so nothing is padded to 16 rows and no weight is
// staged in shared memory: each lane streams its 16 bytes of a tile straight into
// registers, `unroll` groups ahead, and the block's warps split K and meet once in shared
// memory at the end.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/gemv_w4a16.h"
#include "kernels/cuda/gemv_w4a16_group.cuh"
#include "lowbit/w4a16.h"

namespace lowbit::cuda::detail {
namespace {

using kernels::kW4A16Group;

// Block: NP tile pairs (16 NP output columns) x all of K, kWarps warps each taking a
// contiguous share of the groups (lane layout: gemv_w4a16_group.cuh).
// Activations in shared memory: row pitch K * 2 + 64 bytes, so rows g and g + 1, read by
// the same quarter-warp, start on different banks.
__host__ __device__ constexpr std::size_t xs_pitch(int kt) { return static_cast<std::size_t>(kt) * kW4A16Group * 2 + 64; }


// XS: the block first copies all m x K activations to shared memory (cp.async, waited for
// after the first weights are requested), freeing the registers that otherwise hold them
// in flight; else each group's activations are loaded with its weights.
template <class T, int NP, int kWarps, int U, bool XS, int MB>
__global__ void __launch_bounds__(kWarps * 32) gemv_w4a16_kernel(const T* __restrict__ x, const uint4* __restrict__ qw,
                                                                 const std::uint16_t* __restrict__ scales,
                                                                 const std::uint32_t* __restrict__ zeros,
                                                                 T* __restrict__ y, int m, int n, int kt) {
  extern __shared__ __align__(16) unsigned char xsm[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int nb0 = blockIdx.x * NP * 2;
  const int kb_begin = static_cast<int>(static_cast<long long>(warp) * kt / kWarps);
  const int kb_end = static_cast<int>(static_cast<long long>(warp + 1) * kt / kWarps);
  const std::size_t k = static_cast<std::size_t>(kt) * kW4A16Group;
  static_assert(MB == 1 || !XS, "shared-memory activations only for one batch chunk");
  // Batch chunk b holds rows 8b .. 8b + 7; lane (g, t) loads row 8b + g.
  bool has_row[MB];
  const uint4* xr[MB];
#pragma unroll
  for (int b = 0; b < MB; ++b) {
    has_row[b] = 8 * b + g < m;
    xr[b] = reinterpret_cast<const uint4*>(x + static_cast<std::size_t>(has_row[b] ? 8 * b + g : 0) * k + 32 * t);
  }
  const uint4* xsr = reinterpret_cast<const uint4*>(xsm + (has_row[0] ? g : 0) * xs_pitch(kt) + 64 * t);
  if constexpr (XS) {
    const int chunks = kt * (kW4A16Group / 8);  // 16-byte pieces per row
    for (int i = threadIdx.x; i < m * chunks; i += kWarps * 32) {
      const int r = i / chunks, c = i % chunks;
      cp_async16(xsm + r * xs_pitch(kt) + c * 16, x + static_cast<std::size_t>(r) * k + c * 8);
    }
    asm volatile("cp.async.commit_group;\n" ::);
  }

  float acc[NP][MB][4];
  gemv_zero(acc);

  // Everything the U groups read is requested before any of it is used: the activations
  // (L2 hits) wait out the same latency as the weights (DRAM) instead of after them.
  uint4 wv[U][NP][2], xv[U][MB][4];
  std::uint16_t sc[U][NP][2];
  std::uint32_t zw[U][NP][2];
  auto request = [&](int kb0) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int kb = kb0 + u;
      if (kb >= kb_end) break;
      if constexpr (!XS) {
#pragma unroll
        for (int b = 0; b < MB; ++b)
#pragma unroll
          for (int q = 0; q < 4; ++q)
            xv[u][b][q] = has_row[b] ? __ldg(xr[b] + kb * (kW4A16Group / 8) + q) : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int p = 0; p < NP; ++p)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const std::size_t tile = static_cast<std::size_t>(nb0 + 2 * p + h) * kt + kb;
          wv[u][p][h] = load_stream(qw + tile * 32 + lane);
          sc[u][p][h] = __ldg(scales + tile * 8 + g);
          zw[u][p][h] = zeros != nullptr ? __ldg(zeros + tile) : 0x88888888u;
        }
    }
  };
  request(kb_begin);
  if constexpr (XS) {
    asm volatile("cp.async.wait_group 0;\n" ::);
    __syncthreads();
  }
  for (int kb0 = kb_begin; kb0 < kb_end; kb0 += U) {
    if (kb0 != kb_begin) request(kb0);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int kb = kb0 + u;
      if (kb >= kb_end) break;
      if constexpr (XS) {
#pragma unroll
        for (int q = 0; q < 4; ++q) xv[u][0][q] = has_row[0] ? xsr[kb * (kW4A16Group / 8) + q] : make_uint4(0, 0, 0, 0);
      }
      gemv_w4a16_group<T, NP, MB>(acc, wv[u], sc[u], zw[u], xv[u], g);
    }
  }

  __shared__ float red[kGemvPartials<NP, MB, kWarps>];
  gemv_store_partials<NP, MB>(red, acc, warp, lane);
  __syncthreads();
  gemv_sum_partials<T, NP, MB, kWarps>(red, threadIdx.x, kWarps * 32, y, m, n, nb0);
}

// The activations fit shared memory for this plan: at most 100 KB, so two blocks share an SM.
constexpr std::size_t kXsBudget = 100 * 1024;

template <class T, int NP, int W, int U>
int launch(bool xs, const void* x, const W4A16View& w, void* y, int m, cudaStream_t s) {
  const int blocks = static_cast<int>(w.n / (16 * NP)), kt = static_cast<int>(w.k / kW4A16Group);
  const auto* xp = static_cast<const T*>(x);
  const auto* qp = reinterpret_cast<const uint4*>(w.qweight);
  auto* yp = static_cast<T*>(y);
  const int n = static_cast<int>(w.n);
  if (m > 8) {
    if (xs) return kBadShape;
    gemv_w4a16_kernel<T, NP, W, U, false, 2><<<blocks, W * 32, 0, s>>>(xp, qp, w.scales, w.zeros, yp, m, n, kt);
    return static_cast<int>(cudaGetLastError());
  }
  if (!xs) {
    gemv_w4a16_kernel<T, NP, W, U, false, 1><<<blocks, W * 32, 0, s>>>(xp, qp, w.scales, w.zeros, yp, m, n, kt);
    return static_cast<int>(cudaGetLastError());
  }
  const std::size_t smem = m * xs_pitch(kt);
  if (smem > kXsBudget) return kBadShape;
  static bool configured = false;  // per instantiation
  if (!configured) {
    const cudaError_t e = cudaFuncSetAttribute(gemv_w4a16_kernel<T, NP, W, U, true, 1>,
                                               cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kXsBudget));
    if (e != cudaSuccess) return static_cast<int>(e);
    configured = true;
  }
  gemv_w4a16_kernel<T, NP, W, U, true, 1><<<blocks, W * 32, smem, s>>>(xp, qp, w.scales, w.zeros, yp, m, n, kt);
  return static_cast<int>(cudaGetLastError());
}

template <class T, int NP, int W>
int pick_unroll(bool xs, int unroll, const void* x, const W4A16View& w, void* y, int m, cudaStream_t s) {
  return unroll == 2 ? launch<T, NP, W, 2>(xs, x, w, y, m, s) : launch<T, NP, W, 4>(xs, x, w, y, m, s);
}

template <class T, int NP>
int pick_warps(bool xs, int warps, int unroll, const void* x, const W4A16View& w, void* y, int m, cudaStream_t s) {
  if (warps == 4) return pick_unroll<T, NP, 4>(xs, unroll, x, w, y, m, s);
  if (warps == 16) return pick_unroll<T, NP, 16>(xs, unroll, x, w, y, m, s);
  return pick_unroll<T, NP, 8>(xs, unroll, x, w, y, m, s);
}

template <class T>
int pick_np(bool xs, int np, int warps, int unroll, const void* x, const W4A16View& w, void* y, int m, cudaStream_t s) {
  if (np == 4) return pick_warps<T, 4>(xs, warps, unroll, x, w, y, m, s);
  if (np == 2) return pick_warps<T, 2>(xs, warps, unroll, x, w, y, m, s);
  return pick_warps<T, 1>(xs, warps, unroll, x, w, y, m, s);
}

}  // namespace

int gemv_w4a16(Half t, const void* x, const W4A16View& w, void* y, int m, int np, int warps, int unroll, int xs_mode,
               void* stream) {
  if (m < 1 || m > kGemvMaxRows) return kBadShape;
  // The default is the H200 sweep's (bench/cuda/w4a16_notes.md): two tile pairs per warp,
  // two groups in flight, 8 warps per block, 16 when K is long (>= 96 groups), within
  // ~1 us of the best variant on every shape and row count up to 8 measured (~2 us at 16).
  if (np != 1 && np != 2 && np != 4) np = 2;
  // Two batch chunks (m > 8) double the registers per warp: half the warps per block.
  if (warps != 4 && warps != 8 && warps != 16) warps = (w.k / kW4A16Group >= 96 ? 16 : 8) / (m > 8 ? 2 : 1);
  if (unroll != 2 && unroll != 4) unroll = 2;
  // Staged activations gain 4-7 % at m <= 2 and lose up to 10 % at m = 8 (H200 sweep).
  const bool xs = xs_mode == 2 ||
                  (xs_mode == 0 && m <= 2 && m * xs_pitch(static_cast<int>(w.k / kW4A16Group)) <= kXsBudget);
  auto* s = static_cast<cudaStream_t>(stream);
  return t == Half::BF16 ? pick_np<__nv_bfloat16>(xs, np, warps, unroll, x, w, y, m, s)
                         : pick_np<__half>(xs, np, warps, unroll, x, w, y, m, s);
}

}  // namespace lowbit::cuda::detail
