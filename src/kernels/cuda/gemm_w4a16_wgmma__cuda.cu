// W4A16 on Hopper's warpgroup MMA (sm_90a): the weights, dequantized in registers, are
// wgmma's A operand (64 output columns per consumer warpgroup), the activations its B
// operand, straight from the tensor copy engine in their natural order. One producer thread
// fills a ring of K groups (activations, weight tiles, scales); K splits across the blocks
// of a thread-block cluster and is summed in distributed shared memory, in rank order.
#include <cooperative_groups.h>
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/cluster_launch.cuh"
#include "kernels/cuda/gemm_w4a16_wgmma.h"
#include "kernels/cuda/gemv_w4a16_group.cuh"
#include "kernels/cuda/multiprocessors.cuh"
#include "kernels/cuda/tma.cuh"
#include "kernels/cuda/w4a16_half_ops.cuh"
#include "kernels/cuda/wgmma_rs_half.cuh"
#include "kernels/cuda/wgmma_s8.cuh"
#include "lowbit/w4a16.h"

namespace lowbit::cuda::detail {
namespace {

namespace cg = cooperative_groups;
using kernels::kW4A16Group;

constexpr int kBN = 128;  // output columns per block: two consumer warpgroups of 64
constexpr int kTiles = kBN / 8;
constexpr int kThreads = 384;
constexpr int kMaxSmem = 227 * 1024;
constexpr int kPartStride = kBN + 4;  // floats per batch row of the partial sums (banks)
static_assert(kPartStride % 4 == 0, "partial rows are read as 16-byte pieces");
constexpr int kMaxSplits = 8;  // blocks in a cluster: the portable limit

// Group j of a block's K range sits in ring stage s, whose mbarriers are in phase phase.
// Counted along with j: dividing by the run-time ring depth compiled to an integer
// division on every group's critical path.
struct RingPosition {
  int j = 0, s = 0, phase = 0;
  __device__ void advance(int stages) {
    ++j;
    if (++s == stages) s = 0, phase ^= 1;
  }
};

// A ring stage holds one group of 128 inputs: the MP activation rows as two 128-byte
// swizzled halves of K (64 inputs each), the block's 16 weight tiles (512 bytes each) and
// their fp16 scales (16 bytes a tile).
template <int MP, int B>
struct Stage {
  static constexpr int kActBytes = MP * kW4A16Group * 2, kWBytes = kTiles * 512, kSBytes = kTiles * 16;
  static constexpr int kTx = kActBytes + kWBytes + kSBytes;  // bytes the copies deliver
  static constexpr int kBytes = (kTx + 1023) / 1024 * 1024;
  static constexpr int kPartBytes = MP * kPartStride * 4;
  // Blocks per multiprocessor the registers are split for: two (at MP = 64 only) give each
  // multiprocessor four consumer warpgroups to cover each one's dequantization.
  static constexpr int kBlocksPerSm = B;
  static_assert(B == 1 || MP == 64, "two blocks per multiprocessor hold only 64-row accumulators");
  // setmaxnreg moves registers within the block's launch-time pool (the cap times 384
  // threads: 80 or 168 each) and an increase waits until the pool has them, forever if it
  // never will: what the producer gives up is all the consumers may take.
  static constexpr int kEntryRegs = kBlocksPerSm == 2 ? 80 : 168, kProducerRegs = kBlocksPerSm == 2 ? 32 : 40;
  static constexpr int kConsumerRegs = kEntryRegs + (kEntryRegs - kProducerRegs) / 2;
  static_assert(kConsumerRegs % 8 == 0 && kConsumerRegs <= 256, "setmaxnreg takes multiples of 8 up to 256");
  static int smem_bytes(int stages) { return std::max(stages * kBytes, kPartBytes) + 2 * stages * 8 + 1024; }
};

template <int N>
__device__ __forceinline__ void fence_regs(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}
template <int N>
__device__ __forceinline__ void fence_regs(std::uint32_t (&d)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) asm volatile("" : "+r"(d[i][j])::"memory");
}

__device__ __forceinline__ uint4 lds128(std::uint32_t addr) {
  uint4 v;
  asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(addr));
  return v;
}
__device__ __forceinline__ std::uint32_t lds16(std::uint32_t addr) {
  unsigned short v;
  asm volatile("ld.shared.u16 %0, [%1];\n" : "=h"(v) : "r"(addr));
  return v;
}

