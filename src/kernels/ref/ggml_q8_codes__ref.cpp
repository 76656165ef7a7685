// Portable twin of the activation quantizer llama.cpp's AVX2 build runs before Q8_0/Q8_1
// dot products (quantize_row_q8_0/_1 in ggml-cpu/arch/x86/quants.c).
#include <cmath>

#include "kernels/ggml_dot.h"

namespace lowbit::kernels {

void ggml_q8_codes__ref(const float* x, std::int64_t nb, std::int8_t* codes, std::size_t code_stride, float* d,
                       std::int32_t* sums) {
  for (std::int64_t b = 0; b < nb; ++b, x += 32, codes += code_stride) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    std::int32_t sum = 0;
    for (int j = 0; j < 32; ++j) {
      const float q = std::nearbyint(x[j] * id);  // default rounding mode: nearest-even, as _mm256_round_ps
      sum += static_cast<std::int32_t>(q);
      codes[j] = static_cast<std::int8_t>(q);
    }
    d[b] = amax / 127.0f;
    sums[b] = sum;
  }
}

}  // namespace lowbit::kernels
