// ggml-order block dot products: the AVX2 kernels equal their reference twins bit for
// bit (random blocks, 1..48 blocks, unaligned rows), and the reference is the true dot
// product of the decoded blocks within the rounding bound of its order: n/256 + 4 fp32
// roundings per term ((blocks + 4) * 2^-24 * sum |terms|); the same for the k-quant dots
// (Q4_K, Q5_K, Q6_K x Q8_K) on rows of 256..4096. The fp32 matmul kernel pair is held to the
// bound its header states.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "formats/ggml_blocks.h"
#include "kernels/gemm_f32.h"
#include "kernels/ggml_dot.h"
#include "kernels/quant_rows.h"
#include "lowbit/fp16.h"
#include "model/ggml_cpu_activations.h"

using namespace lowbit;
using ggml::Type;

namespace {

constexpr double kU = 0x1p-24;

std::uint16_t random_half(std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> e(lo, hi);
  return fp32_to_fp16(std::exp2(e(rng)) * ((rng() & 1) ? -1.f : 1.f));
}

// Random weight blocks of type t (random codes, finite fp16 scales) at byte offset 2.
std::vector<std::uint8_t> weight_blocks(Type t, std::int64_t nb, std::mt19937& rng) {
  const auto& tr = ggml::traits(t);
  std::vector<std::uint8_t> b(static_cast<std::size_t>(nb) * tr.type_size + 2);
  for (auto& v : b) v = static_cast<std::uint8_t>(rng());
  for (std::int64_t i = 0; i < nb; ++i) {
    std::uint8_t* blk = b.data() + 2 + i * tr.type_size;
    std::uint16_t h = random_half(rng, -12.f, 0.f);
    std::memcpy(blk, &h, 2);
    if (t == Type::Q4_1) {
      h = random_half(rng, -12.f, 0.f);
      std::memcpy(blk + 2, &h, 2);
    }
    if (t == Type::Q8_0)  // ggml's quantizers never write -128; the kernels need not care either way
      for (int j = 0; j < 32; ++j) blk[2 + j] = static_cast<std::uint8_t>(std::max<int>(-127, static_cast<std::int8_t>(blk[2 + j])));
  }
  return b;
}

// Activation blocks as the runtime makes them, from heavy-tailed random rows, at offset 2.
std::vector<std::uint8_t> activation_blocks(Type t, std::int64_t nb, std::mt19937& rng) {
  std::student_t_distribution<float> d(3.0f);
  std::vector<float> x(static_cast<std::size_t>(nb * 32));
  for (auto& v : x) v = d(rng);
  const auto q = model::ggml_quantize_activations(model::ggml_vec_dot_type(t), x.data(), 1, nb * 32);
  std::vector<std::uint8_t> b(q.size() + 2);
  std::memcpy(b.data() + 2, q.data(), q.size());
  return b;
}

// The exact dot of the decoded blocks and the sum of |terms| it is built from.
void exact_dot(Type t, const std::uint8_t* w, const std::uint8_t* x, std::int64_t nb, double* dot, double* mag) {
  *dot = 0;
  *mag = 0;
  for (std::int64_t i = 0; i < nb; ++i) {
    int qw[32];
    const std::int8_t* qx;
    double dw, dx, min_term = 0;
    if (t == Type::Q8_1 || t == Type::Q4_1) {
      ggml::block_q4_1 a;
      ggml::block_q8_1 b;
      std::memcpy(&a, w + i * sizeof a, sizeof a);
      std::memcpy(&b, x + i * sizeof b, sizeof b);
      for (int j = 0; j < 16; ++j) qw[j] = a.qs[j] & 15, qw[j + 16] = a.qs[j] >> 4;
      dw = fp16_to_fp32(a.d), dx = fp16_to_fp32(b.d);
      min_term = static_cast<double>(fp16_to_fp32(a.m)) * fp16_to_fp32(b.s);
      int s = 0;
      for (int j = 0; j < 32; ++j) s += qw[j] * b.qs[j];
      *dot += dw * dx * s + min_term;
      int sa = 0;
      for (int j = 0; j < 32; ++j) sa += std::abs(qw[j] * b.qs[j]);
      *mag += std::fabs(dw * dx) * sa + std::fabs(min_term);
      continue;
    }
    ggml::block_q8_0 b;
    std::memcpy(&b, x + i * sizeof b, sizeof b);
    qx = b.qs;
    if (t == Type::Q4_0) {
      ggml::block_q4_0 a;
      std::memcpy(&a, w + i * sizeof a, sizeof a);
      for (int j = 0; j < 16; ++j) qw[j] = (a.qs[j] & 15) - 8, qw[j + 16] = (a.qs[j] >> 4) - 8;
      dw = fp16_to_fp32(a.d);
    } else if (t == Type::Q5_0) {
      // The fifth bit of weight j is bit j % 8 of qh[j / 8] (ggml's dequantize_row_q5_0).
      ggml::block_q5_0 a;
      std::memcpy(&a, w + i * sizeof a, sizeof a);
      for (int j = 0; j < 16; ++j) {
        qw[j] = (a.qs[j] & 15) + 16 * ((a.qh[j / 8] >> (j % 8)) & 1) - 16;
        qw[j + 16] = (a.qs[j] >> 4) + 16 * ((a.qh[(j + 16) / 8] >> ((j + 16) % 8)) & 1) - 16;
      }
      dw = fp16_to_fp32(a.d);
    } else {
      ggml::block_q8_0 a;
      std::memcpy(&a, w + i * sizeof a, sizeof a);
      for (int j = 0; j < 32; ++j) qw[j] = a.qs[j];
      dw = fp16_to_fp32(a.d);
    }
    dx = fp16_to_fp32(b.d);
    int s = 0, sa = 0;
    for (int j = 0; j < 32; ++j) s += qw[j] * qx[j], sa += std::abs(qw[j] * qx[j]);
    *dot += dw * dx * s;
    *mag += std::fabs(dw * dx) * sa;
  }
}

class GgmlDot : public ::testing::TestWithParam<Type> {};

TEST_P(GgmlDot, Avx2EqualsReferenceAndReferenceIsTheDotWithinItsBound) {
  const Type t = GetParam();
  std::mt19937 rng(1234 + static_cast<int>(t));
  const auto ref = kernels::ggml_dot_kernel(t, true);
  ASSERT_NE(ref, nullptr);
  const bool avx2 = kernels::fast_kernels_enabled();
  if (!avx2) std::printf("no AVX2+FMA+F16C on this CPU: only the reference bound is checked\n");
  const auto fast = kernels::ggml_dot_kernel(t);
  for (std::int64_t nb : {1, 2, 3, 7, 18, 48}) {
    for (int rep = 0; rep < 200; ++rep) {
      const auto w = weight_blocks(t, nb, rng);
      const auto x = activation_blocks(t, nb, rng);
      const float r = ref(w.data() + 2, x.data() + 2, nb * 32);
      if (avx2) {
        const float f = fast(w.data() + 2, x.data() + 2, nb * 32);
        ASSERT_EQ(std::bit_cast<std::uint32_t>(r), std::bit_cast<std::uint32_t>(f)) << nb << " blocks, rep " << rep;
      }
      double e, mag;
      exact_dot(t, w.data() + 2, x.data() + 2, nb, &e, &mag);
      ASSERT_LE(std::fabs(r - e), (static_cast<double>(nb) + 4) * kU * mag + 1e-30) << nb << " blocks, rep " << rep;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, GgmlDot, ::testing::Values(Type::Q4_0, Type::Q5_0, Type::Q4_1, Type::Q8_0),
                         [](const auto& i) { return std::string(ggml::traits(i.param).name); });

// k-quant weight blocks: random codes and sub-block scales under random fp16 super-scales
// from 2^lo..2^hi (subnormal to large when asked), or realistic blocks from lowbit's own
// quantizer of random rows; at byte offset 2 either way.
std::vector<std::uint8_t> k_weight_blocks(Type t, std::int64_t nb, std::mt19937& rng, bool quantized, float lo,
                                          float hi) {
  const auto& tr = ggml::traits(t);
  std::vector<std::uint8_t> b(static_cast<std::size_t>(nb) * tr.type_size + 2);
  if (quantized) {
    std::normal_distribution<float> g;
    const float scale = std::exp2(std::uniform_real_distribution<float>(lo, hi)(rng));
    std::vector<float> w(static_cast<std::size_t>(nb * ggml::QK_K));
    for (auto& v : w) v = scale * g(rng);
    ggml::quantize_rows(t, w.data(), b.data() + 2, 1, nb * ggml::QK_K);
    return b;
  }
  for (auto& v : b) v = static_cast<std::uint8_t>(rng());
  for (std::int64_t i = 0; i < nb; ++i) {
    std::uint8_t* blk = b.data() + 2 + i * tr.type_size;
    if (t == Type::Q4_K || t == Type::Q5_K) {
      // Q5_K starts as Q4_K does: d, then dmin.
      static_assert(offsetof(ggml::block_q5_K, d) == offsetof(ggml::block_q4_K, d) &&
                    offsetof(ggml::block_q5_K, dmin) == offsetof(ggml::block_q4_K, dmin));
      const std::uint16_t d = random_half(rng, lo, hi), dmin = random_half(rng, lo, hi);
      std::memcpy(blk + offsetof(ggml::block_q4_K, d), &d, 2);
      std::memcpy(blk + offsetof(ggml::block_q4_K, dmin), &dmin, 2);
    } else {
      const std::uint16_t d = random_half(rng, lo, hi);
      std::memcpy(blk + offsetof(ggml::block_q6_K, d), &d, 2);
    }
  }
  return b;
}

// Q8_K activation blocks at byte offset 4 (misaligned for vectors, aligned for the float d
// the block struct holds, so the reference's member reads stay defined): the runtime's quantizer on heavy-tailed rows
// scaled by 10^[-e, e], or raw random codes (-128 included) and bsums with a finite d.
std::vector<std::uint8_t> q8k_blocks(std::int64_t nb, std::mt19937& rng, bool raw, float e) {
  std::vector<std::uint8_t> b(static_cast<std::size_t>(nb) * sizeof(ggml::block_q8_K) + 4);
  if (raw) {
    for (auto& v : b) v = static_cast<std::uint8_t>(rng());
    for (std::int64_t i = 0; i < nb; ++i) {
      const float d = std::pow(10.f, std::uniform_real_distribution<float>(-e, e)(rng)) * ((rng() & 1) ? -1.f : 1.f);
      std::memcpy(b.data() + 4 + i * sizeof(ggml::block_q8_K), &d, 4);
    }
    return b;
  }
  std::student_t_distribution<float> st(3.0f);
  const float scale = std::pow(10.f, std::uniform_real_distribution<float>(-e, e)(rng));
  std::vector<float> x(static_cast<std::size_t>(nb * ggml::QK_K));
  for (auto& v : x) v = scale * st(rng);
  const auto q = model::ggml_quantize_activations(Type::Q8_K, x.data(), 1, nb * ggml::QK_K);
  std::memcpy(b.data() + 4, q.data(), q.size());
  return b;
}

// The exact dot of decoded k-quant weights and Q8_K activations (whose bsums must be the
// sums of their codes), and the sum of |terms| at the granularity the kernels round.
void exact_dot_k(Type t, const std::uint8_t* w, const std::uint8_t* x, std::int64_t nb, double* dot, double* mag) {
  *dot = 0;
  *mag = 0;
  for (std::int64_t i = 0; i < nb; ++i) {
    ggml::block_q8_K b;
    std::memcpy(&b, x + i * sizeof b, sizeof b);
    if (t == Type::Q4_K || t == Type::Q5_K) {
      // Q5_K is Q4_K's layout plus qh: sub-block j is nibble j % 2 of qs[32 (j / 2) + k],
      // with bit j of qh[k] as its fifth bit.
      ggml::block_q5_K a{};
      if (t == Type::Q5_K) {
        std::memcpy(&a, w + i * sizeof a, sizeof a);
      } else {
        ggml::block_q4_K a4;
        std::memcpy(&a4, w + i * sizeof a4, sizeof a4);
        a.d = a4.d, a.dmin = a4.dmin;
        std::memcpy(a.scales, a4.scales, sizeof a.scales);
        std::memcpy(a.qs, a4.qs, sizeof a.qs);
      }
      const double d = static_cast<double>(b.d) * fp16_to_fp32(a.d), dmin = static_cast<double>(b.d) * fp16_to_fp32(a.dmin);
      for (int j = 0; j < 8; ++j) {
        std::uint8_t sc, m;
        ggml::get_scale_min(j, a.scales, sc, m);
        long s = 0, sa = 0, ys = 0;
        for (int k = 0; k < 32; ++k) {
          const int nib = (j % 2 ? a.qs[32 * (j / 2) + k] >> 4 : a.qs[32 * (j / 2) + k] & 15);
          const int q = nib | (((a.qh[k] >> j) & 1) << 4);  // qh is zero for Q4_K
          const int y = b.qs[32 * j + k];
          s += q * y, sa += std::abs(q * y), ys += y;
        }
        *dot += d * sc * s - dmin * m * ys;
        *mag += std::fabs(d) * sc * sa + std::fabs(dmin) * m * std::labs(ys);
      }
    } else {
      ggml::block_q6_K a;
      std::memcpy(&a, w + i * sizeof a, sizeof a);
      const double d = static_cast<double>(b.d) * fp16_to_fp32(a.d);
      for (int p = 0; p < ggml::QK_K; ++p) {
        // Weight p: half p/128, run (p%128)/32, position p%32 (ggml's Q6_K layout).
        const int h = p / 128, run = p % 128 / 32, k = p % 32;
        const int lo = (a.ql[64 * h + 32 * (run & 1) + k] >> (run < 2 ? 0 : 4)) & 15;
        const int q = (lo | (((a.qh[32 * h + k] >> (2 * run)) & 3) << 4)) - 32;
        const double term = d * a.scales[p / 16] * q * b.qs[p];
        *dot += term;
        *mag += std::fabs(term);
      }
    }
  }
}

// Q4_K, Q5_K and Q6_K x Q8_K: AVX2 equals the reference bit for bit over many rows, realistic
// and random blocks, ordinary and extreme scales; the reference is within its order's
// bound of the exact dot (nb fmas per lane + d's rounding + 3 fold adds + the mins' fold
// and final add: (nb + 6) * 2^-24 * sum |terms|) wherever bsums are the code sums. Q6_K's
// tiled order (batches of >= 8) is held to the same: its float(S), d_w * S and nb fmas
// round at most nb + 2 times per term.
class GgmlDotK : public ::testing::TestWithParam<Type> {};

TEST_P(GgmlDotK, Avx2EqualsReferenceAndReferenceIsTheDotWithinItsBound) {
  const Type t = GetParam();
  std::mt19937 rng(4321 + static_cast<int>(t));
  const auto ref = kernels::ggml_dot_kernel(t, true);
  ASSERT_NE(ref, nullptr);
  const bool avx2 = kernels::fast_kernels_enabled();
  if (!avx2) std::printf("no AVX2+FMA+F16C on this CPU: only the reference bound is checked\n");
  const auto fast = kernels::ggml_dot_kernel(t);
  const auto ref_tiled = kernels::ggml_dot_kernel_for_batch(t, 8, true);
  const auto fast_tiled = kernels::ggml_dot_kernel_for_batch(t, 8);
  if (t == Type::Q6_K) {
    ASSERT_NE(ref_tiled, ref);
  }
  for (std::int64_t n : {256, 512, 768, 4096}) {
    const std::int64_t nb = n / ggml::QK_K;
    for (int rep = 0; rep < (n == 4096 ? 150 : 400); ++rep) {
      // Every fourth row has extreme scales: fp16 subnormal to 2^15 weights, activation
      // scales 10^+-20 (products stay finite).
      const bool extreme = rep % 4 == 3, quantized = rep % 2 == 0, raw_x = rep % 3 == 2;
      const auto w = k_weight_blocks(t, nb, rng, quantized && !extreme, extreme ? -24.f : -12.f, extreme ? 15.f : 0.f);
      const auto x = q8k_blocks(nb, rng, raw_x, extreme ? 20.f : 3.f);
      const float r = ref(w.data() + 2, x.data() + 4, n), rt = ref_tiled(w.data() + 2, x.data() + 4, n);
      ASSERT_TRUE(std::isfinite(r)) << n << ", rep " << rep;
      if (avx2) {
        const float f = fast(w.data() + 2, x.data() + 4, n), ft = fast_tiled(w.data() + 2, x.data() + 4, n);
        ASSERT_EQ(std::bit_cast<std::uint32_t>(r), std::bit_cast<std::uint32_t>(f)) << "n " << n << ", rep " << rep;
        ASSERT_EQ(std::bit_cast<std::uint32_t>(rt), std::bit_cast<std::uint32_t>(ft)) << "tiled, n " << n << ", rep " << rep;
      }
      if (raw_x) continue;  // random bsums are not the sums of the codes
      double e, mag;
      exact_dot_k(t, w.data() + 2, x.data() + 4, nb, &e, &mag);
      ASSERT_LE(std::fabs(r - e), (static_cast<double>(nb) + 6) * kU * mag + 1e-37) << "n " << n << ", rep " << rep;
      ASSERT_LE(std::fabs(rt - e), (static_cast<double>(nb) + 6) * kU * mag + 1e-37) << "tiled, n " << n << ", rep " << rep;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, GgmlDotK, ::testing::Values(Type::Q4_K, Type::Q5_K, Type::Q6_K),
                         [](const auto& i) { return std::string(ggml::traits(i.param).name); });

TEST(GgmlDotF16Tinyblas, Avx2EqualsReferenceAndReferenceIsTheDotWithinItsBound) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d;
  for (std::int64_t n : {8, 16, 64, 256, 1032}) {
    std::vector<float> a(static_cast<std::size_t>(n) + 1), b(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = fp16_to_fp32(fp32_to_fp16(d(rng)));
      b[i] = fp16_to_fp32(fp32_to_fp16(d(rng)));
    }
    const float r = kernels::ggml_dot_f16_tinyblas__ref(a.data() + 1, b.data() + 1, n);  // unaligned rows
    if (kernels::fast_kernels_enabled()) {
      EXPECT_EQ(std::bit_cast<std::uint32_t>(r),
                std::bit_cast<std::uint32_t>(kernels::ggml_dot_f16_tinyblas__avx2(a.data() + 1, b.data() + 1, n)));
    }
    double e = 0, mag = 0;
    for (std::int64_t i = 1; i <= n; ++i) e += static_cast<double>(a[i]) * b[i], mag += std::fabs(static_cast<double>(a[i]) * b[i]);
    EXPECT_LE(std::fabs(r - e), (static_cast<double>(n) / 8 + 3) * kU * mag) << n;
  }
}

// Tiles of 4 x c dots (c = 1..3), as attention and the fp16/fp32 Linears batch them: each
// equals the single dot bit for bit (reference and AVX2, rows as fp32 or both held as fp16),
// with unaligned rows and strides that are not multiples of 8.
TEST(GgmlDotF16Tinyblas, TilesEqualTheSingleDot) {
  std::mt19937 rng(11);
  std::normal_distribution<float> d;
  for (std::int64_t n : {8, 16, 64, 136})
    for (int c = 1; c <= 3; ++c) {
      const std::int64_t a_stride = n + 3, b_stride = n + 5;
      std::vector<float> a(static_cast<std::size_t>(4 * a_stride + 1)), b(static_cast<std::size_t>(3 * b_stride + 1));
      for (auto& v : a) v = fp16_to_fp32(fp32_to_fp16(d(rng)));
      for (auto& v : b) v = fp16_to_fp32(fp32_to_fp16(d(rng)));
      float ref[12], avx[12];
      kernels::ggml_dot_f16_tinyblas_tile__ref(a.data() + 1, a_stride, b.data() + 1, b_stride, n, c, ref);
      for (int j = 0; j < c; ++j)
        for (int r = 0; r < 4; ++r)
          EXPECT_EQ(std::bit_cast<std::uint32_t>(ref[j * 4 + r]),
                    std::bit_cast<std::uint32_t>(kernels::ggml_dot_f16_tinyblas__ref(a.data() + 1 + r * a_stride,
                                                                                     b.data() + 1 + j * b_stride, n)));
      // Both operands held as fp16 give the widened rows' results.
      std::vector<std::uint16_t> ah(a.size()), bh(b.size());
      for (std::size_t i = 0; i < a.size(); ++i) ah[i] = fp32_to_fp16(a[i]);
      for (std::size_t i = 0; i < b.size(); ++i) bh[i] = fp32_to_fp16(b[i]);
      float ref_h[12], avx_h[12];
      kernels::ggml_dot_f16_tinyblas_tile_h__ref(ah.data() + 1, a_stride, bh.data() + 1, b_stride, n, c, ref_h);
      for (int j = 0; j < 4 * c; ++j) EXPECT_EQ(std::bit_cast<std::uint32_t>(ref_h[j]), std::bit_cast<std::uint32_t>(ref[j]));
      if (!kernels::fast_kernels_enabled()) continue;
      kernels::ggml_dot_f16_tinyblas_tile__avx2(a.data() + 1, a_stride, b.data() + 1, b_stride, n, c, avx);
      kernels::ggml_dot_f16_tinyblas_tile_h__avx2(ah.data() + 1, a_stride, bh.data() + 1, b_stride, n, c, avx_h);
      for (int j = 0; j < 4 * c; ++j) {
        EXPECT_EQ(std::bit_cast<std::uint32_t>(avx[j]), std::bit_cast<std::uint32_t>(ref[j])) << "n " << n << ", c " << c;
        EXPECT_EQ(std::bit_cast<std::uint32_t>(avx_h[j]), std::bit_cast<std::uint32_t>(ref[j])) << "n " << n << ", c " << c;
      }
    }
}

// gemm_f32.h: |avx2 - ref| <= (K/8 + 4) * eps * sum|x*w| per output, on ragged shapes.
TEST(GemmF32Nt, Avx2WithinTheStatedBoundOfReference) {
  if (!kernels::fast_kernels_enabled()) GTEST_SKIP() << "no AVX2+FMA+F16C on this CPU";
  std::mt19937 rng(11);
  std::normal_distribution<float> d;
  for (auto [m, n, k] : {std::array<std::int64_t, 3>{1, 1, 1}, {1, 17, 33}, {3, 4, 8}, {5, 7, 129}, {13, 21, 576}}) {
    std::vector<float> x(static_cast<std::size_t>(m * k)), w(static_cast<std::size_t>(n * k));
    for (auto& v : x) v = d(rng);
    for (auto& v : w) v = d(rng);
    std::vector<float> yr(static_cast<std::size_t>(m * n)), ya(yr.size());
    kernels::gemm_f32_nt__ref(x.data(), w.data(), yr.data(), m, n, k, 0, n);
    kernels::gemm_f32_nt__avx2(x.data(), w.data(), ya.data(), m, n, k, 0, n);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double mag = 0;
        for (std::int64_t t = 0; t < k; ++t) mag += std::fabs(static_cast<double>(x[i * k + t]) * w[j * k + t]);
        // Both sides are within their own bound of the exact value: ref (K eps), avx2 (K/8 + 4) eps.
        EXPECT_LE(std::fabs(static_cast<double>(ya[i * n + j]) - yr[i * n + j]),
                  (static_cast<double>(k) + static_cast<double>(k) / 8 + 4) * kU * mag)
            << m << "x" << n << "x" << k;
      }
  }
}

}  // namespace
