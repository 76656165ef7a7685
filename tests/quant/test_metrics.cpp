// Error metrics checked against numpy (float64) at test time, and the identities they
// must satisfy: merge == concatenation, SQNR of exact reconstruction is +inf, cosine of
// a positive multiple is 1, and SQNR of x vs x + noise matches its definition.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "lowbit/error.h"
#include "lowbit/metrics.h"
#include "support/peer.h"

using namespace lowbit;

namespace {
std::vector<float> randn(std::size_t n, std::uint32_t seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
void write(const std::filesystem::path& p, const std::vector<float>& v) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
}
}  // namespace

TEST(ErrorMetrics, Identities) {
  const auto x = randn(10000, 1);
  const ErrorStats same = error_stats(x, x);
  EXPECT_EQ(same.mse(), 0.0);
  EXPECT_TRUE(std::isinf(same.sqnr_db()));
  EXPECT_NEAR(same.cosine(), 1.0, 1e-12);
  std::vector<float> twice(x);
  for (auto& v : twice) v *= 2.0f;
  EXPECT_NEAR(error_stats(x, twice).cosine(), 1.0, 1e-12);
  // Merge of two halves equals the stats of the whole.
  ErrorStats a = error_stats(std::span(x).first(4000), std::span(twice).first(4000));
  a.merge(error_stats(std::span(x).subspan(4000), std::span(twice).subspan(4000)));
  const ErrorStats w = error_stats(x, twice);
  EXPECT_EQ(a.count, w.count);
  EXPECT_NEAR(a.mse(), w.mse(), 1e-12 * w.mse());
  EXPECT_NEAR(a.sqnr_db(), w.sqnr_db(), 1e-9);
  EXPECT_EQ(a.max_abs_err, w.max_abs_err);
  EXPECT_THROW(error_stats(std::span(x).first(3), std::span(x).first(4)), lowbit::Error);
}

TEST(PeerErrorMetricsNumpy, MatchesFloat64Numpy) {
  const auto dir = lowbit::testing::scratch_dir();
  const auto x = randn(100001, 2, 3.0f);
  auto y = x;
  const auto noise = randn(x.size(), 3, 0.05f);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] += noise[i];
  write(dir / "ref.f32", x);
  write(dir / "out.f32", y);
  std::istringstream is(lowbit::testing::run_peer("quant_metrics.py", {dir.string()}));
  double mse, rmse, maxabs, sqnr, cosv;
  is >> mse >> rmse >> maxabs >> sqnr >> cosv;
  ASSERT_TRUE(is) << "could not parse peer output";
  const ErrorStats s = error_stats(x, y);
  // Sums of 1e5 doubles in a different order: relative differences ~1e-13.
  EXPECT_NEAR(s.mse(), mse, 1e-10 * mse);
  EXPECT_NEAR(s.rmse(), rmse, 1e-10 * rmse);
  EXPECT_EQ(s.max_abs_err, maxabs);
  EXPECT_NEAR(s.sqnr_db(), sqnr, 1e-9);
  EXPECT_NEAR(s.cosine(), cosv, 1e-12);
}
