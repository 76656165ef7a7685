// Codebook assignment (nearest entry, ties low, as Lloyd 1982 assumes and bitsandbytes'
// NF4 thresholds do), lookup dequantization, grid parsing, and the NF4 table of QLoRA
// (Dettmers et al. 2023, appendix E) recomputed at test time the way bitsandbytes'
// create_normal_map does, with scipy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <random>
#include <sstream>

#include "lowbit/codebook.h"
#include "lowbit/error.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

// Brute force: smallest |x - c_j| in double, first index on ties.
std::uint8_t brute_nearest(std::span<const float> c, float x) {
  std::size_t best = 0;
  for (std::size_t j = 1; j < c.size(); ++j)
    if (std::fabs(static_cast<double>(x) - c[j]) < std::fabs(static_cast<double>(x) - c[best])) best = j;
  return static_cast<std::uint8_t>(best);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const lowbit::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(CodebookAssign, NearestWithTiesToTheLowerIndex) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (std::size_t k : {1u, 2u, 5u, 16u, 33u, 256u}) {
    std::vector<float> c(k);
    for (auto& v : c) v = d(rng);
    std::sort(c.begin(), c.end());
    if (k > 3) c[2] = c[1];  // a duplicate entry is never chosen past its first copy
    std::vector<float> x(4000);
    for (auto& v : x) v = 1.5f * d(rng);
    // Exact midpoints (representable ones) must go to the lower entry.
    for (std::size_t j = 0; j + 1 < k && j < 1000; ++j) x[j] = static_cast<float>(codebook_midpoint(c[j], c[j + 1]));
    x[3999] = INFINITY;
    x[3998] = -INFINITY;
    std::vector<std::uint8_t> idx(x.size());
    assign_nearest(c, x, idx);
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (std::isinf(x[i])) {
        EXPECT_EQ(idx[i], x[i] > 0 ? k - 1 : 0u);
        continue;
      }
      ASSERT_EQ(idx[i], brute_nearest(c, x[i])) << "k " << k << " x[" << i << "] = " << x[i];
    }
  }
  const std::vector<float> c = {-1.0f, 0.0f, 1.0f};
  std::vector<float> x = {-0.5f, 0.5f, 0.25f};
  std::vector<std::uint8_t> idx(3);
  assign_nearest(c, x, idx);
  EXPECT_EQ(idx, (std::vector<std::uint8_t>{0, 1, 1}));  // midpoints go low
}

TEST(CodebookAssign, DequantizeIsALookup) {
  const std::vector<float> c = {-2.0f, 0.5f, 3.0f};
  const std::vector<std::uint8_t> idx = {2, 0, 1, 1};
  std::vector<float> out(4);
  dequantize_codebook(c, idx, out);
  EXPECT_EQ(out, (std::vector<float>{3.0f, -2.0f, 0.5f, 0.5f}));
  const std::vector<std::uint8_t> bad = {0, 1, 3};
  std::vector<float> o3(3);
  EXPECT_NE(error_of([&] { dequantize_codebook(c, bad, o3); }).find("index 2"), std::string::npos);
  EXPECT_THROW(dequantize_codebook(c, idx, o3), lowbit::Error);
}

TEST(CodebookAssign, RejectsBadCodebooksAndNaN) {
  std::vector<std::uint8_t> idx(2);
  const std::vector<float> x = {0.0f, NAN};
  const std::vector<float> unsorted = {1.0f, 0.0f};
  EXPECT_NE(error_of([&] { assign_nearest(unsorted, std::span(x).first(1), std::span(idx).first(1)); })
                .find("not sorted"),
            std::string::npos);
  EXPECT_THROW(assign_nearest({}, std::span(x).first(1), std::span(idx).first(1)), lowbit::Error);
  EXPECT_THROW(assign_nearest(std::vector<float>(257, 0.0f), std::span(x).first(1), std::span(idx).first(1)),
               lowbit::Error);
  EXPECT_NE(error_of([&] { assign_nearest(std::vector<float>{0.0f, 1.0f}, x, idx); }).find("x[1]"),
            std::string::npos);
  EXPECT_THROW(assign_nearest(std::vector<float>{0.0f}, x, std::span(idx).first(1)), lowbit::Error);
}

TEST(CodebookGrids, NF4TableShape) {
  // Properties QLoRA states: 16 ascending values, exact -1, 0 and 1, 8 positive and 7
  // negative values (the asymmetric "extra" positive value).
  const auto g = nf4_grid();
  ASSERT_EQ(g.size(), 16u);
  EXPECT_TRUE(std::is_sorted(g.begin(), g.end()));
  EXPECT_EQ(g.front(), -1.0f);
  EXPECT_EQ(g.back(), 1.0f);
  EXPECT_EQ(g[7], 0.0f);
  EXPECT_EQ(std::count_if(g.begin(), g.end(), [](float v) { return v > 0; }), 8);
  const auto named = named_grid("nf4");
  EXPECT_TRUE(std::equal(named.begin(), named.end(), g.begin(), g.end()));
  EXPECT_NE(error_of([] { named_grid("nf5"); }).find("nf5"), std::string::npos);
}

