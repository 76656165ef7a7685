// The W4A16 path for 16 < m <= 64 (src/kernels/cuda/gemm_w4a16_cluster__cuda.cu), called by
// gemm_w4a16 when its plan picks it; the caller has checked n % 64 == 0 and k % 128 == 0.
#pragma once
#include "lowbit/cuda_gemm.h"

namespace lowbit::cuda::detail {

constexpr int kClusterMaxRows = 64;  // eight batch chunks of 8 rows

// np: 16-column tile pairs per warp (1, 2); warps: warps per block side by side on N (4,
// 8); splits: blocks of a cluster sharing K (1..8). 0 picks the default; a block too wide
// for n narrows. kBadShape where K has fewer groups than splits.
int gemm_w4a16_cluster(Half t, const void* x, const W4A16View& w, void* y, int m, int np, int warps, int splits,
                       void* stream);

}  // namespace lowbit::cuda::detail
