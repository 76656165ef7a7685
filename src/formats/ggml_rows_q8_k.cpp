// Q8_K rows (9.125 bits/weight): llama.cpp's intermediate format for activations in
// k-quant dot products, x ~ d*q with fp32 d, q in [-127, 127] and per-16 sums of q.
// A port of quantize_row_q8_K_ref / dequantize_row_q8_K. llama.cpp has no weighted
// quantize_q8_K; ours runs the reference quantizer and ignores the importance weights.
#include <cmath>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "formats/ggml_rows.h"
#include "formats/ggml_scale_search.h"

namespace lowbit::ggml {

void quantize_row_q8_K_ref(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q8_K*>(vy);
  for (std::int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
    block_q8_K& b = y[i];
    float max = 0;
    float amax = 0;
    for (int j = 0; j < QK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0) {
      // ggml zeroes d and qs but leaves bsums as the destination held them; we write
      // the sums of the zero codes (0), which is what ggml yields on zeroed memory.
      std::memset(&b, 0, sizeof(b));
      continue;
    }
    // -127 rather than -128 so q never reaches -128 (llama.cpp: simpler IQ2_XXS AVX dots).
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; ++j) {
      const int v = nearest_int(iscale * x[j]);
      b.qs[j] = static_cast<std::int8_t>(v < 127 ? v : 127);
    }
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += b.qs[j * 16 + ii];
      b.bsums[j] = static_cast<std::int16_t>(sum);
    }
    b.d = 1 / iscale;
  }
}

std::size_t quantize_q8_K(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row, const float*) {
  const std::size_t row_bytes = static_cast<std::size_t>(n_per_row / QK_K) * sizeof(block_q8_K);
  auto* out = static_cast<std::uint8_t*>(dst);
  for (std::int64_t r = 0; r < nrows; ++r)
    quantize_row_q8_K_ref(src + r * n_per_row, out + static_cast<std::size_t>(r) * row_bytes, n_per_row);
  return static_cast<std::size_t>(nrows) * row_bytes;
}

void dequantize_row_q8_K(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q8_K*>(vx);
  for (std::int64_t i = 0; i < k / QK_K; ++i)
    for (int j = 0; j < QK_K; ++j) *y++ = x[i].d * static_cast<float>(x[i].qs[j]);
}

}  // namespace lowbit::ggml
