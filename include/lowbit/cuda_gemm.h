// lowbit's CUDA matmuls for Hopper (sm_90a), on device pointers: W4A16 (int4 weights in
// the tile layout of lowbit/w4a16.h, fp16/bf16 activations) and W8A8 (int8 x int8 with
// per-token and per-channel scales). Bad shapes return kBadShape, CUDA failures their
// cudaError_t value; builds without nvcc return kNoCuda (src/kernels/cuda_absent.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lowbit/w4a16.h"

namespace lowbit::cuda {

enum class Half { F16, BF16 };

constexpr int kBadShape = -1;
constexpr int kNoCuda = -2;

struct W4A16View {
  const std::uint32_t* qweight = nullptr;  // device copies of W4A16Weights' arrays
  const std::uint16_t* scales = nullptr;
  const std::uint32_t* zeros = nullptr;    // null: symmetric
  std::int64_t n = 0, k = 0;
};

// Overrides of the launch plan for benchmarks (0: the built-in choice). path 1 forces the
// shared-memory tile kernel, 2 the m <= 16 kernel (weights as mma's A operand). Tile
// kernel: 16-row tiles per block (1, 2, 4), 8-column tiles per warp (2, 4), warps per
// block (4, 8), K splits. m <= 16 kernel: warps per block (4, 8, 16), 16-column tile pairs
// per warp (np: 1, 2, 4), groups in flight per warp (unroll: 2, 4), activations staged in
// shared memory (xs: 1 no, 2 yes). path 3: the m <= 16 product fed by bulk copies: tile
// pairs per block (np: 1, 2), consumer warps (4, 8), stages in the shared-memory ring.
// path 4: the cluster kernel (weights as mma's A, up to 8 batch chunks of 8 rows, K split
// over a thread-block cluster; m <= 64): tile pairs per warp (np: 1, 2), warps per block
// (4, 8), splits (blocks per cluster, 1..8). The default takes it for 16 < m <= 32 when
// n < 8192.
// path 5: the wgmma kernel (weights dequantized into the MMA's A registers, activations
// fed by the tensor copy engine, K split over a cluster): rows (batch rows per block: 64,
// 128 or 256), splits (blocks per cluster, 1..8), stages in the ring, per_sm (blocks per
// multiprocessor the registers are split for: 1, or 2 at 64 rows). The default takes it
// for m > 32, and for m > 16 when n >= 8192.
struct W4A16Tuning {
  int nt = 0, splits = 0, mt = 0, warps = 0;
  int path = 0, np = 0, unroll = 0, xs = 0;
  int stages = 0, per_sm = 0, rows = 0;
};

// Device bytes gemm_w4a16 needs as scratch for this shape (split-K partial sums and
// their arrival counters; none for the m <= 64 kernels, which split K inside a block or a
// cluster: 0). Zero it once before the first call: each call leaves the counters at zero
// again.
std::size_t gemm_w4a16_workspace_bytes(int m, std::int64_t n, std::int64_t k, W4A16Tuning tune = {});

// y[m][n] = x[m][k] . W^T, x and y of type t, row-major, 16-byte aligned; 1 <= m.
// Needs n % 64 == 0 and k % 128 == 0. Deterministic: split-K partials are summed in a
// fixed order. `stream` is a cudaStream_t (null: the default stream).
int gemm_w4a16(Half t, const void* x, const W4A16View& w, void* y, int m, void* workspace, void* stream,
               W4A16Tuning tune = {});

// W8A8 plan overrides for benchmarks (0: the built-in choice). path 1 forces the mma.sync
// kernel, 2 the wgmma kernel fed by cp.async, 3 the wgmma kernel fed by the tensor copy
// engine, one block per tile, 4 that kernel persistent, one block per multiprocessor (2-4:
// k % 128 == 0 only); bn is a wgmma kernel's block width on N (128 or 256).
// probe and band are for the benchmark's diagnosis of the TMA kernel (paths 0, 3, 4). probe
// bits: 1 no copies after the ring's first fill (the MMAs run on stale stages), 2 K tile 0
// copied every stage (L2-resident), 4 no MMAs, 8 no outputs written (each of these leaves
// y wrong), 16 outputs stored from the MMA fragments directly rather than through shared
// memory. band: row tiles per band of the tile walk (0: 2 for 256-column blocks, else 8).
struct W8A8Tuning {
  int path = 0, bn = 0;
  int probe = 0, band = 0;
};
// The longest K a W8A8 call takes: the int32 sums, zero-point term included, are exact as
// long as the true value fits, |sum_j (xq - zx) * wq| <= k * 255 * 128 < 2^31 (wrapping
// int32 arithmetic lands on it whatever the intermediate steps do); docs/numerics.md.
constexpr std::int64_t kW8A8MaxK = 65536;
// y[m][n] = sx[m] * sw[n] * (sum_j xq[m][j] * wq[n][j] - zx[m] * wsum[n]) for int8 xq
// [m][k] and wq [n][k] (row-major, k % 64 == 0, k <= kW8A8MaxK, n % 8 == 0), zx in
// [-128, 127], fp32 scales, the per-token
// zero point zx (null: symmetric) and wsum[n] = sum_j wq[n][j] precomputed offline
// (null when zx is). Output of type t. k % 128 == 0 runs on wgmma fed by TMA (sm_90a).
int gemm_w8a8(Half t, const std::int8_t* xq, const float* sx, const std::int32_t* zx, const std::int8_t* wq,
              const float* sw, const std::int32_t* wsum, void* y, int m, std::int64_t n, std::int64_t k, void* stream,
              W8A8Tuning tune = {});

// Host convenience for tests and tools: uploads x (fp16/bf16 bits, [m][k]) and the
// weights, runs gemm_w4a16 on device 0 and returns y ([m][n], same type), or fails with
// lowbit::Error naming the CUDA error. Not for hot loops: it allocates every call.
std::vector<std::uint16_t> gemm_w4a16_host(Half t, const std::uint16_t* x, const kernels::W4A16Weights& w, int m,
                                           W4A16Tuning tune = {});

// The same for W8A8 with symmetric or per-token asymmetric activations (zx may be null).
std::vector<std::uint16_t> gemm_w8a8_host(Half t, const std::int8_t* xq, const float* sx, const std::int32_t* zx,
                                          const std::int8_t* wq, const float* sw, int m, std::int64_t n, std::int64_t k,
                                          W8A8Tuning tune = {});

}  // namespace lowbit::cuda
