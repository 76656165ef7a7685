// Integer GEMM (kernels/gemm_s8.h): reference vs a naive int64 sum of (A - za) * (W - zw)
// from the unpacked codes (all small shapes, random large ones, extremes at the largest k);
// AVX2 vs reference with zero tolerance on ragged, unaligned, sub-range, threaded runs;
// argument checks; LOWBIT_KERNELS=ref. Failures print m, n, k, the mode and the first (i, j).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/gemm_s8.h"
#include "kernels/quant_rows.h"
#include "lowbit/error.h"
#include "support/peer.h"

namespace {

using namespace lowbit::kernels;

enum class WZero { None, PerTensor, PerChannel };

struct Mode {
  bool act_unsigned = true;
  bool per_token = false;  // activation zero points and scales per row
  bool act_zero = true;    // activation zero points given (else za = 0)
  WZero w_zero = WZero::None;
  bool per_channel_scale = true;
  std::int64_t stride_pad = 0;  // extra bytes between activation rows
  int offset = 0;               // bytes the activation data starts past an aligned buffer

  std::string str() const {
    std::ostringstream os;
    os << (act_unsigned ? "u8" : "s8") << (per_token ? " per-token" : " per-tensor") << (act_zero ? " za" : " no-za")
       << " zw=" << static_cast<int>(w_zero) << (per_channel_scale ? " sw/channel" : " sw/tensor") << " stride+"
       << stride_pad << " offset " << offset;
    return os.str();
  }
};

// One problem drawn at random, with its unpacked values kept for the naive oracle.
struct Problem {
  std::int64_t m, n, k, stride;
  Mode mode;
  std::vector<std::uint8_t> abuf;
  std::vector<std::int8_t> w;
  std::vector<std::int32_t> za, zw;
  std::vector<float> sa, sw;
  S8Activations act;
  S8Weights packed;