// Lane (g, t) of warp w of consumer warpgroup c holds A rows g and g + 8 of the warp's 16:
// output columns 64c + 16w + g of tile 2(4c + w) and 8 more of the next tile. Step s of a
// group (inputs 16s .. 16s + 15 in B's natural order) needs, per tile, inputs 16s + 2t + {0,
// 1} and + {8, 9}: words 2(s % 2) and 2(s % 2) + 1 of the tile lane (g, s / 2) holds, each at
// nibbles t and t + 4 (lowbit/w4a16.h), so every lane reads the four 16-byte pieces of its
// column and takes one pair from each word.
template <class T, int MP, int B>
__global__ void __launch_bounds__(kThreads, B)
    gemm_w4a16_wgmma_kernel(const __grid_constant__ CUtensorMap map_x, const __grid_constant__ CUtensorMap map_w,
                            const __grid_constant__ CUtensorMap map_s, const std::uint32_t* __restrict__ zeros,
                            T* __restrict__ y, int m, int n, int kt, int stages) {
  using Ops = HalfOps<T>;
  using S = Stage<MP, B>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  cg::cluster_group cluster = cg::this_cluster();
  const int splits = static_cast<int>(cluster.num_blocks()), rank = static_cast<int>(cluster.block_rank());
  const std::uint32_t raw = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem_raw));
  const std::uint32_t ring = (raw + 1023) & ~1023u;
  const std::uint32_t full = ring + max(stages * S::kBytes, S::kPartBytes), empty = full + 8 * stages;
  const int wg = threadIdx.x / 128;
  const int tile0 = blockIdx.x * kTiles, m0 = blockIdx.z * MP;
  const int kb_begin = static_cast<int>(static_cast<long long>(rank) * kt / splits);
  const int groups = static_cast<int>(static_cast<long long>(rank + 1) * kt / splits) - kb_begin;

  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) {
      mbar_init(full + 8 * s, 1);   // the producer's arrive, plus the copies' bytes
      mbar_init(empty + 8 * s, 2);  // one arrive per consumer warpgroup
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  float* part = reinterpret_cast<float*>(smem_raw + (ring - raw));
  const int c = wg - 1, w4 = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  if (wg == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(S::kProducerRegs));
    if (threadIdx.x == 0)
      for (RingPosition at; at.j < groups; at.advance(stages)) {
        const int j = at.j, s = at.s, kb = kb_begin + j;
        // The stage's previous use (j - stages) must have been released by both consumers.
        if (j >= stages) mbar_wait(empty + 8 * s, at.phase ^ 1);
        mbar_expect_tx(full + 8 * s, S::kTx);
        const std::uint32_t st = ring + s * S::kBytes;
        tma_load(st, &map_x, kb * kW4A16Group, m0, full + 8 * s);
        tma_load(st + MP * 128, &map_x, kb * kW4A16Group + 64, m0, full + 8 * s);
        tma_load_4d(st + S::kActBytes, &map_w, 0, 0, kb, tile0, full + 8 * s);
        tma_load(st + S::kActBytes + S::kWBytes, &map_s, kb * 8, tile0, full + 8 * s);
      }
    // The producer warps pass the consumers' two cluster barriers (partials written; all
    // read) and leave the reduction to them, whose registers hold its loads in flight.
    __syncwarp();
    cluster.sync();
    cluster.sync();
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(S::kConsumerRegs));
    float acc[MP / 2];
