// Weight-only GEMM (kernels/gemm_wo.h), u4 sym/asym, s8 sym, u8 asym: reference == a plain
// fp32 sum over weights dequantized here, and within its bound of fp64; AVX2 within the
// derived bounds (below) of both and == gemm_f32_nt__avx2 on those weights; ragged, unaligned,
// batch and thread independence; argument checks; LOWBIT_KERNELS=ref.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/gemm_f32.h"
#include "kernels/gemm_wo.h"
#include "kernels/quant_rows.h"
#include "lowbit/error.h"
#include "support/peer.h"
#include "support/random_vectors.h"

namespace {

using namespace lowbit::kernels;

enum class Format { U4Sym, U4Asym, S8Sym, U8Asym };
const char* name(Format f) {
  switch (f) {
    case Format::U4Sym: return "u4 sym";
    case Format::U4Asym: return "u4 asym";
    case Format::S8Sym: return "s8 sym";
    case Format::U8Asym: return "u8 asym";
  }
  return "?";
}
constexpr Format kFormats[] = {Format::U4Sym, Format::U4Asym, Format::S8Sym, Format::U8Asym};

// Codes, scales and zeros as a quantizer hands them over, plus what they pack to.
struct Problem {
  std::int64_t m, n, k, group;
  Format format;
  std::vector<int> q, z;   // q [n][k], z [n][k / group] (the effective zero: 8 / 0 when symmetric)
  std::vector<float> s;    // [n][k / group]
  std::vector<float> xbuf; // x [m][k] starting at xbuf.data() + offset
  int offset;
  WoWeights packed;

