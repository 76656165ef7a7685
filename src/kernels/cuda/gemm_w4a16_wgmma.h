// The W4A16 path on Hopper's warpgroup MMA (src/kernels/cuda/gemm_w4a16_wgmma__cuda.cu),
// called by gemm_w4a16 when its plan picks it; the caller has checked n % 64 == 0 and
// k % 128 == 0.
#pragma once
#include "lowbit/cuda_gemm.h"

namespace lowbit::cuda::detail {

// From tune: rows, the batch rows per block (the MMA's N: 64, 128 or 256; 0: the fewest
// chunks that cover m, smaller where the grid would fill under a quarter of the
// multiprocessors); per_sm, blocks per multiprocessor the kernel is built for (1, or 2 at
// 64 rows; 0: 2 where the grid before K splits fills at most a quarter of them); splits,
// blocks of a cluster sharing K (1..8; 0 picks by the grid); stages, ring stages (0: the
// default, fewer where the shared memory is short). kBadShape where K has fewer groups than
// splits.
int gemm_w4a16_wgmma(Half t, const void* x, const W4A16View& w, void* y, int m, const W4A16Tuning& tune,
                     void* stream);

}  // namespace lowbit::cuda::detail