#pragma unroll
    for (int i = 0; i < MP / 2; ++i) acc[i] = 0.f;
    const int ti0 = 2 * (4 * c + w4), ti1 = ti0 + 1;  // the warp's two tiles in the block
    // Piece (g, u) of tile ti: ring row R = 4 ti + g / 2, chunk (4 (g % 2) + u) ^ (R % 8).
    const auto piece = [&](int ti, int u) {
      const int row = 4 * ti + g / 2;
      return row * 128 + (((4 * (g % 2) + u) ^ (row % 8)) * 16);
    };
    // Zero points two groups ahead: the words come from global memory, not the ring.
    std::uint32_t zw[3][2] = {{0x88888888u, 0x88888888u}, {0x88888888u, 0x88888888u}, {0x88888888u, 0x88888888u}};
    const auto zero_word = [&](int j, int ti) {
      const int tile = tile0 + ti;
      return tile < n / 8 ? __ldg(zeros + static_cast<std::size_t>(tile) * kt + kb_begin + j) : 0x88888888u;
    };
    if (zeros != nullptr)
      for (int j = 0; j < 2 && j < groups; ++j) zw[j][0] = zero_word(j, ti0), zw[j][1] = zero_word(j, ti1);
    std::uint32_t a[8][4];  // the group's eight steps of four registers
    for (RingPosition at; at.j < groups; at.advance(stages)) {
      const int j = at.j, s = at.s;
      if (zeros != nullptr && j + 2 < groups) zw[2][0] = zero_word(j + 2, ti0), zw[2][1] = zero_word(j + 2, ti1);
      mbar_wait(full + 8 * s, at.phase);
      const std::uint32_t st = ring + s * S::kBytes, wt = st + S::kActBytes, sc = wt + S::kWBytes;
      const std::uint32_t ss0 = Ops::pair_from_fp16(static_cast<std::uint16_t>(lds16(sc + (ti0 * 8 + g) * 2)));
      const std::uint32_t ss1 = Ops::pair_from_fp16(static_cast<std::uint16_t>(lds16(sc + (ti1 * 8 + g) * 2)));
      const std::uint32_t zz0 = Ops::kMagic | (((zw[0][0] >> (4 * g)) & 15u) * 0x00010001u);
      const std::uint32_t zz1 = Ops::kMagic | (((zw[0][1] >> (4 * g)) & 15u) * 0x00010001u);
      // ptxas serializes every MMA (C7513) if registers an MMA reads are written while any
      // MMA is in flight, so the last group retires first: its stage goes back, and the
      // other consumer warpgroups' MMAs keep the tensor cores busy meanwhile. With two
      // blocks per multiprocessor the pieces are read after the wait, so their registers
      // are free by the time the A values fill up (no spills at 104 registers).
      uint4 w0[4], w1[4];
      const auto load_pieces = [&] {
#pragma unroll
        for (int u = 0; u < 4; ++u) {
          w0[u] = lds128(wt + piece(ti0, u));
          w1[u] = lds128(wt + piece(ti1, u));
        }
      };
      if (B == 1) load_pieces();
      asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
      if (B == 2) load_pieces();
      fence_regs(a);
      if (j > 0 && threadIdx.x % 128 == 0) mbar_arrive(empty + 8 * (s == 0 ? stages - 1 : s - 1));
#pragma unroll
      for (int step = 0; step < 8; ++step) {
        const int u = step / 2, v = step % 2;
        a[step][0] = Ops::dequant(w4_pair<T>(word_of(w0[u], 2 * v), 4 * t), zz0, ss0);
        a[step][1] = Ops::dequant(w4_pair<T>(word_of(w1[u], 2 * v), 4 * t), zz1, ss1);
        a[step][2] = Ops::dequant(w4_pair<T>(word_of(w0[u], 2 * v + 1), 4 * t), zz0, ss0);
        a[step][3] = Ops::dequant(w4_pair<T>(word_of(w1[u], 2 * v + 1), 4 * t), zz1, ss1);
      }
      // B of step s: K half s / 4, 32 bytes per step inside it. Operands are pinned before
      // the fence, or the compiler sinks their arithmetic between the MMAs (C7513 again).
      std::uint64_t desc[8];
#pragma unroll
      for (int step = 0; step < 8; ++step) {
        desc[step] = smem_desc(st + (step / 4) * MP * 128 + (step % 4) * 32);
        asm volatile("" : "+l"(desc[step])::"memory");
      }
      fence_regs(a);
      fence_regs(acc);
      asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
      for (int step = 0; step < 8; ++step) WgmmaRs<T, MP>::mma(acc, a[step], desc[step]);
      asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
      fence_regs(acc);
#pragma unroll
      for (int i = 0; i < 2; ++i) zw[0][i] = zw[1][i], zw[1][i] = zw[2][i];
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    fence_regs(acc);
    fence_regs(a);
    // Once both consumers' last MMAs have read the ring (named barrier 1, the 256 consumer
    // threads), it holds this block's partial sums, batch row r at r * kPartStride.
    // Accumulator 4i + e: column 16w + g + 8 (e / 2) of the warpgroup's 64, batch row
    // 8i + 2t + e % 2.
    asm volatile("bar.sync 1, 256;\n" ::: "memory");
#pragma unroll
    for (int i = 0; i < MP / 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        part[(8 * i + 2 * t + (e & 1)) * kPartStride + 64 * c + 16 * w4 + g + 8 * (e >> 1)] = acc[4 * i + e];
    cluster.sync();
    // Each block sums a share of the outputs over the ranks, in rank order, four columns at a
    // time with every rank's 16 bytes requested before the first add: one float per load and
    // thread took a quarter of the consumers' time at M = 256 (ncu), all of it waiting on
    // distributed shared memory.
    const int rows = min(MP, m - m0), quads = rows * (kBN / 4);
    const int q_end = static_cast<int>(static_cast<long long>(rank + 1) * quads / splits);
#pragma unroll 2
    for (int q = static_cast<int>(static_cast<long long>(rank) * quads / splits) + threadIdx.x - 128; q < q_end;
         q += kThreads - 128) {
      const int r = q / (kBN / 4), col = 4 * (q % (kBN / 4));
      float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
      for (int k = 0; k < kMaxSplits; ++k)
        if (k < splits) {
          const float4 p = *reinterpret_cast<const float4*>(cluster.map_shared_rank(part, k) + r * kPartStride + col);
          v.x += p.x, v.y += p.y, v.z += p.z, v.w += p.w;
        }
      // n % 64 == 0, so the four columns are all inside or all past n.
      if (tile0 * 8 + col < n) {
        T* out = y + static_cast<std::size_t>(m0 + r) * n + tile0 * 8 + col;
        out[0] = Ops::from_float(v.x), out[1] = Ops::from_float(v.y);
        out[2] = Ops::from_float(v.z), out[3] = Ops::from_float(v.w);
      }
    }
    // No block may leave while another still reads its shared memory.
    cluster.sync();
  }
}