  const float* x() const { return xbuf.data() + offset; }
  // The definition, from the unpacked values: fp32 s * float(q - z).
  float w32(std::int64_t j, std::int64_t t) const {
    const auto g = std::size_t(j * (k / group) + t / group);
    return s[g] * static_cast<float>(q[std::size_t(j * k + t)] - z[g]);
  }
  // The same weight in exact (double) arithmetic.
  double w64(std::int64_t j, std::int64_t t) const {
    const auto g = std::size_t(j * (k / group) + t / group);
    return double(s[g]) * double(q[std::size_t(j * k + t)] - z[g]);
  }
  std::string what() const {
    std::ostringstream os;
    os << "m " << m << ", n " << n << ", k " << k << ", group " << group << ", " << name(format) << ", x offset "
       << offset;
    return os.str();
  }
};

Problem make_problem(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t group, Format f, std::mt19937& rng,
                     int offset = 0) {
  Problem p{m, n, k, group, f, {}, {}, {}, {}, offset, {}};
  const bool four = f == Format::U4Sym || f == Format::U4Asym;
  const bool sym = f == Format::U4Sym || f == Format::S8Sym;
  std::uniform_int_distribution<int> code(four ? 0 : (f == Format::S8Sym ? -128 : 0), four ? 15 : (f == Format::S8Sym ? 127 : 255));
  std::uniform_real_distribution<float> scale(1e-3f, 3e-2f);
  p.q.resize(std::size_t(n * k));
  for (auto& v : p.q) v = code(rng);
  const auto groups = std::size_t(n * (k / group));
  for (std::size_t g = 0; g < groups; ++g) {
    p.s.push_back(scale(rng));
    p.z.push_back(sym ? (f == Format::U4Sym ? 8 : 0) : code(rng));
  }
  p.xbuf = lowbit::testing::randn(std::size_t(offset + m * k + 1), rng);
  std::vector<std::uint8_t> u(p.q.size()), zu(groups);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = static_cast<std::uint8_t>(p.q[i]);
  for (std::size_t g = 0; g < groups; ++g) zu[g] = static_cast<std::uint8_t>(p.z[g]);
  switch (f) {
    case Format::U4Sym: p.packed = pack_wo_u4(u.data(), p.s.data(), nullptr, n, k, group); break;
    case Format::U4Asym: p.packed = pack_wo_u4(u.data(), p.s.data(), zu.data(), n, k, group); break;
    case Format::U8Asym: p.packed = pack_wo_u8(u.data(), p.s.data(), zu.data(), n, k, group); break;
    case Format::S8Sym: {
      std::vector<std::int8_t> s8(p.q.begin(), p.q.end());
      p.packed = pack_wo_s8(s8.data(), p.s.data(), n, k, group);
      break;
    }
  }
  return p;
}

std::vector<float> run_kernel(GemmWoFn fn, const Problem& p) {
  std::vector<float> y(std::size_t(p.m * p.n + 1), -7.0f);  // written from y + 1: unaligned
  fn(p.x(), p.packed, y.data() + 1, p.m, 0, p.n);
  return std::vector<float>(y.begin() + 1, y.end());
}

std::vector<float> dequantized(const Problem& p) {
  std::vector<float> w(std::size_t(p.n * p.k));
  for (std::int64_t j = 0; j < p.n; ++j)
    for (std::int64_t t = 0; t < p.k; ++t) w[std::size_t(j * p.k + t)] = p.w32(j, t);
  return w;
}

// gamma(n) = n u / (1 - n u), u = 2^-24: the classic bound on n roundings (Higham, 3.1).
double gamma(double n) {
  const double u = std::ldexp(1.0, -24);
  return n * u / (1.0 - n * u);
}

// The bounds, per output, relative to S = sum_t |x_t * w_t| (fp32 weights w = s*(q-z); an
// exact weight differs from it by one rounding, |w - w_exact| <= u |w_exact|):
// - reference: each product rounds once, then k - 1 sequential adds: gamma(k) * S.
// - AVX2: each lane is a chain of k/8 fmas (one rounding each, the first is the product),
//   then the fold adds 8 lanes in 3 levels: gamma(k/8 + 3) * S.
// So |avx2 - ref| <= (gamma(k) + gamma(k/8 + 3)) * S, and against the exact weights each
// gains one more rounding: gamma(k + 1), gamma(k/8 + 4). The fp64 oracle itself is off by at
// most k * 2^-53 * S (no fma contraction: -ffp-contract=off), added as slack.
struct Bounds {
  double ref_vs_avx2, ref_vs_exact, avx2_vs_exact;
};
Bounds bounds_for(std::int64_t k) {
  const double slack = double(k + 1) * std::ldexp(1.0, -53);
  return {gamma(double(k)) + gamma(double(k) / 8 + 3), gamma(double(k) + 1) + slack, gamma(double(k) / 8 + 4) + slack};
}

struct Oracle {
  std::vector<double> exact, abs_sum;  // sum x * w_exact in fp64, sum |x * w_exact|
};
Oracle fp64_oracle(const Problem& p) {
  Oracle o{std::vector<double>(std::size_t(p.m * p.n)), std::vector<double>(std::size_t(p.m * p.n))};
  for (std::int64_t i = 0; i < p.m; ++i)
    for (std::int64_t j = 0; j < p.n; ++j) {
      double s = 0, a = 0;
      for (std::int64_t t = 0; t < p.k; ++t) {
        const double v = double(p.x()[i * p.k + t]) * p.w64(j, t);
        s += v;
        a += std::fabs(v);
      }
      o.exact[std::size_t(i * p.n + j)] = s;
      o.abs_sum[std::size_t(i * p.n + j)] = a;
    }
  return o;
}

// Reference: bit-exact with a plain sequential fp32 sum over w32, and within gamma(k + 1) of fp64.
void expect_ref_is_the_definition(const Problem& p) {
  const std::vector<float> got = run_kernel(gemm_wo__ref, p);
  const Oracle o = fp64_oracle(p);
  const Bounds b = bounds_for(p.k);
  for (std::int64_t i = 0; i < p.m; ++i)
    for (std::int64_t j = 0; j < p.n; ++j) {
      float s = 0.0f;
      for (std::int64_t t = 0; t < p.k; ++t) s += p.x()[i * p.k + t] * p.w32(j, t);
      const auto e = std::size_t(i * p.n + j);
      ASSERT_EQ(std::memcmp(&got[e], &s, sizeof s), 0) << p.what() << ", first bad (i, j) = (" << i << ", " << j << ")";
      ASSERT_LE(std::fabs(double(got[e]) - o.exact[e]), b.ref_vs_exact * o.abs_sum[e])
          << p.what() << ", (i, j) = (" << i << ", " << j << ")";
    }
}

void expect_avx2_within_bounds(const Problem& p) {
  const std::vector<float> ref = run_kernel(gemm_wo__ref, p);
  const std::vector<float> got = run_kernel(gemm_wo__avx2, p);
  const Oracle o = fp64_oracle(p);
  const Bounds b = bounds_for(p.k);
  for (std::size_t e = 0; e < got.size(); ++e) {
    // S over the fp32 weights is at most (1 + u) times the exact one.
    const double s32 = o.abs_sum[e] * (1 + std::ldexp(1.0, -24));
    ASSERT_LE(std::fabs(double(got[e]) - double(ref[e])), b.ref_vs_avx2 * s32)
        << p.what() << ", first bad (i, j) = (" << e / std::size_t(p.n) << ", " << e % std::size_t(p.n) << ")";
    ASSERT_LE(std::fabs(double(got[e]) - o.exact[e]), b.avx2_vs_exact * o.abs_sum[e])
        << p.what() << ", fp64: first bad (i, j) = (" << e / std::size_t(p.n) << ", " << e % std::size_t(p.n) << ")";
  }
  // The quantized path adds nothing beyond the dequantization: same sums as the fp32 kernel.
  const std::vector<float> w = dequantized(p);
  std::vector<float> f32(got.size());
  gemm_f32_nt__avx2(p.x(), w.data(), f32.data(), p.m, p.n, p.k, 0, p.n);
  for (std::size_t e = 0; e < got.size(); ++e)
    ASSERT_EQ(std::memcmp(&got[e], &f32[e], sizeof(float)), 0)
        << p.what() << ", vs gemm_f32_nt__avx2: first bad (i, j) = (" << e / std::size_t(p.n) << ", "
        << e % std::size_t(p.n) << ")";
}

struct KG {
  std::int64_t k, group;
};
// k not a multiple of 32 where the width allows it (4-bit groups are multiples of 16).
std::vector<KG> small_kg(Format f) {
  if (f == Format::U4Sym || f == Format::U4Asym) return {{16, 16}, {48, 16}, {64, 32}, {96, 32}, {80, 80}, {128, 64}};
  return {{8, 8}, {24, 8}, {40, 8}, {64, 32}, {96, 32}, {72, 24}, {128, 64}};
}

TEST(WeightOnlyRef, IsTheSequentialSumOfDequantizedWeightsOnSmallShapes) {
  std::mt19937 rng(201);
  for (Format f : kFormats)
    for (const KG& kg : small_kg(f))
      for (std::int64_t m = 1; m <= 4; ++m)
        for (std::int64_t n = 1; n <= 6; ++n)
          ASSERT_NO_FATAL_FAILURE(expect_ref_is_the_definition(make_problem(m, n, kg.k, kg.group, f, rng)));
}

TEST(WeightOnlyRef, IsTheSequentialSumOfDequantizedWeightsOnLargeShapes) {
  std::mt19937 rng(202);
  for (Format f : kFormats) {
    ASSERT_NO_FATAL_FAILURE(expect_ref_is_the_definition(make_problem(1, 37, 4096, 128, f, rng)));
    ASSERT_NO_FATAL_FAILURE(expect_ref_is_the_definition(make_problem(5, 19, 1024, 64, f, rng)));
  }
}

TEST(WeightOnlyAvx2, WithinDerivedBoundOnSmallShapes) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C; nothing to compare";
  std::mt19937 rng(203);
  for (Format f : kFormats)
    for (const KG& kg : small_kg(f))
      for (std::int64_t m = 1; m <= 7; ++m)
        for (std::int64_t n = 1; n <= 9; ++n)
          ASSERT_NO_FATAL_FAILURE(
              expect_avx2_within_bounds(make_problem(m, n, kg.k, kg.group, f, rng, int((m + n) % 2))));
}

