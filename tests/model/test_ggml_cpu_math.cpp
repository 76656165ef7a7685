// lowbit's scalar twin of ggml_v_expf against the mathematical exp: ggml states a maximum
// error of 1.45358 + 0.5 ulp, so every float in [-103.97, 88.38] sampled at a fixed stride
// (2^24 values) must be within 2 ulp of exp computed in double; below the range it
// flushes to 0 (exp(-inf) = 0 is what masked attention keys rely on), above it to +inf.
// silu = x / (1 + exp(-x)) then stays within a few ulp of the double formula.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "model/ggml_cpu_math.h"

using namespace lowbit::model;

namespace {

double ulp_error(float got, double want) {
  const float w = static_cast<float>(want);
  const double ulp = std::fabs(static_cast<double>(std::nextafter(w, std::numeric_limits<float>::infinity())) - w);
  return std::fabs(got - want) / ulp;
}

TEST(GgmlCpuMath, ExpfWithinTwoUlpOverItsRange) {
  double worst = 0;
  float worst_x = 0;
  std::uint64_t checked = 0;
  for (std::uint64_t bits = 0; bits < (std::uint64_t{1} << 32); bits += 256) {
    const float x = std::bit_cast<float>(static_cast<std::uint32_t>(bits));
    if (!(x >= -103.9f && x <= 88.3f)) continue;
    const double want = std::exp(static_cast<double>(x));
    if (want < static_cast<double>(std::numeric_limits<float>::min())) continue;  // subnormal results: absolute check below
    const double e = ulp_error(ggml_expf_avx2(x), want);
    if (e > worst) worst = e, worst_x = x;
    ++checked;
  }
  std::printf("ggml expf: %llu values, worst %.3f ulp at %a\n", static_cast<unsigned long long>(checked), worst, worst_x);
  EXPECT_GT(checked, std::uint64_t{1} << 23);
  EXPECT_LE(worst, 2.0);
}

TEST(GgmlCpuMath, ExpfLimits) {
  EXPECT_EQ(ggml_expf_avx2(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(ggml_expf_avx2(-200.0f), 0.0f);
  EXPECT_EQ(ggml_expf_avx2(200.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(ggml_expf_avx2(0.0f), 1.0f);
  for (float x = -103.9f; x < -87.0f; x += 0.01f)  // subnormal results: absolute error below 2 subnormal ulps
    EXPECT_LE(std::fabs(ggml_expf_avx2(x) - std::exp(static_cast<double>(x))), 2 * 0x1p-149) << x;
}

TEST(GgmlCpuMath, SiluWithinFourUlpOfTheFormula) {
  double worst = 0;
  for (float x = -80.0f; x <= 80.0f; x += 0.001f) {
    const double want = x / (1.0 + std::exp(-static_cast<double>(x)));
    if (std::fabs(want) < static_cast<double>(std::numeric_limits<float>::min())) continue;
    worst = std::max(worst, ulp_error(ggml_silu_avx2(x), want));
  }
  std::printf("ggml silu: worst %.3f ulp\n", worst);
  EXPECT_LE(worst, 4.0);
}

}  // namespace