  std::int32_t a_at(std::int64_t i, std::int64_t t) const {
    const std::uint8_t b = abuf[static_cast<std::size_t>(mode.offset + i * stride + t)];
    return mode.act_unsigned ? b : static_cast<std::int8_t>(b);
  }
  std::int32_t za_of(std::int64_t i) const { return za.empty() ? 0 : za[mode.per_token ? std::size_t(i) : 0]; }
  std::int32_t zw_of(std::int64_t j) const {
    return zw.empty() ? 0 : zw[zw.size() == 1 ? 0 : std::size_t(j)];
  }
  float sa_of(std::int64_t i) const { return sa[mode.per_token ? std::size_t(i) : 0]; }
  float sw_of(std::int64_t j) const { return sw[sw.size() == 1 ? 0 : std::size_t(j)]; }
  std::string what() const {
    std::ostringstream os;
    os << "m " << m << ", n " << n << ", k " << k << ", " << mode.str();
    return os.str();
  }
};

// `extreme`: values only at the ends of their ranges (the largest |products|).
Problem make_problem(std::int64_t m, std::int64_t n, std::int64_t k, const Mode& mode, std::mt19937& rng,
                     bool extreme = false) {
  Problem p{m, n, k, k + mode.stride_pad, mode, {}, {}, {}, {}, {}, {}, {}, {}};
  std::uniform_int_distribution<int> byte(0, 255), coin(0, 1);
  std::uniform_real_distribution<float> scale(1e-3f, 2e-2f);
  auto draw = [&] { return extreme ? (coin(rng) ? 255 : 0) : byte(rng); };
  p.abuf.resize(static_cast<std::size_t>(mode.offset + m * p.stride + 1));
  for (auto& b : p.abuf) b = static_cast<std::uint8_t>(draw());
  p.w.resize(static_cast<std::size_t>(n * k));
  for (auto& v : p.w) v = static_cast<std::int8_t>(extreme ? (coin(rng) ? 127 : -128) : byte(rng) - 128);
  const std::int64_t rows = mode.per_token ? m : 1;
  const int zlo = mode.act_unsigned ? 0 : -128;
  if (mode.act_zero)
    for (std::int64_t i = 0; i < rows; ++i) p.za.push_back(extreme ? zlo + 255 * coin(rng) : zlo + byte(rng));
  for (std::int64_t i = 0; i < rows; ++i) p.sa.push_back(scale(rng));
  const std::int64_t zcount = mode.w_zero == WZero::None ? 0 : mode.w_zero == WZero::PerTensor ? 1 : n;
  for (std::int64_t j = 0; j < zcount; ++j) p.zw.push_back(extreme ? (coin(rng) ? 127 : -128) : byte(rng) - 128);
  for (std::int64_t j = 0; j < (mode.per_channel_scale ? n : 1); ++j) p.sw.push_back(scale(rng));
  p.act.data = p.abuf.data() + mode.offset;
  p.act.m = m;
  p.act.k = k;
  p.act.row_stride = mode.stride_pad ? p.stride : 0;
  p.act.is_unsigned = mode.act_unsigned;
  p.act.zero_points = p.za.empty() ? nullptr : p.za.data();
  p.act.scales = p.sa.data();
  p.act.per_token = mode.per_token;
  p.packed = pack_s8_weights(p.w.data(), n, k, p.sw.data(), std::int64_t(p.sw.size()),
                             p.zw.empty() ? nullptr : p.zw.data(), std::int64_t(p.zw.size()));
  return p;
}

// The definition, straight from the unpacked values: no row sums, no packing.
std::vector<std::int64_t> naive(const Problem& p) {
  std::vector<std::int64_t> y(static_cast<std::size_t>(p.m * p.n));
  for (std::int64_t i = 0; i < p.m; ++i)
    for (std::int64_t j = 0; j < p.n; ++j) {
      std::int64_t s = 0;
      for (std::int64_t t = 0; t < p.k; ++t)
        s += std::int64_t{p.a_at(i, t) - p.za_of(i)} * (p.w[std::size_t(j * p.k + t)] - p.zw_of(j));
      y[std::size_t(i * p.n + j)] = s;
    }
  return y;
}

struct Out {
  std::vector<std::int32_t> y32;
  std::vector<float> y;
};

// Runs a kernel over columns [0, n) with outputs starting one element past their buffers.
Out run_kernel(GemmS8Fn fn, const Problem& p) {
  std::vector<std::int32_t> y32(std::size_t(p.m * p.n + 1), -7);
  std::vector<float> y(std::size_t(p.m * p.n + 1), -7.0f);
  fn(p.act, p.packed, y32.data() + 1, y.data() + 1, 0, p.n);
  return {std::vector<std::int32_t>(y32.begin() + 1, y32.end()), std::vector<float>(y.begin() + 1, y.end())};
}

// Reference vs the naive oracle: Y exactly, y = (sa * sw) * float(Y) bit for bit.
void expect_ref_matches_naive(const Problem& p) {
  const std::vector<std::int64_t> want = naive(p);
  const Out got = run_kernel(gemm_s8__ref, p);
  for (std::int64_t i = 0; i < p.m; ++i)
    for (std::int64_t j = 0; j < p.n; ++j) {
      const auto e = std::size_t(i * p.n + j);
      ASSERT_TRUE(want[e] >= INT32_MIN && want[e] <= INT32_MAX) << p.what();
      ASSERT_EQ(got.y32[e], want[e]) << p.what() << ", first bad (i, j) = (" << i << ", " << j << ")";
      const float f = (p.sa_of(i) * p.sw_of(j)) * static_cast<float>(static_cast<std::int32_t>(want[e]));
      ASSERT_EQ(std::memcmp(&got.y[e], &f, sizeof f), 0) << p.what() << ", float (i, j) = (" << i << ", " << j << ")";
    }
}

void expect_bit_exact(const Out& a, const Out& b, const Problem& p, const char* what) {
  for (std::size_t e = 0; e < a.y32.size(); ++e) {
    ASSERT_EQ(a.y32[e], b.y32[e]) << what << ": " << p.what() << ", first bad (i, j) = (" << e / p.n << ", "
                                  << e % p.n << ")";
    ASSERT_EQ(std::memcmp(&a.y[e], &b.y[e], sizeof(float)), 0)
        << what << " (float): " << p.what() << ", first bad (i, j) = (" << e / p.n << ", " << e % p.n << ")";
  }
}

std::vector<Mode> all_modes() {
  std::vector<Mode> modes;
  for (bool u : {true, false})
    for (bool tok : {false, true})
      for (WZero z : {WZero::None, WZero::PerTensor, WZero::PerChannel}) {
        Mode md;
        md.act_unsigned = u;
        md.per_token = tok;
        md.act_zero = u || tok;  // int8 per-tensor activations: the symmetric za = 0 case
        md.w_zero = z;
        md.per_channel_scale = z != WZero::PerTensor;
        modes.push_back(md);
      }
  return modes;
}

TEST(GemmS8Ref, MatchesNaiveInt64OnEverySmallShape) {
  std::mt19937 rng(101);
  for (const Mode& mode : all_modes())
    for (std::int64_t m = 1; m <= 4; ++m)
      for (std::int64_t n = 1; n <= 9; ++n)
        for (std::int64_t k = 1; k <= 35; ++k) {
          const Problem p = make_problem(m, n, k, mode, rng);
          ASSERT_NO_FATAL_FAILURE(expect_ref_matches_naive(p));
        }
}

TEST(GemmS8Ref, MatchesNaiveInt64OnRandomLargeShapes) {
  std::mt19937 rng(102);
  int c = 0;
  for (const Mode& mode : all_modes())
    for (auto [m, n, k] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{1, 257, 4099}, {8, 64, 1000},
                           {19, 45, 333}})
      if (++c % 2 == 0) {
        ASSERT_NO_FATAL_FAILURE(expect_ref_matches_naive(make_problem(m, n, k, mode, rng)));
      }
}

