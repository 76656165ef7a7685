// Portable reference row kernels for affine quantization (see kernels/quant_rows.h):
// literally the per-element definitions from affine.h, so the AVX2 twin is tested
// against the definition itself.
#include <algorithm>
#include <cmath>

#include "kernels/quant_rows.h"
#include "lowbit/bf16.h"
#include "lowbit/fp16.h"

namespace lowbit::kernels {
namespace {

bool minmax_groups_ref(const float* x, std::int64_t n, std::int64_t group, float* mn, float* mx) {
  bool finite = true;
  for (std::int64_t j0 = 0, gi = 0; j0 < n; j0 += group, ++gi) {
    const std::int64_t e = std::min(n, j0 + group);
    float a = x[j0], b = x[j0];
    for (std::int64_t j = j0; j < e; ++j) {
      finite &= std::isfinite(x[j]);
      a = std::min(a, x[j]);
      b = std::max(b, x[j]);
    }
    mn[gi] = a, mx[gi] = b;
  }
  return finite;
}

void quantize_groups_ref(const float* x, std::int64_t n, std::int64_t group, const AffineParams* params,
                         const IntRange& range, std::uint8_t* codes) {
  const std::uint32_t mask = (1u << range.bits) - 1u;
  for (std::int64_t j = 0; j < n; ++j) {
    const std::int32_t q = quantize_value(x[j], params[j / group], range, Rounding::NearestEven);
    codes[j] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(q) & mask);
  }
}

void dequantize_groups_ref(const std::uint8_t* codes, std::int64_t n, std::int64_t group,
                           const AffineParams* params, const IntRange& range, float* out) {
  const std::int32_t half = 1 << (range.bits - 1);
  for (std::int64_t j = 0; j < n; ++j) {
    std::int32_t q = codes[j];
    if (range.is_signed && q >= half) q -= 2 * half;
    out[j] = dequantize_value(q, params[j / group]);
  }
}

void fp32_to_fp16_ref(const float* x, std::int64_t n, std::uint16_t* out) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = lowbit::fp32_to_fp16(x[i]);
}
void fp16_to_fp32_ref(const std::uint16_t* h, std::int64_t n, float* out) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = lowbit::fp16_to_fp32(h[i]);
}
void fp32_to_bf16_ref(const float* x, std::int64_t n, std::uint16_t* out) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = lowbit::fp32_to_bf16(x[i]);
}
void bf16_to_fp32_ref(const std::uint16_t* h, std::int64_t n, float* out) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = lowbit::bf16_to_fp32(h[i]);
}

}  // namespace

const QuantRowKernels& quant_rows_ref() {
  static const QuantRowKernels k{minmax_groups_ref, quantize_groups_ref, dequantize_groups_ref, fp32_to_fp16_ref,
                                 fp16_to_fp32_ref,  fp32_to_bf16_ref,    bf16_to_fp32_ref,      "ref"};
  return k;
}

}  // namespace lowbit::kernels
