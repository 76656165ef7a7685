// The pieces the W4A16 kernels share: mma.m16n8k16 with fp32 accumulation, cp.async, and
// the exponent trick that turns 4-bit codes into halves holding offset + q exactly (one
// LOP3 per pair of weights); the m <= 16 kernels apply zero points and scales in a
// per-group fp32 epilogue, the tile kernel to the halves before the mma (dequant).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace lowbit::cuda {

template <class T>
struct HalfOps;

// d += a . b on mma.m16n8k16 with fp32 accumulation; TYPE is the PTX name of the halves.
#define LOWBIT_MMA_M16N8K16(TYPE)                                                                        \
  static __device__ __forceinline__ void mma(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, \
                                             std::uint32_t b1) {                                          \
    asm("mma.sync.aligned.m16n8k16.row.col.f32." TYPE "." TYPE ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, " \
        "{%0,%1,%2,%3};\n"                                                                                \
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                                                   \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));                                   \
  }

// (v - zz) * ss on both halves: v and zz hold offset + q and offset + z exactly, so the
// difference is exact and the product the one rounding of the weight.
#define LOWBIT_DEQUANT_X2(TYPE)                                                                              \
  static __device__ __forceinline__ std::uint32_t dequant(std::uint32_t v, std::uint32_t zz, std::uint32_t ss) { \
    std::uint32_t d;                                                                                         \
    asm("{\n.reg .b32 t;\nsub.rn." TYPE " t, %1, %2;\nmul.rn." TYPE " %0, t, %3;\n}\n"                      \
        : "=r"(d)                                                                                            \
        : "r"(v), "r"(zz), "r"(ss));                                                                         \
    return d;                                                                                                \
  }

// Codes become halves by OR-ing them under an exponent whose unit in the last place is 1:
// offset + q exactly, with offset 128 in bf16 and 1024 in fp16.
template <>
struct HalfOps<__nv_bfloat16> {
  static constexpr std::uint32_t kMagic = 0x43004300u, kOnes = 0x3F803F80u;
  static constexpr float kOffset = 128.f;
  LOWBIT_MMA_M16N8K16("bf16")
  LOWBIT_DEQUANT_X2("bf16x2")
  static __device__ __forceinline__ __nv_bfloat16 from_float(float v) { return __float2bfloat16_rn(v); }
  // An fp16 scale as a pair of bf16 halves (rounded: bf16 keeps 8 of fp16's 11 bits).
  static __device__ __forceinline__ std::uint32_t pair_from_fp16(std::uint16_t h) {
    const std::uint32_t b = __bfloat16_as_ushort(__float2bfloat16_rn(__half2float(__ushort_as_half(h))));
    return b * 0x00010001u;
  }
};

template <>
struct HalfOps<__half> {
  static constexpr std::uint32_t kMagic = 0x64006400u, kOnes = 0x3C003C00u;
  static constexpr float kOffset = 1024.f;
  LOWBIT_MMA_M16N8K16("f16")
  LOWBIT_DEQUANT_X2("f16x2")
  static __device__ __forceinline__ __half from_float(float v) { return __float2half_rn(v); }
  static __device__ __forceinline__ std::uint32_t pair_from_fp16(std::uint16_t h) { return h * 0x00010001u; }
};

#undef LOWBIT_MMA_M16N8K16
#undef LOWBIT_DEQUANT_X2

// 16 bytes global -> shared without passing through registers (cp.async, L2 only).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(d), "l"(gmem));
}

// Weights are read once per call: keep them out of L1, which the activations share.
__device__ __forceinline__ uint4 load_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// Codes q of the pairs (2r, 2r + 1) of a tile word (lowbit/w4a16.h) as offset + q halves.
// One LOP3 computes (w & mask) | magic only when one constant is in a register: written
// in C++, both are immediates and ptxas emits two (a fifth of the m <= 16 kernels'
// instructions went to the second).
template <class T>
__device__ __forceinline__ std::uint32_t w4_pair(std::uint32_t word, int shift) {
  std::uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(r) : "r"(word >> shift), "n"(0x000F000F), "r"(HalfOps<T>::kMagic));
  return r;
}

}  // namespace lowbit::cuda
