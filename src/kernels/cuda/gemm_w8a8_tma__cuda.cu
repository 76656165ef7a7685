// W8A8 matmul on wgmma fed by the tensor copy engine (TMA, cp.async.bulk.tensor): the
// contract of gemm_w8a8 for k % 128 == 0, as the cp.async wgmma kernel, but warp-
// specialized. One warpgroup only issues copies (one thread, two TMA per stage, 40
// registers); two consumer warpgroups of 64 rows wait on a stage's mbarrier, multiply, and
// release it on another, so no block-wide barrier and no per-thread copy issue sits
// between one stage's MMAs and the next.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/gemm_w8a8_ops.cuh"
#include "kernels/cuda/gemm_w8a8_wgmma.h"
#include "kernels/cuda/wgmma_s8.cuh"

namespace lowbit::cuda::detail {
namespace {

constexpr int kBM = 128, kBK = kW8A8WgmmaK, kThreads = 384;
constexpr int kRingBytes = 220 * 1024;

template <int BN>
struct TmaRing {
  static constexpr int kABytes = kBM * kBK, kStageBytes = (kBM + BN) * kBK;
  static constexpr int kStages = kRingBytes / kStageBytes;
  // The ring, the full and empty mbarriers (8 bytes each), and slack to align the ring's
  // swizzle atoms to 1024 bytes.
  static constexpr int kSmemBytes = kStages * kStageBytes + 2 * kStages * 8 + 1024;
};

__device__ __forceinline__ void mbar_init(std::uint32_t bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(std::uint32_t bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(std::uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Returns once the barrier's phase of this parity has completed.
__device__ __forceinline__ void mbar_wait(std::uint32_t bar, unsigned parity) {
  unsigned done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}
// A box of the 2-D tensor map at (inner coordinate c0 = k, outer c1 = row) into shared
// memory, counted on the mbarrier; rows past the tensor's end arrive as zeros.
__device__ __forceinline__ void tma_load(std::uint32_t dst, const CUtensorMap* map, int c0, int c1,
                                         std::uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          dst),
      "l"(reinterpret_cast<std::uint64_t>(map)), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}

template <class T, int BN>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_w8a8_tma_kernel(const __grid_constant__ CUtensorMap map_x, const __grid_constant__ CUtensorMap map_w,
                         const float* __restrict__ sx, const std::int32_t* __restrict__ zx,
                         const float* __restrict__ sw, const std::int32_t* __restrict__ wsum, T* __restrict__ y, int m,
                         int n, int k) {
  using R = TmaRing<BN>;
  extern __shared__ __align__(16) std::int8_t smem_raw[];
  const std::uint32_t raw = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem_raw));
  const std::uint32_t ring = (raw + 1023) & ~1023u;
  const std::uint32_t full = ring + R::kStages * R::kStageBytes, empty = full + 8 * R::kStages;
  const int wg = threadIdx.x / 128;
  int bm, bn;
  banded_tile<kBM, BN>(m, n, bm, bn);
  const int ktiles = k / kBK;

  if (threadIdx.x == 0) {
    for (int s = 0; s < R::kStages; ++s) {
      mbar_init(full + 8 * s, 1);   // the producer's arrive, plus the copies' bytes
      mbar_init(empty + 8 * s, 2);  // one arrive per consumer warpgroup
    }
  }
  __syncthreads();

  if (wg == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) {
      for (int kt = 0; kt < ktiles; ++kt) {
        const int s = kt % R::kStages;
        // The stage's previous tile (kt - kStages) must have been released by both consumers.
        if (kt >= R::kStages) mbar_wait(empty + 8 * s, ((kt / R::kStages) & 1) ^ 1);
        mbar_expect_tx(full + 8 * s, R::kStageBytes);
        const std::uint32_t a = ring + s * R::kStageBytes;
        tma_load(a, &map_x, kt * kBK, bm, full + 8 * s);
        tma_load(a + R::kABytes, &map_w, kt * kBK, bn, full + 8 * s);
      }
    }
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int c = wg - 1, tid = threadIdx.x % 128, warp = tid / 32, lane = tid % 32;
    int acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) acc[i] = 0;
    for (int kt = 0; kt < ktiles; ++kt) {
      const int s = kt % R::kStages;
      mbar_wait(full + 8 * s, (kt / R::kStages) & 1);
      const std::uint32_t a = ring + s * R::kStageBytes + c * 64 * kBK, b = ring + s * R::kStageBytes + R::kABytes;
      fence_acc(acc);
      asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
      for (int ks = 0; ks < kBK / 32; ++ks) wgmma_s8<BN>(acc, smem_desc(a + 32 * ks), smem_desc(b + 32 * ks));
      asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
      // The group of tile kt - 1 has retired: its stage goes back to the producer.
      asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
      fence_acc(acc);
      if (kt > 0 && tid == 0) mbar_arrive(empty + 8 * ((kt - 1) % R::kStages));
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    fence_acc(acc);

    const int g = lane / 4, t = lane % 4, row0 = bm + c * 64 + warp * 16 + g;
#pragma unroll
    for (int j = 0; j < BN / 8; ++j) {
      const int col = bn + 8 * j + 2 * t;
      store_w8a8_pair(y, row0, col, acc[4 * j], acc[4 * j + 1], m, n, sx, zx, sw, wsum);
      store_w8a8_pair(y, row0 + 8, col, acc[4 * j + 2], acc[4 * j + 3], m, n, sx, zx, sw, wsum);
    }
  }
}

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                 const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                 CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

// The driver's tensor-map encoder through the runtime (no link against libcuda).
EncodeTiled encode_tiled() {
  static const EncodeTiled fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
      return EncodeTiled{nullptr};
    return reinterpret_cast<EncodeTiled>(p);
  }();
  return fn;
}

