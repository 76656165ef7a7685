// Row functions of the unquantized ggml types F32, F16 and BF16. ggml converts both
// halves with round-to-nearest-even and quiets NaNs, which is exactly lowbit's fp16.h
// and bf16.h, so these are thin wrappers; the traits table needs them as row functions.
#include <cstring>
#include <span>

#include "formats/ggml_rows.h"
#include "lowbit/bf16.h"
#include "lowbit/fp16.h"

namespace lowbit::ggml {

namespace {
std::size_t n_of(std::int64_t k) { return static_cast<std::size_t>(k); }
}  // namespace

void quantize_row_f32_ref(const float* x, void* y, std::int64_t k) { std::memcpy(y, x, n_of(k) * 4); }
void dequantize_row_f32(const void* x, float* y, std::int64_t k) { std::memcpy(y, x, n_of(k) * 4); }

void quantize_row_f16_ref(const float* x, void* y, std::int64_t k) {
  fp32_to_fp16(std::span<const float>(x, n_of(k)), std::span<std::uint16_t>(static_cast<std::uint16_t*>(y), n_of(k)));
}
void dequantize_row_f16(const void* x, float* y, std::int64_t k) {
  fp16_to_fp32(std::span<const std::uint16_t>(static_cast<const std::uint16_t*>(x), n_of(k)), std::span<float>(y, n_of(k)));
}

void quantize_row_bf16_ref(const float* x, void* y, std::int64_t k) {
  fp32_to_bf16(std::span<const float>(x, n_of(k)), std::span<std::uint16_t>(static_cast<std::uint16_t*>(y), n_of(k)));
}
void dequantize_row_bf16(const void* x, float* y, std::int64_t k) {
  bf16_to_fp32(std::span<const std::uint16_t>(static_cast<const std::uint16_t*>(x), n_of(k)), std::span<float>(y, n_of(k)));
}

// Unquantized types have no importance-weighted search: the weights are ignored, as in
// ggml_quantize_chunk.
#define LOWBIT_PLAIN_QUANTIZE(t, bytes)                                                     \
  std::size_t quantize_##t(const float* src, void* dst, std::int64_t nrows,                 \
                           std::int64_t n_per_row, const float*) {                          \
    quantize_row_##t##_ref(src, dst, nrows * n_per_row);                                    \
    return n_of(nrows * n_per_row) * (bytes);                                               \
  }
LOWBIT_PLAIN_QUANTIZE(f32, 4)
LOWBIT_PLAIN_QUANTIZE(f16, 2)
LOWBIT_PLAIN_QUANTIZE(bf16, 2)
#undef LOWBIT_PLAIN_QUANTIZE

}  // namespace lowbit::ggml