TEST(WeightOnlyAvx2, WithinDerivedBoundOnRaggedLargeShapes) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C; nothing to compare";
  std::mt19937 rng(204);
  int c = 0;
  for (Format f : kFormats)
    for (auto [m, n, k, g] : {std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>{1, 131, 4096, 128},
                              {2, 67, 2048, 64}, {3, 45, 1024, 32}, {4, 33, 4096, 128}, {13, 70, 1536, 128},
                              {64, 21, 4096, 64}, {9, 5, 336, 16}})
      ASSERT_NO_FATAL_FAILURE(expect_avx2_within_bounds(make_problem(m, n, k, g, f, rng, ++c % 2)));
}

// Row i's output does not depend on the batch around it (the m <= 3 in-register path and the
// m >= 4 scratch path sum identically) nor on the thread count.
TEST(WeightOnly, BatchAndThreadCountDoNotChangeResults) {
  std::mt19937 rng(205);
  for (Format f : kFormats) {
    const Problem p = make_problem(9, 300, 1024, 128, f, rng, 1);
    std::vector<float> y1(std::size_t(p.m * p.n));
    gemm_wo(p.x(), p.packed, y1.data(), p.m, 1);
    for (int threads : {2, 3}) {
      std::vector<float> y(y1.size());
      gemm_wo(p.x(), p.packed, y.data(), p.m, threads);
      EXPECT_EQ(std::memcmp(y.data(), y1.data(), y.size() * sizeof(float)), 0) << p.what() << " threads " << threads;
    }
    for (std::int64_t rows : {1, 2, 3, 4}) {
      for (std::int64_t i0 = 0; i0 + rows <= p.m; i0 += rows) {
        std::vector<float> y(std::size_t(rows * p.n));
        gemm_wo(p.x() + i0 * p.k, p.packed, y.data(), rows, 2);
        EXPECT_EQ(std::memcmp(y.data(), y1.data() + i0 * p.n, y.size() * sizeof(float)), 0)
            << p.what() << " rows " << i0 << ".." << i0 + rows;
      }
    }
  }
}

