// Tests of the reference affine quantizer: exhaustive code round-trips, the S/2 error
// bound, stochastic rounding's unbiasedness, and bit-exact agreement with numpy (the
// peer) on the seed int8 recipes and the generic formula under both rounding modes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "lowbit/affine.h"
#include "lowbit/error.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

std::vector<float> heavy_tailed(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> t(3.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = t(rng);
  x[n / 3] = 40.0f;  // an outlier, as real activations have
  return x;
}

template <typename T>
std::vector<T> read_raw(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  std::vector<T> v(bytes.size() / sizeof(T));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
  return v;
}

const int kBits[] = {2, 3, 4, 5, 6, 7, 8, 16};

}  // namespace

TEST(AffineRange, CountsAndSymmetry) {
  for (int b : kBits) {
    for (bool sgn : {true, false}) {
      const IntRange full = int_range(b, sgn, false);
      const IntRange restr = int_range(b, sgn, true);
      EXPECT_EQ(std::int64_t(full.qmax) - full.qmin + 1, std::int64_t{1} << b);
      EXPECT_EQ(std::int64_t(restr.qmax) - restr.qmin + 1, (std::int64_t{1} << b) - 1);
      const std::int32_t mid = sgn ? 0 : (1 << (b - 1));
      EXPECT_EQ(restr.qmax - mid, mid - restr.qmin) << "restricted range symmetric around " << mid;
    }
  }
  EXPECT_THROW(int_range(9, true), Error);
  EXPECT_THROW(int_range(0, true), Error);
}

// Every code survives dequantize -> quantize, for all widths and zero points. Stochastic
// rounding only returns q when q*S*inv is exactly q, so it gets power-of-two scales
// (exact products); the deterministic modes get arbitrary scales.
TEST(AffineQuantize, EveryCodeRoundTrips) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> logscale(-20.0f, 10.0f);
  for (int b : kBits) {
    for (bool sgn : {true, false}) {
      const IntRange r = int_range(b, sgn, false);
      for (int trial = 0; trial < 4; ++trial) {
        std::uniform_int_distribution<std::int32_t> zd(r.qmin, r.qmax);
        const std::int32_t z = zd(rng);
        for (Rounding m : {Rounding::NearestEven, Rounding::NearestAway, Rounding::Stochastic}) {
          const float e = logscale(rng);
          const float scale = m == Rounding::Stochastic ? std::exp2(std::floor(e)) : std::exp2(e);
          const AffineParams p = params_from_scale(scale, z);
          for (std::int32_t q = r.qmin; q <= r.qmax; ++q) {
            const float x = dequantize_value(q, p);
            ASSERT_EQ(quantize_value(x, p, r, m, 7, std::uint64_t(q)), q)
                << "bits " << b << " signed " << sgn << " scale " << scale << " zp " << p.zero_point;
          }
        }
      }
    }
  }
}

// Inside the representable range the reconstruction error is at most S/2 (plus the
// rounding of x*inv and of S*(q-Z) in fp32: a few ulps of |x|).
TEST(AffineQuantize, ErrorWithinHalfStep) {
  const auto x = heavy_tailed(100000, 2);
  for (int b : kBits) {
    for (bool sym : {true, false}) {
      const IntRange r = int_range(b, true, sym);
      float mn = 0, mx = 0;
      for (float v : x) mn = std::min(mn, v), mx = std::max(mx, v);
      const AffineParams p =
          sym ? choose_symmetric(std::max(-mn, mx), r) : choose_asymmetric(mn, mx, r);
      for (std::size_t i = 0; i < x.size(); ++i) {
        const float y = dequantize_value(quantize_value(x[i], p, r, Rounding::NearestEven), p);
        const float bound = p.scale * 0.5f * (1 + 1e-5f) + 4 * std::numeric_limits<float>::epsilon() * std::fabs(x[i]);
        ASSERT_LE(std::fabs(x[i] - y), bound) << "bits " << b << " sym " << sym << " i " << i;
      }
    }
  }
}

TEST(AffineQuantize, AsymmetricRepresentsZeroExactly) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-5.0f, 5.0f);
  for (int b : kBits)
    for (int t = 0; t < 50; ++t) {
      float lo = u(rng), hi = u(rng);
      if (lo > hi) std::swap(lo, hi);
      for (bool sgn : {true, false}) {
        const IntRange r = int_range(b, sgn);
        const AffineParams p = choose_asymmetric(lo, hi, r);
        EXPECT_EQ(dequantize_value(quantize_value(0.0f, p, r, Rounding::NearestEven), p), 0.0f);
      }
    }
}

