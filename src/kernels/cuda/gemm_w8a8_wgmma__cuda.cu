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

// Pins the accumulators in registers around the asynchronous MMAs: without it the compiler
// may move or copy them while a wgmma is still writing them.
template <int N>
__device__ __forceinline__ void fence_acc(int (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(d[i])::"memory");
}

template <class T, int BN>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_w8a8_wgmma_kernel(const std::int8_t* __restrict__ xq, const float* __restrict__ sx,
                           const std::int32_t* __restrict__ zx, const std::int8_t* __restrict__ wq,
                           const float* __restrict__ sw, const std::int32_t* __restrict__ wsum, T* __restrict__ y, int m,
                           int n, int k) {
  extern __shared__ __align__(16) std::int8_t smem_raw[];
  std::int8_t* smem = smem_raw + ((1024 - (static_cast<unsigned>(__cvta_generic_to_shared(smem_raw)) & 1023)) & 1023);
  const int tid = threadIdx.x, wg = tid / 128, warp = (tid % 128) / 32, lane = tid % 32;
  // Blocks walk the output in bands of kBand row tiles, down each column of the band
  // first: the blocks running at once share few activation and weight tiles, so they
  // meet in L2 instead of each wave streaming the whole weight from memory.
  constexpr int kBand = 8;
  const int tiles_m = (m + kBM - 1) / kBM, tiles_n = (n + BN - 1) / BN;
  const int band = blockIdx.x / (kBand * tiles_n), first = band * kBand;
  const int band_rows = min(tiles_m - first, kBand), in_band = blockIdx.x % (kBand * tiles_n);
  const int bm = (first + in_band % band_rows) * kBM, bn = (in_band / band_rows) * BN;
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

  // Accumulator fragment of m64nN: registers 4j..4j+3 hold columns 8j + 2t, +1 of rows g
  // and g + 8 of the warp's 16 rows (g = lane / 4, t = lane % 4).
  const int g = lane / 4, t = lane % 4, row0 = bm + wg * 64 + warp * 16 + g;
#pragma unroll
  for (int j = 0; j < BN / 8; ++j) {
    const int col = bn + 8 * j + 2 * t;
    store_w8a8_pair(y, row0, col, acc[4 * j], acc[4 * j + 1], m, n, sx, zx, sw, wsum);
    store_w8a8_pair(y, row0 + 8, col, acc[4 * j + 2], acc[4 * j + 3], m, n, sx, zx, sw, wsum);
  }
}

template <class T, int BN>
int launch(const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq, const float* sw,
           const std::int32_t* wsum, void* y, int m, int n, int k, cudaStream_t s) {
  constexpr int smem = Ring<BN>::kSmemBytes;
  static bool configured = false;
  if (!configured) {
    const cudaError_t e =
        cudaFuncSetAttribute(gemm_w8a8_wgmma_kernel<T, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) return static_cast<int>(e);
    configured = true;
  }
  const unsigned grid = static_cast<unsigned>((n + BN - 1) / BN) * static_cast<unsigned>((m + kBM - 1) / kBM);
  gemm_w8a8_wgmma_kernel<T, BN><<<grid, kThreads, smem, s>>>(xq, sx, zx, wq, sw, wsum, static_cast<T*>(y), m, n, k);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int gemm_w8a8_wgmma(Half t, const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq,
                    const float* sw, const std::int32_t* wsum, void* y, int m, int n, int k, int bn, cudaStream_t s) {
  if (bn == 0) {
    // The wide block reads each activation tile once per 256 columns, but needs enough
    // blocks to fill the machine (132 SMs on an H100, one block each).
    const long long wide_blocks = static_cast<long long>((n + 255) / 256) * ((m + kBM - 1) / kBM);
    bn = wide_blocks >= 100 ? 256 : 128;
  }
  if (t == Half::BF16)
    return bn == 128 ? launch<__nv_bfloat16, 128>(xq, sx, zx, wq, sw, wsum, y, m, n, k, s)
                     : launch<__nv_bfloat16, 256>(xq, sx, zx, wq, sw, wsum, y, m, n, k, s);
  return bn == 128 ? launch<__half, 128>(xq, sx, zx, wq, sw, wsum, y, m, n, k, s)
                   : launch<__half, 256>(xq, sx, zx, wq, sw, wsum, y, m, n, k, s);
}

}  // namespace lowbit::cuda::detail
