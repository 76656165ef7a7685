// The eight-lane ggml_v_expf: the AVX2 kernel equals its scalar reference bit for bit on
// every 251st float bit pattern (all signs and exponents), on every float within 2^16
// ulps of its branch points (|n| = 126 and 192, near x = +-87.3 and +-133.1) and of 0, and
// on the special values; lanes are independent of their neighbours. A NaN input gives NaN
// in both (its sign may differ: the scalar code negates n, fnmadd negates the product).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/ggml_expf.h"
#include "kernels/quant_rows.h"

using namespace lowbit;

namespace {

bool same(float a, float b) {
  return std::isnan(a) ? std::isnan(b) : std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// Runs both kernels on xs (padded to whole groups of eight) and counts differing results.
std::int64_t mismatches(const std::vector<float>& xs, float* first_bad) {
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < xs.size(); i += 8) {
    float x[8], a[8], b[8];
    for (std::size_t l = 0; l < 8; ++l) x[l] = xs[std::min(i + l, xs.size() - 1)];
    kernels::ggml_expf8__ref(x, a);
    kernels::ggml_expf8__avx2(x, b);
    for (int l = 0; l < 8; ++l)
      if (!same(a[l], b[l])) {
        if (bad++ == 0) *first_bad = x[l];
      }
  }
  return bad;
}

TEST(GgmlExpf8, Avx2EqualsTheScalarReferenceEverywhere) {
  if (!kernels::fast_kernels_enabled()) GTEST_SKIP() << "no AVX2+FMA+F16C on this CPU";
  std::vector<float> xs;
  for (std::uint64_t u = 0; u <= 0xffffffffu; u += 251) xs.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(u)));
  // Dense around the branch points and zero, both signs.
  const float centers[] = {87.33654f, 88.72284f, 133.08481f, 103.97208f, 0.0f, 1.0f};
  for (const float c : centers)
    for (const float s : {1.0f, -1.0f}) {
      const auto mid = static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(c * s));
      for (std::int64_t d = -65536; d <= 65536; ++d) {
        const std::int64_t u = mid + d;
        if (u >= 0 && u <= 0xffffffff) xs.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(u)));
      }
    }
  for (const float v : {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min(),
                        std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest()})
    xs.push_back(v);
  float first = 0;
  EXPECT_EQ(mismatches(xs, &first), 0) << "first differing input " << first;
  EXPECT_GT(xs.size(), std::size_t{17'000'000});
}

TEST(GgmlExpf8, LanesDoNotDependOnTheirNeighbours) {
  // A group holding plain and large-|x| lanes takes both branches per lane.
  const float mixed[8] = {0.5f, -200.0f, 100.0f, -90.0f, 95.0f, 3.0f, -130.0f, std::numeric_limits<float>::quiet_NaN()};
  float y[8];
  kernels::ggml_expf8_kernel()(mixed, y);
  for (int l = 0; l < 8; ++l) {
    float x1[8], y1[8];
    for (int k = 0; k < 8; ++k) x1[k] = mixed[l];
    kernels::ggml_expf8__ref(x1, y1);
    EXPECT_TRUE(same(y[l], y1[0])) << "lane " << l << ": " << y[l] << " vs " << y1[0];
  }
}

}  // namespace
