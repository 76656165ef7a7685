// The AVX2 activation quantizer gives the reference's codes, d and sums exactly: random
// blocks over many magnitudes, all-zero blocks, and exact ties (x * 127/amax = n + 0.5,
// where nearest-even and round-half-away part ways).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/ggml_dot.h"
#include "kernels/quant_rows.h"

using namespace lowbit;

TEST(GgmlQ8Codes, Avx2EqualsReference) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "CPU without AVX2";
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_int_distribution<int> ex(-30, 30);
  const std::int64_t nb = 400;
  std::vector<float> x(static_cast<std::size_t>(nb * 32));
  for (std::int64_t b = 0; b < nb; ++b) {
    const float scale = std::ldexp(1.0f, ex(rng));
    for (int j = 0; j < 32; ++j) {
      float& v = x[static_cast<std::size_t>(b * 32 + j)];
      if (b % 7 == 3) v = 0.0f;                                   // all-zero block
      else if (b % 7 == 5) v = j == 0 ? 127.0f : (j % 2 ? -1.0f : 1.0f) * (j + 0.5f);  // ties at id = 1
      else v = scale * nd(rng);
    }
  }
  // Codes written 3 bytes apart past each block, as in block_q8_1 rows (36-byte stride).
  const std::size_t stride = 35;
  std::vector<std::int8_t> c_ref(static_cast<std::size_t>(nb) * stride, 0), c_avx(c_ref.size(), 0);
  std::vector<float> d_ref(static_cast<std::size_t>(nb)), d_avx(d_ref.size());
  std::vector<std::int32_t> s_ref(static_cast<std::size_t>(nb)), s_avx(s_ref.size());
  kernels::ggml_q8_codes__ref(x.data(), nb, c_ref.data(), stride, d_ref.data(), s_ref.data());
  kernels::ggml_q8_codes__avx2(x.data(), nb, c_avx.data(), stride, d_avx.data(), s_avx.data());
  EXPECT_EQ(c_ref, c_avx);
  EXPECT_EQ(std::memcmp(d_ref.data(), d_avx.data(), d_ref.size() * sizeof(float)), 0);
  EXPECT_EQ(s_ref, s_avx);
  // The ties did round to even: 1.5 -> 2, 2.5 -> 2 (block 5, elements 1 and 2: -1.5, 2.5).
  EXPECT_EQ(c_ref[5 * stride + 1], -2);
  EXPECT_EQ(c_ref[5 * stride + 2], 2);
}