TEST(WeightOnly, PackingKeepsEveryCode) {
  std::mt19937 rng(206);
  for (Format f : kFormats) {
    const Problem p = make_problem(1, 5, 96, 32, f, rng);
    for (std::int64_t j = 0; j < p.n; ++j)
      for (std::int64_t t = 0; t < p.k; ++t) {
        const float got = wo_weight_at(p.packed, j, t), want = p.w32(j, t);
        ASSERT_EQ(std::memcmp(&got, &want, sizeof got), 0) << name(f) << " j " << j << " t " << t;
      }
  }
}

TEST(WeightOnly, RejectsBadArguments) {
  const std::vector<std::uint8_t> codes(256, 3);
  const std::vector<std::int8_t> s8(256, 3);
  const std::vector<float> s(32, 0.5f);
  const std::vector<std::uint8_t> z(32, 16);
  EXPECT_THROW(pack_wo_u4(codes.data(), s.data(), nullptr, 2, 64, 8), lowbit::Error);   // 4-bit group % 16
  EXPECT_THROW(pack_wo_u4(codes.data(), s.data(), nullptr, 2, 64, 48), lowbit::Error);  // 48 does not divide 64
  EXPECT_THROW(pack_wo_u4(codes.data(), s.data(), z.data(), 2, 64, 32), lowbit::Error); // zero 16 > 15
  EXPECT_THROW(pack_wo_s8(s8.data(), s.data(), 2, 60, 12), lowbit::Error);              // 8-bit group % 8
  EXPECT_THROW(pack_wo_u8(codes.data(), s.data(), nullptr, 2, 64, 32), lowbit::Error);  // asym needs zeros
  EXPECT_THROW(pack_wo_s8(s8.data(), s.data(), 0, 64, 32), lowbit::Error);
  std::vector<std::uint8_t> big(codes);
  big[7] = 16;
  EXPECT_THROW(pack_wo_u4(big.data(), s.data(), nullptr, 2, 64, 32), lowbit::Error);
  const WoWeights w = pack_wo_s8(s8.data(), s.data(), 2, 64, 32);
  float y[2];
  EXPECT_THROW(gemm_wo(nullptr, w, y, 1, 1), lowbit::Error);
  EXPECT_THROW(gemm_wo(s.data(), w, y, -1, 1), lowbit::Error);
}

// In a process started with LOWBIT_KERNELS=ref (the next test) this must pick the reference.
TEST(WeightOnlyDispatch, FollowsFastKernelsEnabled) {
  const char* env = std::getenv("LOWBIT_KERNELS");
  const bool forced_ref = env && std::string(env) == "ref";
  if (forced_ref) {
    EXPECT_FALSE(fast_kernels_enabled());
  }
  EXPECT_EQ(gemm_wo_kernel(), fast_kernels_enabled() ? gemm_wo__avx2 : gemm_wo__ref);
  if (forced_ref) {
    EXPECT_EQ(gemm_wo_kernel(), gemm_wo__ref);
  }
}

TEST(WeightOnlyDispatch, LowbitKernelsRefSelectsTheReference) {
  const auto r = lowbit::testing::rerun_self("LOWBIT_KERNELS=ref", "WeightOnlyDispatch.FollowsFastKernelsEnabled");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[  PASSED  ] 1 test"), std::string::npos) << r.output;
}

}  // namespace
