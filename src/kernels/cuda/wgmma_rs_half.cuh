// wgmma.m64nNk16 for fp16 / bf16 with the A operand (64 x 16) in registers and B (N x 16,
// K-major) in shared memory behind a descriptor, fp32 accumulation, for N = 64, 128, 256:
// the W4A16 kernel dequantizes weights into A's registers, so they never pass through
// shared memory as halves. A's fragment per warp is mma.m16n8k16's (rows 16w .. 16w + 15).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/cuda/wgmma_operands.cuh"

namespace lowbit::cuda::detail {

// d[64 x N slice of this warpgroup] += A (registers a) . B (N x 16, descriptor b)^T.
template <class T, int N>
struct WgmmaRs;

// The A registers and B's descriptor follow the NACC accumulators in the operand list.
#define LOWBIT_WGMMA_RS(CTYPE, TY, N, NACC, A0, A1, A2, A3, B)                                                 \
  template <>                                                                                                   \
  struct WgmmaRs<CTYPE, N> {                                                                                    \
    static __device__ __forceinline__ void mma(float (&d)[NACC], const std::uint32_t (&a)[4], std::uint64_t b) { \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"                                                 \
                   "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " {" LOWBIT_WGMMA_ACC##NACC##_TEXT \
                   "}, {" A0 ", " A1 ", " A2 ", " A3 "}, " B ", p, 1, 1, 0;\n}\n"                               \
                   : LOWBIT_WGMMA_ACC##NACC("+f", d)                                                            \
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));                                        \
    }                                                                                                           \
  };

LOWBIT_WGMMA_RS(__nv_bfloat16, "bf16", 64, 32, "%32", "%33", "%34", "%35", "%36")
LOWBIT_WGMMA_RS(__half, "f16", 64, 32, "%32", "%33", "%34", "%35", "%36")
LOWBIT_WGMMA_RS(__nv_bfloat16, "bf16", 128, 64, "%64", "%65", "%66", "%67", "%68")
LOWBIT_WGMMA_RS(__half, "f16", 128, 64, "%64", "%65", "%66", "%67", "%68")
LOWBIT_WGMMA_RS(__nv_bfloat16, "bf16", 256, 128, "%128", "%129", "%130", "%131", "%132")
LOWBIT_WGMMA_RS(__half, "f16", 256, 128, "%128", "%129", "%130", "%131", "%132")

#undef LOWBIT_WGMMA_RS

}  // namespace lowbit::cuda::detail
