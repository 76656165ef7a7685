// The W4A16 path on Hopper's warpgroup MMA (src/kernels/cuda/gemm_w4a16_wgmma__cuda.cu),
// called by gemm_w4a16 when its plan picks it; the caller has checked n % 64 == 0 and
// k % 128 == 0.
#pragma once
#include "lowbit/cuda_gemm.h"

namespace lowbit::cuda::detail {

// per_sm: blocks per multiprocessor the kernel is built for (1, or 2 at m <= 64; 0: 2
// where n makes at most a quarter as many 128-column blocks as there are multiprocessors);
// splits: blocks of a cluster sharing K (1..8; 0 picks by the grid); stages: ring stages
// (0: the default, fewer where the shared memory is short). Rows are taken in chunks of 64,
// 128 or 256 (the MMA's N) by m. kBadShape where K has fewer groups than splits.
int gemm_w4a16_wgmma(Half t, const void* x, const W4A16View& w, void* y, int m, int per_sm, int splits, int stages,
                     void* stream);

}  // namespace lowbit::cuda::detail
