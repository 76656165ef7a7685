// Row kernels behind quantize_tensor/dequantize_tensor for uniform affine codes
// (nearest-even rounding, codes of 1..8 bits). Each exists as __ref (portable, the oracle)
// and __avx2; quant_rows() picks one by cpuid. A row is cut into groups of `group`
// elements (the last may be shorter); params[i] belongs to group i.
#pragma once
#include <cstdint>

#include "lowbit/affine.h"

namespace lowbit::kernels {

struct QuantRowKernels {
  // Per-group min and max. Returns false if any element is NaN or +-Inf.
  bool (*minmax_groups)(const float* x, std::int64_t n, std::int64_t group, float* mn, float* mx);
  // codes[j] = quantize_value(x[j], params[j / group], range, NearestEven) masked to range.bits.
  void (*quantize_groups)(const float* x, std::int64_t n, std::int64_t group, const AffineParams* params,
                          const IntRange& range, std::uint8_t* codes);
  // out[j] = params.scale * (sext(codes[j]) - params.zero_point), sext per range.is_signed.
  void (*dequantize_groups)(const std::uint8_t* codes, std::int64_t n, std::int64_t group,
                            const AffineParams* params, const IntRange& range, float* out);
  // Element casts, bit-exact with the scalar codecs of fp16.h / bf16.h (NaNs included).
  void (*fp32_to_fp16)(const float* x, std::int64_t n, std::uint16_t* out);
  void (*fp16_to_fp32)(const std::uint16_t* h, std::int64_t n, float* out);
  void (*fp32_to_bf16)(const float* x, std::int64_t n, std::uint16_t* out);
  void (*bf16_to_fp32)(const std::uint16_t* h, std::int64_t n, float* out);
  const char* name;
};

const QuantRowKernels& quant_rows_ref();
const QuantRowKernels& quant_rows_avx2();  // only call when cpu_has_avx2()
bool cpu_has_avx2();
// True when the CPU has AVX2+FMA+F16C and LOWBIT_KERNELS=ref (debugging, A/B runs) is
// not set: every dispatcher in src/kernels asks this one question.
bool fast_kernels_enabled();
// The best kernels for this CPU; LOWBIT_KERNELS=ref in the environment forces the reference.
const QuantRowKernels& quant_rows();

}  // namespace lowbit::kernels
