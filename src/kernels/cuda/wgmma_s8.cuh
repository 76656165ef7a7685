// The pieces both wgmma W8A8 kernels share: the shared-memory matrix descriptor of a
// K-major int8 operand in the 128-byte swizzle, wgmma.m64nNk32.s32.s8.s8 for N = 128 and
// 256 with both operands in shared memory, the register fence around them, the tiles'
// walk over the output, the epilogue of a warpgroup's accumulators and the host's choice
// of output type and block width.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/gemm_w8a8_ops.cuh"
#include "kernels/cuda/multiprocessors.cuh"
#include "kernels/cuda/wgmma_operands.cuh"
#include "lowbit/cuda_gemm.h"

namespace lowbit::cuda::detail {

// Shared-memory matrix descriptor of a K-major operand in the 128-byte swizzle: rows of
// 128 bytes, 8-row atoms 1024 bytes apart (stride offset), leading offset unused (1),
// swizzle mode 1 in bits 62-63. Moving along K inside the row is a plain address offset:
// the hardware applies the XOR to the final address, so atoms must be 1024-byte aligned.
__device__ __forceinline__ std::uint64_t smem_desc(std::uint32_t addr) {
  return (std::uint64_t{1} << 62) | (std::uint64_t{1024 >> 4} << 32) | (std::uint64_t{1} << 16) |
         static_cast<std::uint64_t>((addr >> 4) & 0x3FFF);
}

// d[64 x BN slice of this warpgroup] += A (64 x 32, descriptor a) . B (BN x 32, descriptor b)^T.
template <int BN>
__device__ __forceinline__ void wgmma_s8(int (&d)[BN / 2], std::uint64_t a, std::uint64_t b);
// The descriptors follow the NACC accumulators in the operand list.
#define LOWBIT_WGMMA_S8(BN, NACC, A, B)                                                                       \
  template <>                                                                                                 \
  __device__ __forceinline__ void wgmma_s8<BN>(int (&d)[NACC], std::uint64_t a, std::uint64_t b) {            \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"                                                 \
                 "wgmma.mma_async.sync.aligned.m64n" #BN "k32.s32.s8.s8 {" LOWBIT_WGMMA_ACC##NACC##_TEXT "}, " A \
                 ", " B ", p;\n}\n"                                                                          \
                 : LOWBIT_WGMMA_ACC##NACC("+r", d)                                                            \
                 : "l"(a), "l"(b));                                                                           \
  }
LOWBIT_WGMMA_S8(128, 64, "%64", "%65")
LOWBIT_WGMMA_S8(256, 128, "%128", "%129")
#undef LOWBIT_WGMMA_S8

// The output tile (first row, first column) numbered tile: tiles are walked in bands of
// kBand row tiles, down each column of the band first, so the tiles in flight at once share
// few activation and weight tiles and meet in L2 instead of each wave streaming the whole
// weight from memory.
template <int BM, int BN>
__device__ __forceinline__ void banded_tile(int tile, int m, int n, int& bm, int& bn, int kBand = 8) {
  const int tiles_m = (m + BM - 1) / BM, tiles_n = (n + BN - 1) / BN;
  const int band = tile / (kBand * tiles_n), first = band * kBand;
  const int band_rows = min(tiles_m - first, kBand), in_band = tile % (kBand * tiles_n);
  bm = (first + in_band % band_rows) * BM;
  bn = (in_band / band_rows) * BN;
}

// Pins the accumulators in registers around the asynchronous MMAs: without it the compiler
// may move or copy them while a wgmma is still writing them.
template <int N>
__device__ __forceinline__ void fence_acc(int (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(d[i])::"memory");
}

// The activation scales and zero points of a thread's two rows in a warpgroup's 64 x BN
// accumulators starting at row0 (rows g and g + 8 of its warp's 16; zero past m or
// without zero points).
struct RowScales {
  float s0 = 0.f, s1 = 0.f;
  int z0 = 0, z1 = 0;
};
__device__ __forceinline__ RowScales row_scales(const float* __restrict__ sx, const std::int32_t* __restrict__ zx,
                                                int row0, int m) {
  const int tid = static_cast<int>(threadIdx.x) % 128, row = row0 + (tid / 32) * 16 + (tid % 32) / 4;
  RowScales r;
  if (row < m) r.s0 = sx[row], r.z0 = zx ? zx[row] : 0;
  if (row + 8 < m) r.s1 = sx[row + 8], r.z1 = zx ? zx[row + 8] : 0;
  return r;
}

// Writes a warpgroup's 64 x BN accumulators (rows row0.., columns bn..) as outputs. The
// m64nN fragment: registers 4j..4j+3 hold columns 8j + 2t, +1 of rows g and g + 8 of the
// warp's 16 rows (g = lane / 4, t = lane % 4). sw_t and wsum_t hold the tile's column
// scales and weight sums (index col - bn), in global or shared memory; wsum_t is null when
// the activations have no zero points.
template <class T, int BN>
__device__ __forceinline__ void store_wgmma_acc(T* __restrict__ y, const int (&acc)[BN / 2], int row0, int bn, int m,
                                                int n, RowScales rs, const float* sw_t, const std::int32_t* wsum_t) {
  const int tid = static_cast<int>(threadIdx.x) % 128, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int row = row0 + (tid / 32) * 16 + g;
#pragma unroll
  for (int j = 0; j < BN / 8; ++j) {
    const int lc = 8 * j + 2 * t;
    if (bn + lc >= n) continue;
    const float w0 = sw_t[lc], w1 = sw_t[lc + 1];
    const int ws0 = wsum_t ? wsum_t[lc] : 0, ws1 = wsum_t ? wsum_t[lc + 1] : 0;
    store_w8a8_scaled(y, row, bn + lc, acc[4 * j], acc[4 * j + 1], m, n, rs.s0, rs.z0, w0, w1, ws0, ws1);
    store_w8a8_scaled(y, row + 8, bn + lc, acc[4 * j + 2], acc[4 * j + 3], m, n, rs.s1, rs.z1, w0, w1, ws0, ws1);
  }
}

// Bytes of one warpgroup's staging area for store_wgmma_acc_staged: 64 rows of a 64-column
// chunk, each row padded by 16 bytes so the fragment's 4-byte writes and the rows' 16-byte
// reads both fall on distinct banks.
constexpr int kOutPitch = 64 * 2 + 16, kOutStageBytes = 64 * kOutPitch;

// The same outputs as store_wgmma_acc, written through shared memory: each 64-column chunk
// of the fragment goes to stage (kOutStageBytes, this warpgroup's own), then every thread
// copies whole 16-byte pieces of rows out, so a warp's store covers four full 128-byte
// lines instead of eight half sectors. With the fragment's scattered 4-byte stores the
// W8A8 kernel took 6-19 % longer at M = 4096 on the H200 (gemm_device.sh w8a8-probe). bar
// is the warpgroup's named barrier; y must be 16-byte aligned (n % 8 == 0 keeps rows so).
template <class T, int BN>
__device__ __forceinline__ void store_wgmma_acc_staged(T* __restrict__ y, const int (&acc)[BN / 2], int row0, int bn,
                                                       int m, int n, RowScales rs, const float* sw_t,
                                                       const std::int32_t* wsum_t, std::uint8_t* stage, int bar) {
  const int tid = static_cast<int>(threadIdx.x) % 128, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int r0 = (tid / 32) * 16 + g;
#pragma unroll
  for (int chunk = 0; chunk < BN / 64; ++chunk) {
    if (chunk > 0) asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
#pragma unroll
    for (int jj = 0; jj < 8; ++jj) {
      const int j = 8 * chunk + jj, lc = 8 * j + 2 * t;
      const float w0 = sw_t[lc], w1 = sw_t[lc + 1];
      const int ws0 = wsum_t ? wsum_t[lc] : 0, ws1 = wsum_t ? wsum_t[lc + 1] : 0;
      const float a0 = rs.s0 * w0 * static_cast<float>(acc[4 * j] - rs.z0 * ws0);
      const float a1 = rs.s0 * w1 * static_cast<float>(acc[4 * j + 1] - rs.z0 * ws1);
      const float b0 = rs.s1 * w0 * static_cast<float>(acc[4 * j + 2] - rs.z1 * ws0);
      const float b1 = rs.s1 * w1 * static_cast<float>(acc[4 * j + 3] - rs.z1 * ws1);
      store2(reinterpret_cast<T*>(stage + r0 * kOutPitch + 4 * (4 * jj + t)), a0, a1);
      store2(reinterpret_cast<T*>(stage + (r0 + 8) * kOutPitch + 4 * (4 * jj + t)), b0, b1);
    }
    asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int piece = tid + 128 * i, row = piece / 8, col = bn + 64 * chunk + 8 * (piece % 8);
      const uint4 v = *reinterpret_cast<const uint4*>(stage + row * kOutPitch + 16 * (piece % 8));
      if (row0 + row < m && col < n) *reinterpret_cast<uint4*>(y + static_cast<std::size_t>(row0 + row) * n + col) = v;
    }
  }
}

