// The W4A16 path for m <= 16 (src/kernels/cuda/gemv_w4a16__cuda.cu), called by gemm_w4a16
// when its plan picks it; shapes are checked by the caller (n % 64 == 0, k % 128 == 0).
#pragma once
#include "lowbit/cuda_gemm.h"

namespace lowbit::cuda::detail {

constexpr int kGemvMaxRows = 16;  // two batch chunks of 8 rows

// np: 16-column tile pairs per warp (1, 2, 4); warps: K splits per block (4, 8, 16);
// unroll: groups whose weights are in flight per warp (2, 4); xs_mode: activations staged
// in shared memory (1 never, 2 always, failing when they do not fit). 0 picks the default.
int gemv_w4a16(Half t, const void* x, const W4A16View& w, void* y, int m, int np, int warps, int unroll, int xs_mode,
               void* stream);

// The same product fed by bulk copies into a shared-memory ring (gemv_w4a16_bulk__cuda.cu):
// np tile pairs per block (1, 2), warps consumer warps = groups per stage (4, 8), stages
// in the ring (0: as many as fit). kBadShape where a bulk copy's alignment cannot hold.
int gemv_w4a16_bulk(Half t, const void* x, const W4A16View& w, void* y, int m, int np, int warps, int stages,
                    void* stream);

}  // namespace lowbit::cuda::detail
