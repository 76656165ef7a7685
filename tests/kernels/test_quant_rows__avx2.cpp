// The AVX2 affine row kernels against the reference twin: bit-exact codes, params and
// dequantized floats for every code width, signedness, symmetric/asymmetric params,
// group lengths (1, odd, multiples of 8 and 32, whole row), ragged tails and unaligned
// pointers; and both must flag NaN/Inf. Prints n, group, bits and the first bad index.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/quant_rows.h"

using namespace lowbit;
using namespace lowbit::kernels;

TEST(QuantRowsAvx2, BitExactWithReference) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C; nothing to compare";
  const auto& ref = quant_rows_ref();
  const auto& fast = quant_rows_avx2();
  std::mt19937 rng(11);
  std::student_t_distribution<float> t(4.0f);
  for (std::int64_t n : {1, 7, 8, 31, 32, 33, 100, 257, 1000}) {
    for (std::int64_t group : {std::int64_t{1}, std::int64_t{3}, std::int64_t{8}, std::int64_t{17},
                               std::int64_t{32}, std::int64_t{64}, std::int64_t{128}, n}) {
      for (int offset : {0, 1, 3}) {  // misaligned starts
        std::vector<float> buf(std::size_t(n + offset));
        for (auto& v : buf) v = t(rng) * 0.05f;
        const float* x = buf.data() + offset;
        const std::int64_t ng = (n + group - 1) / group;
        const auto ngs = static_cast<std::size_t>(ng);
        std::vector<float> mn1(ngs), mx1(ngs), mn2(ngs), mx2(ngs);
        ASSERT_TRUE(ref.minmax_groups(x, n, group, mn1.data(), mx1.data()));
        ASSERT_TRUE(fast.minmax_groups(x, n, group, mn2.data(), mx2.data()));
        for (std::int64_t g = 0; g < ng; ++g) {
          // +-0 may differ in sign between orders; the values compare equal.
          ASSERT_TRUE(mn1[std::size_t(g)] == mn2[std::size_t(g)] && mx1[std::size_t(g)] == mx2[std::size_t(g)])
              << "n " << n << " group " << group << " g " << g;
        }
        for (int bits = 2; bits <= 8; ++bits) {
          for (bool sgn : {true, false}) {
            for (bool sym : {true, false}) {
              const IntRange range = int_range(bits, sgn, sym);
              std::vector<AffineParams> p(ngs);
              for (std::int64_t g = 0; g < ng; ++g)
                p[std::size_t(g)] = sym ? choose_symmetric(std::max(-mn1[std::size_t(g)], mx1[std::size_t(g)]), range)
                                        : choose_asymmetric(mn1[std::size_t(g)], mx1[std::size_t(g)], range);
              std::vector<std::uint8_t> c1(std::size_t(n) + 1), c2(std::size_t(n) + 1);
              ref.quantize_groups(x, n, group, p.data(), range, c1.data());
              fast.quantize_groups(x, n, group, p.data(), range, c2.data());
              for (std::int64_t j = 0; j < n; ++j)
                ASSERT_EQ(c1[std::size_t(j)], c2[std::size_t(j)])
                    << "codes: n " << n << " group " << group << " bits " << bits << " signed " << sgn
                    << " sym " << sym << " first bad index " << j;
              std::vector<float> y1(std::size_t(n) + 1), y2(std::size_t(n) + 1);
              ref.dequantize_groups(c1.data(), n, group, p.data(), range, y1.data());
              fast.dequantize_groups(c1.data(), n, group, p.data(), range, y2.data() + 1);
              for (std::int64_t j = 0; j < n; ++j)
                ASSERT_EQ(std::memcmp(&y1[std::size_t(j)], &y2[std::size_t(j) + 1], 4), 0)
                    << "dequant: n " << n << " group " << group << " bits " << bits << " first bad index " << j;
            }
          }
        }
      }
    }
  }
}

TEST(QuantRowsAvx2, BothFlagNonFinite) {
  std::vector<const QuantRowKernels*> ks{&quant_rows_ref()};
  if (cpu_has_avx2()) ks.push_back(&quant_rows_avx2());
  for (const auto* k : ks) {
    for (float bad : {NAN, INFINITY, -INFINITY}) {
      for (std::size_t pos : {0u, 5u, 40u, 99u}) {
        std::vector<float> x(100, 0.5f), mn(4), mx(4);
        x[pos] = bad;
        EXPECT_FALSE(k->minmax_groups(x.data(), 100, 32, mn.data(), mx.data())) << k->name << " pos " << pos;
      }
    }
  }
}

// The AVX2 fp16/bf16 casts against the scalar codecs: every 16-bit pattern one way,
// and 2^22 fp32 patterns (random bits, so NaNs, infinities and subnormals included,
// plus every rounding tie of the low 16 bits) the other, bit for bit.
TEST(QuantRowsAvx2, HalfCastsBitExact) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C; nothing to compare";
  const auto& ref = quant_rows_ref();
  const auto& fast = quant_rows_avx2();
  std::vector<std::uint16_t> all(65536 + 3);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = std::uint16_t(i);
  std::vector<float> a(all.size()), b(all.size());
  for (auto cast : {&QuantRowKernels::fp16_to_fp32, &QuantRowKernels::bf16_to_fp32}) {
    (ref.*cast)(all.data(), std::int64_t(all.size()), a.data());
    (fast.*cast)(all.data(), std::int64_t(all.size()), b.data());
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
  }
  std::mt19937 rng(5);
  std::vector<float> x(std::size_t{1} << 22);
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::uint32_t bits = rng();
    if (i % 4 == 1) bits = (bits & 0xFFFF0000u) | 0x8000u;  // an exact tie for bf16
    std::memcpy(&x[i], &bits, 4);
  }
  std::vector<std::uint16_t> h1(x.size()), h2(x.size());
  for (auto cast : {&QuantRowKernels::fp32_to_fp16, &QuantRowKernels::fp32_to_bf16}) {
    (ref.*cast)(x.data(), std::int64_t(x.size()) - 5, h1.data());
    (fast.*cast)(x.data(), std::int64_t(x.size()) - 5, h2.data());
    for (std::size_t i = 0; i + 5 < x.size(); ++i) ASSERT_EQ(h1[i], h2[i]) << "first bad index " << i;
  }
}