// The block width when none is asked for: the wide block reads each activation tile once
// per 256 columns, so it stays unless the narrow one fills the machine's waves clearly
// better (tiles over the multiprocessor slots of the waves they take). 14336 x 4096 at M =
// 1024 makes 448 wide tiles (3.4 waves) against 896 narrow ones (6.8): 110 against 101 us
// on the H200 (persistent, 6 or more tiles per multiprocessor). Small grids go narrow.
inline int wgmma_default_bn(int m, int n) {
  const long long sms = multiprocessors(), rows = (m + 127) / 128;
  const auto fill = [&](int bn) {
    const long long tiles = rows * ((n + bn - 1) / bn);
    return static_cast<double>(tiles) / static_cast<double>((tiles + sms - 1) / sms * sms);
  };
  return fill(128) > fill(256) + 0.05 ? 128 : 256;
}

// Calls launch(T{}, std::integral_constant<int, BN>{}) for the output type t and block
// width bn (0: the default), so each kernel's host side instantiates its four variants.
template <class Launch>
int with_type_and_bn(Half t, int bn, int m, int n, Launch&& launch) {
  using N128 = std::integral_constant<int, 128>;
  using N256 = std::integral_constant<int, 256>;
  if (bn == 0) bn = wgmma_default_bn(m, n);
  if (t == Half::BF16) return bn == 128 ? launch(__nv_bfloat16{}, N128{}) : launch(__nv_bfloat16{}, N256{});
  return bn == 128 ? launch(__half{}, N128{}) : launch(__half{}, N256{});
}

}  // namespace lowbit::cuda::detail