// E[round_sr(v)] = v: the mean of N independent roundings is within 6 sigma of v,
// sigma = sqrt(f (1 - f) / N) for the fractional part f.
TEST(AffineRounding, StochasticIsUnbiasedAndDeterministic) {
  const int N = 200000;
  for (float v : {0.1f, 2.5f, -3.75f, 7.001f, -0.5f}) {
    double sum = 0;
    for (int i = 0; i < N; ++i) sum += round_with(v, Rounding::Stochastic, 42, std::uint64_t(i));
    const double f = v - std::floor(v);
    const double sigma = std::sqrt(f * (1 - f) / N);
    EXPECT_NEAR(sum / N, v, 6 * sigma + 1e-9) << v;
    EXPECT_EQ(round_with(v, Rounding::Stochastic, 42, 17), round_with(v, Rounding::Stochastic, 42, 17));
  }
  int differ = 0;
  for (int i = 0; i < 1000; ++i)
    differ += round_with(0.5f, Rounding::Stochastic, 1, std::uint64_t(i)) !=
              round_with(0.5f, Rounding::Stochastic, 2, std::uint64_t(i));
  EXPECT_GT(differ, 300) << "different seeds must give different streams";
}

TEST(AffineQuantize, RejectsNaNAndBadScale) {
  const IntRange r = int_range(8, true);
  EXPECT_THROW(quantize_value(NAN, params_from_scale(1.0f, 0), r, Rounding::NearestEven), Error);
  EXPECT_THROW(params_from_scale(0.0f, 0), Error);
  EXPECT_THROW(params_from_scale(INFINITY, 0), Error);
  EXPECT_THROW(choose_symmetric(INFINITY, r), Error);
  // Inf inputs clamp to the end codes instead of overflowing the int conversion.
  EXPECT_EQ(quantize_value(INFINITY, params_from_scale(1.0f, 0), r, Rounding::NearestEven), r.qmax);
  EXPECT_EQ(quantize_value(-INFINITY, params_from_scale(1.0f, 0), r, Rounding::NearestEven), r.qmin);
}

// numpy computes the seed recipes and the generic formula at test time.
TEST(PeerAffineNumpy, SeedRecipesAndFormulaBitExact) {
  const auto dir = lowbit::testing::scratch_dir();
  auto x = heavy_tailed(50000, 4);
  x[10] = 0.5f, x[11] = -2.5f, x[12] = 1.5f;  // exact ties for the rounding modes
  {
    std::ofstream f(dir / "x.f32", std::ios::binary);
    f.write(reinterpret_cast<const char*>(x.data()), std::streamsize(x.size() * sizeof(float)));
  }
  struct Case {
    std::string name;
    AffineParams p;
    IntRange r;
    Rounding m;
  };
  std::vector<Case> cases;
  float mn = *std::min_element(x.begin(), x.end()), mx = *std::max_element(x.begin(), x.end());
  for (int b : kBits)
    for (bool sym : {true, false})
      for (Rounding m : {Rounding::NearestEven, Rounding::NearestAway}) {
        const bool sgn = sym || b % 2 == 0;  // cover unsigned codes too
        const IntRange r = int_range(b, sgn, sym && b != 16);
        const AffineParams p = sym ? choose_symmetric(std::max(-mn, mx), r) : choose_asymmetric(mn, mx, r);
        cases.push_back({"b" + std::to_string(b) + (sym ? "s" : "a") + std::string(rounding_name(m)), p, r, m});
      }
  {
    std::ofstream f(dir / "cases.txt");
    for (const auto& c : cases) {
      char hex[64];
      std::snprintf(hex, sizeof hex, "%a", double(c.p.inv_scale));
      f << c.name << " " << hex << " " << c.p.zero_point << " " << c.r.qmin << " " << c.r.qmax << " "
        << rounding_name(c.m) << "\n";
    }
  }
  lowbit::testing::run_peer("quant_affine.py", {dir.string()});

  const IntRange i8 = int_range(8, true);
  const AffineParams abs = int8_absmax_recipe(x);
  EXPECT_EQ(abs.inv_scale, read_raw<float>(dir / "absmax_k.f32").at(0));
  const auto want_abs = read_raw<std::int32_t>(dir / "absmax.i32");
  const AffineParams zp = int8_zeropoint_recipe(x);
  const auto kzp = read_raw<float>(dir / "zeropoint_kzp.f32");
  EXPECT_EQ(zp.inv_scale, kzp.at(0));
  EXPECT_EQ(float(zp.zero_point), kzp.at(1));
  const auto want_zp = read_raw<std::int32_t>(dir / "zeropoint.i32");
  ASSERT_EQ(want_abs.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(quantize_value(x[i], abs, i8, Rounding::NearestEven), want_abs[i]) << "absmax, i " << i;
    ASSERT_EQ(quantize_value(x[i], zp, i8, Rounding::NearestEven), want_zp[i]) << "zero-point, i " << i;
  }
  for (const auto& c : cases) {
    const auto want = read_raw<std::int32_t>(dir / (c.name + ".i32"));
    ASSERT_EQ(want.size(), x.size()) << c.name;
    std::vector<std::int32_t> got(x.size());
    quantize_span(x, c.p, c.r, c.m, got);
    for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(got[i], want[i]) << c.name << " i " << i << " x " << x[i];
  }
}
