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
template <>
__device__ __forceinline__ void wgmma_s8<128>(int (&d)[64], std::uint64_t a, std::uint64_t b) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, %64, %65, p;\n"
      "}\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]),
        "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]),
        "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]),
        "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]),
        "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]),
        "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]),
        "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]),
        "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
      : "l"(a), "l"(b), "n"(1));
}
template <>
__device__ __forceinline__ void wgmma_s8<256>(int (&d)[128], std::uint64_t a, std::uint64_t b) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63,"
      "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79,"
      "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95,"
      "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111,"
      "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
      "}, %128, %129, p;\n"
      "}\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]),
        "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]),
        "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]),
        "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]),
        "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]),
        "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]),
        "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]),
        "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63]),
        "+r"(d[64]), "+r"(d[65]), "+r"(d[66]), "+r"(d[67]), "+r"(d[68]), "+r"(d[69]), "+r"(d[70]), "+r"(d[71]),
        "+r"(d[72]), "+r"(d[73]), "+r"(d[74]), "+r"(d[75]), "+r"(d[76]), "+r"(d[77]), "+r"(d[78]), "+r"(d[79]),
        "+r"(d[80]), "+r"(d[81]), "+r"(d[82]), "+r"(d[83]), "+r"(d[84]), "+r"(d[85]), "+r"(d[86]), "+r"(d[87]),
        "+r"(d[88]), "+r"(d[89]), "+r"(d[90]), "+r"(d[91]), "+r"(d[92]), "+r"(d[93]), "+r"(d[94]), "+r"(d[95]),
        "+r"(d[96]), "+r"(d[97]), "+r"(d[98]), "+r"(d[99]), "+r"(d[100]), "+r"(d[101]), "+r"(d[102]), "+r"(d[103]),
        "+r"(d[104]), "+r"(d[105]), "+r"(d[106]), "+r"(d[107]), "+r"(d[108]), "+r"(d[109]), "+r"(d[110]), "+r"(d[111]),
        "+r"(d[112]), "+r"(d[113]), "+r"(d[114]), "+r"(d[115]), "+r"(d[116]), "+r"(d[117]), "+r"(d[118]), "+r"(d[119]),
        "+r"(d[120]), "+r"(d[121]), "+r"(d[122]), "+r"(d[123]), "+r"(d[124]), "+r"(d[125]), "+r"(d[126]), "+r"(d[127])
      : "l"(a), "l"(b), "n"(1));
}

// The output tile (first row, first column) numbered tile: tiles are walked in bands of 8
// row tiles, down each column of the band first, so the tiles in flight at once share few
// activation and weight tiles and meet in L2 instead of each wave streaming the whole
// weight from memory.
template <int BM, int BN>
__device__ __forceinline__ void banded_tile(int tile, int m, int n, int& bm, int& bn) {
  constexpr int kBand = 8;
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

// Writes a warpgroup's 64 x BN accumulators (rows row0.., columns bn..) as outputs. The
// m64nN fragment: registers 4j..4j+3 hold columns 8j + 2t, +1 of rows g and g + 8 of the
// warp's 16 rows (g = lane / 4, t = lane % 4).
template <class T, int BN>
__device__ __forceinline__ void store_wgmma_acc(T* __restrict__ y, const int (&acc)[BN / 2], int row0, int bn, int m,
                                                int n, const float* __restrict__ sx,
                                                const std::int32_t* __restrict__ zx, const float* __restrict__ sw,
                                                const std::int32_t* __restrict__ wsum) {
  const int tid = static_cast<int>(threadIdx.x) % 128, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int row = row0 + (tid / 32) * 16 + g;
#pragma unroll
  for (int j = 0; j < BN / 8; ++j) {
    const int col = bn + 8 * j + 2 * t;
    store_w8a8_pair(y, row, col, acc[4 * j], acc[4 * j + 1], m, n, sx, zx, sw, wsum);
    store_w8a8_pair(y, row + 8, col, acc[4 * j + 2], acc[4 * j + 3], m, n, sx, zx, sw, wsum);
  }
}

// The block width when none is asked for: the wide block reads each activation tile once
// per 256 columns, but needs enough tiles to fill the machine (132 SMs, one block each).
inline int wgmma_default_bn(int m, int n) {
  return static_cast<long long>((n + 255) / 256) * ((m + 127) / 128) >= 100 ? 256 : 128;
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
