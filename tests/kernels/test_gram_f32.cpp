// gram_f32 (kernels/gemm_f32.h) computes the blocks on and above the diagonal and mirrors
// the rest; every entry must equal gemm_f32_nt(a, a)'s bit for bit (a product does not
// depend on its operands' order), on ragged sizes around its 48-row blocks and the AVX2
// kernel's 3x4 tiles and 8-lane k steps, with 1 to 3 threads.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/gemm_f32.h"
#include "support/random_vectors.h"

namespace {

TEST(GramF32, EqualsTheFullProductBitForBit) {
  for (std::int64_t n : {1, 2, 3, 5, 47, 48, 49, 97, 150})
    for (std::int64_t k : {1, 7, 8, 9, 64, 131}) {
      std::mt19937 rng(static_cast<unsigned>(1234 + n * 7 + k));
      const std::vector<float> a = lowbit::testing::randn(static_cast<std::size_t>(n * k), rng);
      std::vector<float> full(static_cast<std::size_t>(n * n));
      lowbit::kernels::gemm_f32_nt(a.data(), a.data(), full.data(), n, n, k, 1);
      for (int threads : {1, 2, 3}) {
        std::vector<float> g(full.size(), -1.0f);
        lowbit::kernels::gram_f32(a.data(), g.data(), n, k, threads);
        EXPECT_EQ(std::memcmp(g.data(), full.data(), g.size() * sizeof(float)), 0)
            << "n " << n << ", k " << k << ", threads " << threads;
      }
    }
}

}  // namespace
