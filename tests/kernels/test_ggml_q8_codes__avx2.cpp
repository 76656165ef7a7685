// The AVX2 activation quantizer gives the reference's codes, d and sums exactly: random
// blocks over many magnitudes, all-zero blocks, and exact ties (x * 127/amax = n + 0.5,
// where nearest-even and round-half-away part ways).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "formats/ggml_blocks.h"
#include "formats/ggml_rows.h"
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

// Q8_K rows (256-blocks, the activations of Q4_K / Q6_K matmuls): the AVX2 quantizer
// writes the reference's bytes for random blocks over many magnitudes, all-zero blocks,
// blocks whose largest magnitude appears with both signs (the first one sets the codes'
// sign), ties at n + 0.5, NaNs (skipped by amax) beside finite values, infinities, and
// maxima so small that -127 / max overflows.
TEST(GgmlQ8Codes, Q8KRowAvx2EqualsReference) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "CPU without AVX2";
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_int_distribution<int> ex(-30, 30), pos(0, 255);
  const std::int64_t nb = 300;
  std::vector<float> x(static_cast<std::size_t>(nb * 256));
  for (std::int64_t b = 0; b < nb; ++b) {
    float* v = x.data() + b * 256;
    const float scale = std::ldexp(1.0f, ex(rng));
    for (int j = 0; j < 256; ++j) v[j] = scale * nd(rng);
    switch (b % 6) {
      case 1: std::fill(v, v + 256, 0.0f); break;
      case 2: {  // +-m at two places, either order
        const int i0 = pos(rng), i1 = pos(rng);
        const float mag = 8.0f * scale;
        v[i0] = b % 12 < 6 ? mag : -mag;
        v[i1] = i1 == i0 ? v[i0] : -v[i0];
        break;
      }
      case 3:
        v[0] = 127.0f;
        for (int j = 1; j < 256; ++j) v[j] = (j % 2 ? -1.0f : 1.0f) * static_cast<float>(j % 120) + 0.5f;
        break;
      case 4:
        v[pos(rng)] = std::nanf("");
        if (b % 12 >= 6) v[pos(rng)] = -INFINITY;
        break;
      case 5:
        for (int j = 0; j < 256; ++j) v[j] *= 1e-38f;
        break;
      default: break;
    }
  }
  std::vector<ggml::block_q8_K> ref(static_cast<std::size_t>(nb)), avx(ref.size());
  std::memset(ref.data(), 0x5A, ref.size() * sizeof(ref[0]));
  std::memset(avx.data(), 0x5A, avx.size() * sizeof(avx[0]));
  ggml::quantize_row_q8_K_ref(x.data(), ref.data(), nb * 256);
  kernels::ggml_quantize_row_q8_K__avx2(x.data(), avx.data(), nb * 256);
  for (std::int64_t b = 0; b < nb; ++b)
    ASSERT_EQ(std::memcmp(&ref[static_cast<std::size_t>(b)], &avx[static_cast<std::size_t>(b)], sizeof(ref[0])), 0)
        << "block " << b << " (kind " << b % 6 << ")";
}