// |A - za| = |W - zw| = 255 at k = kS8MaxK: |Y| reaches 2^31 - 2^24 and must still be exact.
TEST(GemmS8, ExtremeValuesAtLargestKStayExact) {
  std::mt19937 rng(103);
  for (bool u : {true, false}) {
    Mode mode;
    mode.act_unsigned = u;
    mode.per_token = true;
    mode.w_zero = WZero::PerChannel;
    Problem p = make_problem(3, 6, kS8MaxK, mode, rng, true);
    // Rows and columns of one value each: every output is +-k * 255^2 or another extreme.
    const int a_hi = u ? 255 : 127, a_lo = u ? 0 : -128;
    for (std::int64_t i = 0; i < p.m; ++i) {
      p.za[std::size_t(i)] = i % 2 ? a_hi : a_lo;
      for (std::int64_t t = 0; t < p.k; ++t)
        p.abuf[std::size_t(i * p.stride + t)] = static_cast<std::uint8_t>(i % 2 ? a_lo : a_hi);
    }
    for (std::int64_t j = 0; j < p.n; ++j) {
      p.zw[std::size_t(j)] = j % 2 ? 127 : -128;
      for (std::int64_t t = 0; t < p.k; ++t) p.w[std::size_t(j * p.k + t)] = static_cast<std::int8_t>(j % 2 ? -128 : 127);
    }
    p.packed = pack_s8_weights(p.w.data(), p.n, p.k, p.sw.data(), std::int64_t(p.sw.size()), p.zw.data(), p.n);
    ASSERT_NO_FATAL_FAILURE(expect_ref_matches_naive(p));
    EXPECT_EQ(std::abs(naive(p)[0]), kS8MaxK * 255 * 255) << p.what();
    if (cpu_has_avx2()) expect_bit_exact(run_kernel(gemm_s8__avx2, p), run_kernel(gemm_s8__ref, p), p, "avx2 vs ref");
  }
}

TEST(GemmS8Avx2, BitExactWithReferenceOnEverySmallShape) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C; nothing to compare";
  std::mt19937 rng(104);
  for (Mode mode : all_modes())
    for (std::int64_t m = 1; m <= 7; ++m)
      for (std::int64_t n = 1; n <= 9; ++n)
        for (std::int64_t k = 1; k <= 35; ++k) {
          mode.offset = int((m + n + k) % 2);
          mode.stride_pad = (m + k) % 3 == 0 ? 3 : 0;
          const Problem p = make_problem(m, n, k, mode, rng);
          ASSERT_NO_FATAL_FAILURE(expect_bit_exact(run_kernel(gemm_s8__avx2, p), run_kernel(gemm_s8__ref, p), p,
                                                   "avx2 vs ref"));
        }
}