// x: m x k halves, read in boxes of MP rows x 64 inputs (128 bytes), 128-byte swizzled as
// wgmma's K-major B expects; rows past m arrive as zeros.
const CUtensorMap* activation_map(const void* x, int m, std::int64_t k, int mp) {
  return cached_tensor_map(TmaKey{x, m, k, mp, 1}, [&](CUtensorMap* map) {
    const EncodeTiled fn = encode_tiled();
    if (!fn) return CUDA_ERROR_NOT_SUPPORTED;
    const cuuint64_t dims[2] = {static_cast<cuuint64_t>(k), static_cast<cuuint64_t>(m)};
    const cuuint64_t strides[1] = {static_cast<cuuint64_t>(k) * 2};
    const cuuint32_t box[2] = {64, static_cast<cuuint32_t>(mp)}, elem[2] = {1, 1};
    return fn(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, const_cast<void*>(x), dims, strides, box, elem,
              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  });
}

// The weight tiles (n / 8 x k / 128 of 512 bytes, tile-major) as rows of 128 bytes, four
// per tile, boxes of one group of 16 tiles, 128-byte swizzled: 16-byte chunk c of ring row
// R lands at chunk c ^ (R % 8), which spreads the eight pieces a quarter-warp reads over
// all banks. (Rows of 128 bytes keep the copy engine at full rate: an earlier 5-D view
// that moved 16-byte pieces one by one made M = 64 on 8192 x 8192 take 36 us, not 30.)
const CUtensorMap* weight_map(const std::uint32_t* q, std::int64_t n, std::int64_t k) {
  return cached_tensor_map(TmaKey{q, n, k, 0, 2}, [&](CUtensorMap* map) {
    const EncodeTiled fn = encode_tiled();
    if (!fn) return CUDA_ERROR_NOT_SUPPORTED;
    const auto tiles = static_cast<cuuint64_t>(n / 8), kt = static_cast<cuuint64_t>(k / kW4A16Group);
    const cuuint64_t dims[4] = {32, 4, kt, tiles};
    const cuuint64_t strides[3] = {128, 512, kt * 512};
    const cuuint32_t box[4] = {32, 4, 1, kTiles}, elem[4] = {1, 1, 1, 1};
    return fn(map, CU_TENSOR_MAP_DATA_TYPE_UINT32, 4, const_cast<std::uint32_t*>(q), dims, strides, box, elem,
              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  });
}

// fp16 scales [n / 8][k / 128][8] as rows of one tile's groups: boxes of 8 scales x 16 tiles.
const CUtensorMap* scale_map(const std::uint16_t* s, std::int64_t n, std::int64_t k) {
  return cached_tensor_map(TmaKey{s, n, k, 0, 3}, [&](CUtensorMap* map) {
    const EncodeTiled fn = encode_tiled();
    if (!fn) return CUDA_ERROR_NOT_SUPPORTED;
    const auto kt = static_cast<cuuint64_t>(k / kW4A16Group);
    const cuuint64_t dims[2] = {kt * 8, static_cast<cuuint64_t>(n / 8)};
    const cuuint64_t strides[1] = {kt * 16};
    const cuuint32_t box[2] = {8, kTiles}, elem[2] = {1, 1};
    return fn(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, const_cast<std::uint16_t*>(s), dims, strides, box, elem,
              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  });
}

template <class T, int MP, int B>
int launch(const CUtensorMap& mx, const CUtensorMap& mw, const CUtensorMap& ms, const W4A16View& w, void* y, int m,
           int splits, int stages, cudaStream_t s) {
  const int smem = Stage<MP, B>::smem_bytes(stages);
  auto* kernel = gemm_w4a16_wgmma_kernel<T, MP, B>;
  static const cudaError_t configured = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxSmem);
  if (configured != cudaSuccess) return static_cast<int>(configured);
  const dim3 grid(static_cast<unsigned>((w.n + kBN - 1) / kBN), static_cast<unsigned>(splits),
                  static_cast<unsigned>((m + MP - 1) / MP));
  return static_cast<int>(launch_clusters_along_y(kernel, grid, kThreads, smem, s, mx, mw, ms, w.zeros,
                                                  static_cast<T*>(y), m, static_cast<int>(w.n),
                                                  static_cast<int>(w.k / kW4A16Group), stages));
}

template <class T, int MP, int B>
int run(const void* x, const W4A16View& w, void* y, int m, int splits, int stages, cudaStream_t s) {
  using St = Stage<MP, B>;
  const int kt = static_cast<int>(w.k / kW4A16Group);
  const int blocks = static_cast<int>((w.n + kBN - 1) / kBN) * ((m + MP - 1) / MP);
  if (splits < 1 || splits > kMaxSplits) {
    // K splits while the grid stays within one block per multiprocessor: two, or eight
    // where the columns alone fill fewer than an eighth of them. Clusters of 4 ran slower
    // than of 2 or 8 on the H200 at every row count of 4096 x 14336 (44 / 49 / 44 us at
    // M = 64; a 16- or 18-multiprocessor GPC holds only four such clusters of 220 KB
    // blocks), and going past one wave cost more than the split gained.
    // Two 100 KB blocks per multiprocessor leave no GPC short of room for a cluster of 4.
    const int fill = St::kBlocksPerSm * multiprocessors() / blocks;
    splits = fill >= 8 ? 8 : B == 2 && fill >= 4 ? 4 : std::clamp(fill, 1, 2);
    while (splits > 1 && kt / splits < 4) splits /= 2;
  }
  if (splits > kt) return kBadShape;
  // As many stages as fit (at most 8), or 4 where two blocks share a multiprocessor.
  if (stages < 2) stages = St::kBlocksPerSm == 2 ? 4 : 8;
  while (stages > 2 && St::smem_bytes(stages) > kMaxSmem) --stages;
  if (St::smem_bytes(stages) > kMaxSmem) return kBadShape;
  // Each map is copied out as soon as it is found: the next lookup may encode into the
  // cache entry it came from.
  CUtensorMap maps[3];
  const CUtensorMap* found = activation_map(x, m, w.k, MP);
  if (found == nullptr) return static_cast<int>(cudaErrorNotSupported);
  maps[0] = *found;
  if ((found = weight_map(w.qweight, w.n, w.k)) == nullptr) return static_cast<int>(cudaErrorNotSupported);
  maps[1] = *found;
  if ((found = scale_map(w.scales, w.n, w.k)) == nullptr) return static_cast<int>(cudaErrorNotSupported);
  maps[2] = *found;
  return launch<T, MP, B>(maps[0], maps[1], maps[2], w, y, m, splits, stages, s);
}

template <class T>
int pick_rows(const void* x, const W4A16View& w, void* y, int m, W4A16Tuning tune, cudaStream_t s) {
  const long long col_blocks = (w.n + kBN - 1) / kBN, quarter = multiprocessors() / 4;
  const auto chunks = [&](int rows) { return col_blocks * ((m + rows - 1) / rows); };
  // Rows per block: the fewest chunks that cover m, halved while the grid before K splits
  // would fill at most a quarter of the multiprocessors (4096 x 14336, 32 column blocks:
  // two chunks of 128 rows at M = 256, of 64 at M = 128).
  if (tune.rows != 64 && tune.rows != 128 && tune.rows != 256) {
    tune.rows = m <= 64 ? 64 : m <= 128 ? 128 : 256;
    while (tune.rows > 64 && chunks(tune.rows) <= quarter) tune.rows /= 2;
  }
  // Two blocks per multiprocessor where that grid is that thin (4096 x 14336, M = 64: 37 us
  // against 44 with one block and eight K splits), one elsewhere (8192 x 8192: 29 against
  // 31 us; 14336 x 4096: equal), on the H200.
  if (tune.per_sm != 1 && tune.per_sm != 2) tune.per_sm = chunks(64) <= quarter ? 2 : 1;
  if (tune.rows == 64)
    return tune.per_sm == 2 ? run<T, 64, 2>(x, w, y, m, tune.splits, tune.stages, s)
                            : run<T, 64, 1>(x, w, y, m, tune.splits, tune.stages, s);
  if (tune.rows == 128) return run<T, 128, 1>(x, w, y, m, tune.splits, tune.stages, s);
  return run<T, 256, 1>(x, w, y, m, tune.splits, tune.stages, s);
}

}  // namespace

int gemm_w4a16_wgmma(Half t, const void* x, const W4A16View& w, void* y, int m, const W4A16Tuning& tune,
                     void* stream) {
  if (m < 1) return kBadShape;
  auto* s = static_cast<cudaStream_t>(stream);
  return t == Half::BF16 ? pick_rows<__nv_bfloat16>(x, w, y, m, tune, s)
                         : pick_rows<__half>(x, w, y, m, tune, s);
}

}  // namespace lowbit::cuda::detail
