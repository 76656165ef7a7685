// See ggml_cpu_math.h. The constants are those of ggml's ggml_v_expf (AVX2 build); the
// bit manipulations (exponent shift, scale construction) are the same integer ops.
#include "model/ggml_cpu_math.h"

#include <bit>
#include <cmath>
#include <cstdint>

namespace lowbit::model {

float ggml_expf_avx2(float x) {
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const std::uint32_t e = std::bit_cast<std::uint32_t>(z) << 23;
  const float k = std::bit_cast<float>(e + std::bit_cast<std::uint32_t>(1.0f));
  const bool c = std::fabs(n) > 126.0f;
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, 0x1.ffffecp-1f * b);
  if (!c) return std::fma(j, k, k);
  const std::uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
  const float s1 = std::bit_cast<float>(g + 0x7f000000u);
  const float s2 = std::bit_cast<float>(e - g);
  if (std::fabs(n) > 192.0f) return s1 * s1;
  return std::fma(s2, j, s2) * s1;
}

float ggml_silu_avx2(float x) { return x / (1.0f + ggml_expf_avx2(0.0f - x)); }

}  // namespace lowbit::model