TEST(CodebookGrids, ParsesUserGrids) {
  EXPECT_EQ(parse_grid("-1,-0.5,0,0.5,1"), (std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f}));
  EXPECT_EQ(parse_grid(" -1 , +0.25,\t3e-1 ,1"), (std::vector<float>{-1.0f, 0.25f, 0.3f, 1.0f}));
  EXPECT_EQ(parse_grid("7"), (std::vector<float>{7.0f}));
  std::string big;
  for (int i = 0; i < 256; ++i) big += (i ? "," : "") + std::to_string(i);
  EXPECT_EQ(parse_grid(big).size(), 256u);
  EXPECT_NE(error_of([&] { parse_grid(big + ",256"); }).find("more than 256"), std::string::npos);
  // Errors say which entry and where it starts.
  const auto e1 = error_of([] { parse_grid("-1,abc,1"); });
  EXPECT_NE(e1.find("entry 1 at offset 3"), std::string::npos) << e1;
  const auto e2 = error_of([] { parse_grid("0,1,,2"); });
  EXPECT_NE(e2.find("entry 2 at offset 4"), std::string::npos) << e2;
  const auto e3 = error_of([] { parse_grid("0,0.5,0.5"); });
  EXPECT_NE(e3.find("entry 2 at offset 6"), std::string::npos) << e3;
  EXPECT_NE(e3.find("ascending"), std::string::npos) << e3;
  const auto e4 = error_of([] { parse_grid("1,0"); });
  EXPECT_NE(e4.find("entry 1"), std::string::npos) << e4;
  EXPECT_NE(error_of([] { parse_grid("0,inf"); }).find("entry 1"), std::string::npos);
  EXPECT_NE(error_of([] { parse_grid("0,nan"); }).find("entry 1"), std::string::npos);
  EXPECT_NE(error_of([] { parse_grid("0,1x"); }).find("entry 1"), std::string::npos);
  EXPECT_NE(error_of([] { parse_grid(""); }).find("entry 0"), std::string::npos);
  EXPECT_NE(error_of([] { parse_grid("0,"); }).find("entry 1"), std::string::npos);
}

TEST(CodebookGrids, AbsmaxBlockRoundTrip) {
  std::mt19937 rng(8);
  std::normal_distribution<float> d(0.0f, 0.3f);
  std::vector<float> x(64);
  for (auto& v : x) v = d(rng);
  const auto g = nf4_grid();
  std::vector<std::uint8_t> idx(x.size());
  const float absmax = quantize_absmax_grid(g, x, idx);
  float expect_absmax = 0.0f;
  for (float v : x) expect_absmax = std::max(expect_absmax, std::fabs(v));
  EXPECT_EQ(absmax, expect_absmax);
  std::vector<float> out(x.size());
  dequantize_absmax_grid(g, absmax, idx, out);
  const float inv = 1.0f / absmax;
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(idx[i], brute_nearest(g, x[i] * inv)) << i;
    EXPECT_EQ(out[i], absmax * g[idx[i]]);
  }
  // The absmax element is reproduced exactly (it maps to +-1).
  const auto it = std::max_element(x.begin(), x.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); });
  EXPECT_EQ(out[static_cast<std::size_t>(it - x.begin())], *it);
  // An all-zero block: absmax 0, every code is NF4's exact zero.
  std::vector<float> z(8, 0.0f), zo(8);
  std::vector<std::uint8_t> zi(8);
  EXPECT_EQ(quantize_absmax_grid(g, z, zi), 0.0f);
  dequantize_absmax_grid(g, 0.0f, zi, zo);
  for (std::size_t i = 0; i < z.size(); ++i) {
    EXPECT_EQ(g[zi[i]], 0.0f);
    EXPECT_EQ(zo[i], 0.0f);
  }
}

TEST(PeerCodebookNF4, MatchesBitsandbytesNormalMap) {
  std::istringstream out(lowbit::testing::run_peer("quant_codebook_nf4.py", {}));
  const auto g = nf4_grid();
  double v, tol;
  std::size_t i = 0;
  while (out >> v >> tol) {
    ASSERT_LT(i, g.size());
    EXPECT_NEAR(g[i], v, tol) << "NF4[" << i << "]";
    ++i;
  }
  EXPECT_EQ(i, g.size());
}