TEST(GemmS8Avx2, BitExactWithReferenceOnRaggedLargeShapes) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C; nothing to compare";
  std::mt19937 rng(105);
  int c = 0;
  for (Mode mode : all_modes())
    for (auto [m, n, k] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{1, 4099, 129}, {64, 96, 4096},
                           {13, 131, 1001}, {2, 70, 8191}, {100, 5, 47}}) {
      mode.offset = ++c % 2;
      const Problem p = make_problem(m, n, k, mode, rng);
      const Out ref = run_kernel(gemm_s8__ref, p);
      ASSERT_NO_FATAL_FAILURE(expect_bit_exact(run_kernel(gemm_s8__avx2, p), ref, p, "avx2 vs ref"));
      if (c % 5 == 0) {
        ASSERT_NO_FATAL_FAILURE(expect_ref_matches_naive(p));
      }
    }
}

// A kernel given [n0, n1) writes exactly those columns, even when they split a panel.
TEST(GemmS8Avx2, ColumnRangesWriteOnlyTheirColumns) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "CPU has no AVX2+FMA+F16C; nothing to compare";
  std::mt19937 rng(106);
  Mode mode;
  mode.w_zero = WZero::PerChannel;
  mode.per_token = true;
  const Problem p = make_problem(5, 23, 77, mode, rng);
  const Out full = run_kernel(gemm_s8__ref, p);
  for (auto [n0, n1] : {std::pair<std::int64_t, std::int64_t>{0, 23}, {1, 2}, {3, 9}, {5, 22}, {21, 23}, {7, 7}})
    for (GemmS8Fn fn : {gemm_s8__ref, gemm_s8__avx2}) {
      std::vector<std::int32_t> y32(std::size_t(p.m * p.n), -7);
      std::vector<float> y(std::size_t(p.m * p.n), -7.0f);
      fn(p.act, p.packed, y32.data(), y.data(), n0, n1);
      for (std::int64_t i = 0; i < p.m; ++i)
        for (std::int64_t j = 0; j < p.n; ++j) {
          const auto e = std::size_t(i * p.n + j);
          const bool in = j >= n0 && j < n1;
          ASSERT_EQ(y32[e], in ? full.y32[e] : -7) << "[" << n0 << ", " << n1 << ") i " << i << " j " << j;
          ASSERT_EQ(y[e], in ? full.y[e] : -7.0f) << "[" << n0 << ", " << n1 << ") i " << i << " j " << j;
        }
    }
}

TEST(GemmS8, ThreadCountDoesNotChangeResults) {
  std::mt19937 rng(107);
  Mode mode;
  mode.w_zero = WZero::PerChannel;
  mode.per_token = true;
  for (std::int64_t m : {1, 17}) {
    const Problem p = make_problem(m, 300, 4099, mode, rng);
    std::vector<float> y1(std::size_t(m * p.n));
    std::vector<std::int32_t> s1(y1.size());
    gemm_s8(p.act, p.packed, y1.data(), 1);
    gemm_s8_s32(p.act, p.packed, s1.data(), 1);
    const Out ref = run_kernel(gemm_s8__ref, p);
    EXPECT_EQ(s1, ref.y32) << p.what();
    EXPECT_EQ(std::memcmp(y1.data(), ref.y.data(), y1.size() * sizeof(float)), 0) << p.what();
    for (int threads : {2, 3}) {
      std::vector<float> y(y1.size());
      std::vector<std::int32_t> s(y1.size());
      gemm_s8(p.act, p.packed, y.data(), threads);
      gemm_s8_s32(p.act, p.packed, s.data(), threads);
      EXPECT_EQ(std::memcmp(y.data(), y1.data(), y.size() * sizeof(float)), 0) << p.what() << " threads " << threads;
      EXPECT_EQ(s, s1) << p.what() << " threads " << threads;
    }
  }
}