// rows x k int8, row-major, read in boxes of box_rows x 128 bytes landing 128-byte swizzled.
bool int8_rows_map(CUtensorMap* map, const std::int8_t* p, int rows, int k, int box_rows) {
  const EncodeTiled fn = encode_tiled();
  if (!fn) return false;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(k), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(k)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(kBK), static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t elem[2] = {1, 1};
  return fn(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<std::int8_t*>(p), dims, strides, box, elem,
            CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
            CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <class T, int BN>
int launch(const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq, const float* sw,
           const std::int32_t* wsum, void* y, int m, int n, int k, cudaStream_t s) {
  constexpr int smem = TmaRing<BN>::kSmemBytes;
  static bool configured = false;
  if (!configured) {
    const cudaError_t e =
        cudaFuncSetAttribute(gemm_w8a8_tma_kernel<T, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) return static_cast<int>(e);
    configured = true;
  }
  CUtensorMap map_x, map_w;
  if (!int8_rows_map(&map_x, xq, m, k, kBM) || !int8_rows_map(&map_w, wq, n, k, BN))
    return static_cast<int>(cudaErrorNotSupported);
  const unsigned grid = static_cast<unsigned>((n + BN - 1) / BN) * static_cast<unsigned>((m + kBM - 1) / kBM);
  gemm_w8a8_tma_kernel<T, BN><<<grid, kThreads, smem, s>>>(map_x, map_w, sx, zx, sw, wsum, static_cast<T*>(y), m, n, k);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int gemm_w8a8_tma(Half t, const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq,
                  const float* sw, const std::int32_t* wsum, void* y, int m, int n, int k, int bn, cudaStream_t s) {
  if (bn == 0) bn = static_cast<long long>((n + 255) / 256) * ((m + kBM - 1) / kBM) >= 100 ? 256 : 128;
  if (t == Half::BF16)
    return bn == 128 ? launch<__nv_bfloat16, 128>(xq, sx, zx, wq, sw, wsum, y, m, n, k, s)
                     : launch<__nv_bfloat16, 256>(xq, sx, zx, wq, sw, wsum, y, m, n, k, s);
  return bn == 128 ? launch<__half, 128>(xq, sx, zx, wq, sw, wsum, y, m, n, k, s)
                   : launch<__half, 256>(xq, sx, zx, wq, sw, wsum, y, m, n, k, s);
}

}  // namespace lowbit::cuda::detail
