// The arithmetic both m <= 16 W4A16 kernels share (register-streamed and bulk-copied):
// one 128-input group of a warp's tile pairs against one or two 8-row batch chunks, with
// the weights as mma's A operand, and the warps' K shares summed in warp order at the end.
#pragma once
#include <cstdint>

#include "kernels/cuda/w4a16_half_ops.cuh"

namespace lowbit::cuda::detail {

__device__ __forceinline__ std::uint32_t word_of(const uint4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// Lane (g, t) holds column g of each 8-column tile and inputs 32t .. 32t + 31 of the group
// (the tile layout, lowbit/w4a16.h), and the same inputs of batch row 8b + g as B: mma
// slot pairs (2t, 2t + 1) / (2t + 8, 2t + 9) of step s are inputs 32t + 4s + {0, 1} /
// {2, 3}, for weights and activations alike. Accumulator lane (g, t): columns g of both
// tiles of a pair x batch rows 2t, 2t + 1. The mma sees offset + q; (offset + z) * sum(x)
// comes off per group, the row sums from one more mma against ones.
template <class T, int NP, int MB>
__device__ __forceinline__ void gemv_w4a16_group(float (&acc)[NP][MB][4], const uint4 (&wv)[NP][2],
                                                 const std::uint16_t (&sc)[NP][2], const std::uint32_t (&zw)[NP][2],
                                                 const uint4 (&xv)[MB][4], int g) {
  using Ops = HalfOps<T>;
  constexpr std::uint32_t kOnes[4] = {Ops::kOnes, Ops::kOnes, Ops::kOnes, Ops::kOnes};
  float xs[MB][4], d[NP][MB][4];
#pragma unroll
  for (int b = 0; b < MB; ++b) {
    xs[b][0] = xs[b][1] = xs[b][2] = xs[b][3] = 0.f;
#pragma unroll
    for (int p = 0; p < NP; ++p) d[p][b][0] = d[p][b][1] = d[p][b][2] = d[p][b][3] = 0.f;
  }
#pragma unroll
  for (int s = 0; s < 8; ++s) {
    const int sh = 8 * (s % 2);
#pragma unroll
    for (int b = 0; b < MB; ++b) {
      const std::uint32_t* xw = reinterpret_cast<const std::uint32_t*>(xv[b]);
      Ops::mma(xs[b], kOnes, xw[2 * s], xw[2 * s + 1]);
    }
#pragma unroll
    for (int p = 0; p < NP; ++p) {
      const std::uint32_t w0 = word_of(wv[p][0], s / 2), w1 = word_of(wv[p][1], s / 2);
      const std::uint32_t a[4] = {w4_pair<T>(w0, sh), w4_pair<T>(w1, sh), w4_pair<T>(w0, sh + 4),
                                  w4_pair<T>(w1, sh + 4)};
#pragma unroll
      for (int b = 0; b < MB; ++b) {
        const std::uint32_t* xw = reinterpret_cast<const std::uint32_t*>(xv[b]);
        Ops::mma(d[p][b], a, xw[2 * s], xw[2 * s + 1]);
      }
    }
  }
#pragma unroll
  for (int p = 0; p < NP; ++p) {
    const float s0 = __half2float(__ushort_as_half(sc[p][0]));
    const float s1 = __half2float(__ushort_as_half(sc[p][1]));
    const float z0 = Ops::kOffset + static_cast<float>((zw[p][0] >> (4 * g)) & 15u);
    const float z1 = Ops::kOffset + static_cast<float>((zw[p][1] >> (4 * g)) & 15u);
#pragma unroll
    for (int b = 0; b < MB; ++b) {
      acc[p][b][0] += s0 * (d[p][b][0] - z0 * xs[b][0]);
      acc[p][b][1] += s0 * (d[p][b][1] - z0 * xs[b][1]);
      acc[p][b][2] += s1 * (d[p][b][2] - z1 * xs[b][0]);
      acc[p][b][3] += s1 * (d[p][b][3] - z1 * xs[b][1]);
    }
  }
}

// The m <= 64 kernels' accumulators (tile pairs x batch chunks x mma's four), zeroed.
template <int NP, int MB>
__device__ __forceinline__ void gemv_zero(float (&acc)[NP][MB][4]) {
#pragma unroll
  for (int p = 0; p < NP; ++p)
#pragma unroll
    for (int b = 0; b < MB; ++b) acc[p][b][0] = acc[p][b][1] = acc[p][b][2] = acc[p][b][3] = 0.f;
}

// Floats of shared memory the end-of-block sum needs for kWarps warps' accumulators.
template <int NP, int MB, int kWarps>
constexpr int kGemvPartials = kWarps * NP * MB * 4 * 32;

// A warp's accumulators into red (kGemvPartials floats), before a block barrier.
template <int NP, int MB>
__device__ __forceinline__ void gemv_store_partials(float* red, const float (&acc)[NP][MB][4], int warp, int lane) {
#pragma unroll
  for (int p = 0; p < NP; ++p)
#pragma unroll
    for (int b = 0; b < MB; ++b)
#pragma unroll
      for (int c = 0; c < 4; ++c) red[((warp * NP + p) * MB + b) * 128 + c * 32 + lane] = acc[p][b][c];
}

// After the barrier: the warps' K shares summed in warp order (the same result whatever
// the timing), threads `tid` of `threads` writing the block's outputs from column tile nb0.
template <class T, int NP, int MB, int kWarps>
__device__ __forceinline__ void gemv_sum_partials(const float* red, int tid, int threads, T* y, int m, int n, int nb0) {
  for (int e = tid; e < NP * MB * 4 * 32; e += threads) {
    const int pc = e / 32, l = e % 32, p = pc / (4 * MB), b = pc / 4 % MB, c = pc % 4;
    float v = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) v += red[w * NP * MB * 128 + e];
    const int row = 8 * b + 2 * (l % 4) + (c & 1);
    const int col = (nb0 + 2 * p + c / 2) * 8 + l / 4;
    if (row < m) y[static_cast<std::size_t>(row) * n + col] = HalfOps<T>::from_float(v);
  }
}

}  // namespace lowbit::cuda::detail