TEST(GemmS8, PackingKeepsEveryCodeAndRowSum) {
  std::mt19937 rng(108);
  Mode mode;
  mode.w_zero = WZero::PerChannel;
  const Problem p = make_problem(1, 11, 37, mode, rng);
  const S8Weights& w = p.packed;
  EXPECT_EQ(w.n_pad, 12);
  EXPECT_EQ(w.k_pad, 48);
  EXPECT_TRUE(w.has_zero_points);
  for (std::int64_t j = 0; j < w.n_pad; ++j) {
    std::int32_t sum = 0;
    for (std::int64_t t = 0; t < w.k_pad; ++t) {
      const bool inside = j < p.n && t < p.k;
      ASSERT_EQ(s8_weight_at(w, j, t), inside ? p.w[std::size_t(j * p.k + t)] : 0) << "j " << j << " t " << t;
      if (inside) sum += p.w[std::size_t(j * p.k + t)] - p.zw_of(j);
    }
    EXPECT_EQ(w.zero_adjusted_row_sums[std::size_t(j)], sum) << "j " << j;
  }
}

TEST(GemmS8, RejectsBadArguments) {
  const std::vector<std::int8_t> w(std::size_t(2 * (kS8MaxK + 1)), 1);
  const float s = 0.5f;
  const std::int32_t bad_zero = 128, zero = 3;
  EXPECT_THROW(pack_s8_weights(w.data(), 2, kS8MaxK + 1, &s, 1, nullptr, 0), lowbit::Error);
  EXPECT_THROW(pack_s8_weights(w.data(), 0, 4, &s, 1, nullptr, 0), lowbit::Error);
  EXPECT_THROW(pack_s8_weights(w.data(), 2, 4, &s, 3, nullptr, 0), lowbit::Error);
  EXPECT_THROW(pack_s8_weights(w.data(), 2, 4, &s, 1, &bad_zero, 1), lowbit::Error);
  const std::int32_t zeros2[2] = {zero, zero};
  EXPECT_THROW(pack_s8_weights(w.data(), 3, 4, &s, 1, zeros2, 2), lowbit::Error);  // 2 != 1, != n
  const S8Weights packed = pack_s8_weights(w.data(), 2, 4, &s, 1, &zero, 1);
  std::vector<std::uint8_t> a(8, 1);
  float y[4];
  S8Activations act;
  act.data = a.data();
  act.m = 2;
  act.k = 5;
  EXPECT_THROW(gemm_s8(act, packed, y, 1), lowbit::Error);  // k mismatch
  act.k = 4;
  const std::int32_t za_bad_u8 = 256, za_bad_s8 = 128;
  act.zero_points = &za_bad_u8;
  EXPECT_THROW(gemm_s8(act, packed, y, 1), lowbit::Error);
  act.is_unsigned = false;
  act.zero_points = &za_bad_s8;
  EXPECT_THROW(gemm_s8(act, packed, y, 1), lowbit::Error);
  act.zero_points = nullptr;
  EXPECT_NO_THROW(gemm_s8(act, packed, y, 1));
  EXPECT_EQ(y[0], 0.5f * (4 * (1 * (1 - 3))));
}

// In a process started with LOWBIT_KERNELS=ref (the next test) this must pick the reference.
TEST(GemmS8Dispatch, FollowsFastKernelsEnabled) {
  const char* env = std::getenv("LOWBIT_KERNELS");
  const bool forced_ref = env && std::string(env) == "ref";
  if (forced_ref) {
    EXPECT_FALSE(fast_kernels_enabled());
  }
  EXPECT_EQ(gemm_s8_kernel(), fast_kernels_enabled() ? gemm_s8__avx2 : gemm_s8__ref);
  if (forced_ref) {
    EXPECT_EQ(gemm_s8_kernel(), gemm_s8__ref);
  }
}

TEST(GemmS8Dispatch, LowbitKernelsRefSelectsTheReference) {
  const auto r = lowbit::testing::rerun_self("LOWBIT_KERNELS=ref", "GemmS8Dispatch.FollowsFastKernelsEnabled");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[  PASSED  ] 1 test"), std::string::npos) << r.output;
}

}  // namespace
