// Observer behaviour that needs no peer: input validation (NaN/Inf, shapes, channels),
// the spec parser, per-channel == per-tensor on each channel's slice for every method,
// MSE search optimality against brute force over its own grid, qparams identities
// (0 exact, half-step error inside the range) for every width, and torch's refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lowbit/error.h"
#include "lowbit/observer.h"

using namespace lowbit;
using namespace lowbit::calib;

namespace {
std::vector<float> student(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> d(2.5f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
std::string error_of(auto&& f) {
  try {
    f();
  } catch (const lowbit::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Observer, RefusesNonFiniteNamingTensorBatchElement) {
  for (const auto m : all_methods()) {
    ObserverOptions o;
    o.method = m;
    Observer obs(o, "layer3.fc1.input");
    std::vector<float> x = student(64, 1);
    obs.observe(x);
    x[41] = m == Method::Mse ? -INFINITY : std::nanf("");
    const std::string msg = error_of([&] { obs.observe(x); });
    EXPECT_NE(msg.find("layer3.fc1.input"), std::string::npos) << msg;
    EXPECT_NE(msg.find("batch 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("element 41"), std::string::npos) << msg;
  }
}

TEST(Observer, UseErrors) {
  const QuantTarget t = quant_target(8, true, false);
  Observer empty(ObserverOptions{}, "x");
  EXPECT_NE(error_of([&] { empty.ranges(t); }).find("no data"), std::string::npos);
  std::vector<float> x = student(24, 2);
  const std::int64_t s24[] = {4, 6}, s25[] = {5, 5};
  EXPECT_NE(error_of([&] { empty.observe(x, s25); }).find("25 values"), std::string::npos);
  ObserverOptions pc;
  pc.channel_axis = 1;
  Observer per_channel(pc, "w");
  per_channel.observe(x, s24);
  const std::int64_t s83[] = {8, 3};
  EXPECT_NE(error_of([&] { per_channel.observe(x, s83); }).find("earlier batches had 6"), std::string::npos);
  pc.channel_axis = 2;
  Observer bad_axis(pc, "w");
  EXPECT_NE(error_of([&] { bad_axis.observe(x, s24); }).find("channel axis 2"), std::string::npos);
  // An empty batch is ignored, as torch ignores it.
  Observer o(ObserverOptions{}, "x");
  o.observe(std::span<const float>());
  EXPECT_EQ(o.batches(), 0u);
}

TEST(Observer, ParseSpecs) {
  EXPECT_EQ(parse_observer("minmax").method, Method::MinMax);
  EXPECT_TRUE(parse_observer("minmax:fold").fold_each_batch);
  EXPECT_EQ(parse_observer("ma:0.25").averaging_constant, 0.25f);
  const auto p = parse_observer("percentile:99.9:asym:axis=0");
  EXPECT_EQ(p.method, Method::Percentile);
  EXPECT_EQ(p.percentile, 99.9);
  EXPECT_FALSE(p.symmetric);
  EXPECT_EQ(p.channel_axis, 0);
  EXPECT_EQ(parse_observer("entropy-ort:2048:levels=128").bins, 2048);
  EXPECT_EQ(parse_observer("mse:50").mse_grid, 50);
  for (const auto m : all_methods()) EXPECT_EQ(parse_observer(method_name(m)).method, m);
  for (const char* bad : {"", "minmx", "minmax:3", "ma:2", "percentile:101", "percentile:abc", "entropy:7",
                          "distribution:128", "mse:0", "hist-l2:bins=1.5", "ma:axis=-3", "entropy:frob=1"})
    EXPECT_THROW(parse_observer(bad), lowbit::Error) << bad;
}

TEST(Observer, PerChannelEqualsPerTensorOnEachSlice) {
  // [2, 5, 300] with channels on axis 1: each channel gathers values from both outer rows.
  const std::int64_t shape[] = {2, 5, 300};
  std::vector<std::vector<float>> batches = {student(3000, 3), student(3000, 4)};
  for (auto& v : batches[1]) v *= 3.0f;  // the second batch widens every range
  const QuantTarget t = quant_target(8, false, false);
  for (const auto m : all_methods()) {
    ObserverOptions o;
    o.method = m;
    o.channel_axis = 1;
    Observer pc(o, "x");
    for (const auto& b : batches) pc.observe(b, shape);
    const auto got = pc.ranges(t);
    ASSERT_EQ(got.size(), 5u);
    for (std::size_t c = 0; c < 5; ++c) {
      o.channel_axis = -1;
      Observer one(o, "x");
      for (const auto& b : batches) {
        std::vector<float> slice;
        for (std::size_t r = 0; r < 2; ++r)
          slice.insert(slice.end(), b.begin() + static_cast<std::ptrdiff_t>((r * 5 + c) * 300),
                       b.begin() + static_cast<std::ptrdiff_t>((r * 5 + c + 1) * 300));
        one.observe(slice);
      }
      const Range want = one.ranges(t)[0];
      EXPECT_EQ(got[c].min, want.min) << method_name(m) << " channel " << c;
      EXPECT_EQ(got[c].max, want.max) << method_name(m) << " channel " << c;
    }
  }
}

TEST(Observer, MseSearchIsOptimalOnItsGrid) {
  const auto x = student(5000, 9);
  for (const auto& t : {quant_target(4, true, true), quant_target(8, false, false), quant_target(3, false, false)}) {
    ObserverOptions o;
    o.method = Method::Mse;
    Observer obs(o, "w");
    obs.observe(x);
    const Range best = obs.ranges(t)[0];
    auto sse = [&](Range r) {
      const AffineParams p = qparams_from_range(r, t);
      double s = 0;
      for (float v : x) {
        const double d = dequantize_value(quantize_value(v, p, t.range, Rounding::NearestEven), p) - v;
        s += d * d;
      }
      return s;
    };
    float lo = x[0], hi = x[0];
    for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
    const double at_best = sse(best);
    for (int k = 0; k <= 80; ++k) {
      const float ratio = static_cast<float>(1.0 - k / 100.0);
      EXPECT_LE(at_best, sse({lo * ratio, hi * ratio}) * (1 + 1e-12)) << "ratio " << ratio;
    }
    EXPECT_LT(at_best, sse({lo, hi}));  // heavy tails: clipping must pay off
  }
}

TEST(Observer, EntropyClipsOutliersKeepsUniform) {
  // No runnable TensorRT peer here: check the search's defining behaviour instead.
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(100000);
  for (auto& v : x) v = g(rng);
  x[5] = 400.0f;
  x[6] = -350.0f;
  ObserverOptions o;
  o.method = Method::Entropy;
  Observer obs(o, "a");
  obs.observe(x);
  const Range r = obs.ranges(quant_target(8, true, true))[0];
  EXPECT_LT(r.max, 40.0f);
  EXPECT_GT(r.max, 2.0f);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto& v : x) v = u(rng);
  Observer uni(o, "a");
  uni.observe(x);
  const Range ru = uni.ranges(quant_target(8, true, true))[0];
  EXPECT_GT(ru.max, 0.9f);
  EXPECT_LE(ru.max, 1.0f);
}

TEST(QParams, ZeroExactAndHalfStepForEveryWidth) {
  for (int bits = 2; bits <= 8; ++bits)
    for (bool is_signed : {false, true})
      for (bool sym : {false, true}) {
        const QuantTarget t = quant_target(bits, is_signed, sym);
        for (const Range r : {Range{-1.7f, 3.1f}, Range{0.25f, 9.0f}, Range{-5.0f, -0.5f}, Range{-2.0f, 2.0f}}) {
          const AffineParams p = qparams_from_range(r, t);
          EXPECT_EQ(quantize_value(0.0f, p, t.range, Rounding::NearestEven), p.zero_point);
          EXPECT_EQ(dequantize_value(p.zero_point, p), 0.0f);
          const float lo = std::min(r.min, 0.0f), hi = std::max(r.max, 0.0f);
          for (int k = 0; k <= 200; ++k) {
            const float v = lo + (hi - lo) * static_cast<float>(k) / 200.0f;
            const float y = dequantize_value(quantize_value(v, p, t.range, Rounding::NearestEven), p);
            // Symmetric unsigned codes cannot reach below -Z*S: only check what fits.
            if (v < p.scale * static_cast<float>(t.range.qmin - p.zero_point) ||
                v > p.scale * static_cast<float>(t.range.qmax - p.zero_point))
              continue;
            EXPECT_LE(std::fabs(y - v), 0.5f * p.scale * 1.0001f) << bits << " " << v;
          }
        }
      }
}

TEST(QParams, TorchRangeRules) {
  const auto rr = quant_target(8, true, false, true, std::pair{-8, 7});
  EXPECT_EQ(rr.range.qmin, -4);
  EXPECT_EQ(rr.range.qmax, 3);
  EXPECT_EQ(quant_target(8, false, false, true).range.qmax, 127);
  EXPECT_EQ(quant_target(8, true, false, true).range.qmin, -64);
  EXPECT_THROW(quant_target(8, false, true, true), lowbit::Error);  // Z=128 outside 0..127
  EXPECT_THROW(quant_target(8, true, false, false, std::pair{-200, 7}), lowbit::Error);
  EXPECT_THROW(quant_target(1, true, false), lowbit::Error);
  const AffineParams z = qparams_from_range({0.0f, 0.0f}, quant_target(8, false, false));
  EXPECT_EQ(z.scale, kScaleEps);
  EXPECT_EQ(z.zero_point, 0);
  EXPECT_THROW(qparams_from_range({0.0f, INFINITY}, quant_target(8, true, false)), lowbit::Error);
  EXPECT_THROW(qparams_from_range({-3e38f, 3e38f}, quant_target(8, true, false)), lowbit::Error);
}
