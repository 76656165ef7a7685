// Round-to-nearest-even of every narrow float codec, proved by enumeration from the
// definition rather than by expected tables: for every pair of adjacent finite codes
// (decoded exactly, as the round trips in test_fp16/test_bf16/test_fp8 establish), the
// endpoints map to themselves, the exact midpoint goes to the even code, and the fp32
// neighbours of the midpoint go to the nearer code — in both signs.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "lowbit/bf16.h"
#include "lowbit/fp16.h"
#include "lowbit/fp8.h"

using namespace lowbit;

namespace {

// A codec's magnitude codes run 0..max_finite in increasing value order, sign on top.
template <typename Code>
struct Codec {
  const char* name;
  Code (*encode)(float);
  float (*decode)(Code);
  unsigned max_finite;  // largest finite magnitude code
  unsigned sign_bit;
};

template <typename Code>
void check_nearest_even(const Codec<Code>& c) {
  for (unsigned code = 0; code < c.max_finite; ++code) {
    for (const unsigned sign : {0u, c.sign_bit}) {
      const auto lo_code = static_cast<Code>(code | sign);
      const auto hi_code = static_cast<Code>((code + 1) | sign);
      const float lo = c.decode(lo_code);
      const float hi = c.decode(hi_code);
      // Midpoint of two narrow floats needs one more bit than they have: exact in fp32.
      const float mid = static_cast<float>((double(lo) + double(hi)) / 2);
      ASSERT_EQ(double(mid), (double(lo) + double(hi)) / 2) << c.name << " code " << code;
      const float toward_lo = std::nextafter(mid, lo);
      const float toward_hi = std::nextafter(mid, hi);
      const auto even = (code % 2 == 0) ? lo_code : hi_code;
      ASSERT_EQ(c.encode(lo), lo_code) << c.name << " lo of code " << code << " sign " << sign;
      ASSERT_EQ(c.encode(hi), hi_code) << c.name << " hi of code " << code << " sign " << sign;
      ASSERT_EQ(c.encode(mid), even) << c.name << " midpoint " << mid << " above code " << code;
      ASSERT_EQ(c.encode(toward_lo), lo_code) << c.name << " below midpoint " << toward_lo;
      ASSERT_EQ(c.encode(toward_hi), hi_code) << c.name << " above midpoint " << toward_hi;
    }
  }
}

// Above the largest finite value, the codec's next binade step (what an unbounded
// exponent would give) decides overflow: below its midpoint rounds down to max, from the
// midpoint (a tie going to the odd max's even neighbour) on it overflows.
template <typename Code>
void check_overflow_edge(const Codec<Code>& c, Code overflow_code) {
  const float max = c.decode(static_cast<Code>(c.max_finite));
  const float below_max = c.decode(static_cast<Code>(c.max_finite - 1));
  const float ulp = max - below_max;
  const float mid = max + ulp / 2;
  for (const float s : {1.0f, -1.0f}) {
    const Code sign = s < 0 ? static_cast<Code>(c.sign_bit) : Code{0};
    EXPECT_EQ(c.encode(s * std::nextafter(mid, 0.0f)), static_cast<Code>(c.max_finite | sign)) << c.name;
    EXPECT_EQ(c.encode(s * mid), static_cast<Code>(overflow_code | sign)) << c.name;
    EXPECT_EQ(c.encode(s * std::numeric_limits<float>::max()), static_cast<Code>(overflow_code | sign))
        << c.name;
    EXPECT_EQ(c.encode(s * std::numeric_limits<float>::infinity()), static_cast<Code>(overflow_code | sign))
        << c.name;
  }
}

// Below half the smallest subnormal everything is a signed zero, the tie included.
template <typename Code>
void check_underflow_edge(const Codec<Code>& c) {
  const float tiny = c.decode(Code{1});
  for (const float s : {1.0f, -1.0f}) {
    const Code sign = s < 0 ? static_cast<Code>(c.sign_bit) : Code{0};
    EXPECT_EQ(c.encode(s * tiny / 2), sign) << c.name;
    EXPECT_EQ(c.encode(s * std::nextafter(tiny / 2, 1.0f)), static_cast<Code>(1 | sign)) << c.name;
    EXPECT_EQ(c.encode(s * std::numeric_limits<float>::denorm_min()), sign) << c.name;
    EXPECT_EQ(c.encode(s * 0.0f), sign) << c.name;
  }
}

const Codec<std::uint16_t> kFp16{"fp16", fp32_to_fp16, fp16_to_fp32, 0x7BFF, 0x8000};
const Codec<std::uint16_t> kBf16{"bf16", fp32_to_bf16, bf16_to_fp32, 0x7F7F, 0x8000};
const Codec<std::uint8_t> kE4M3{"e4m3fn", fp32_to_fp8_e4m3fn, fp8_e4m3fn_to_fp32, 0x7E, 0x80};
const Codec<std::uint8_t> kE5M2{"e5m2", fp32_to_fp8_e5m2, fp8_e5m2_to_fp32, 0x7B, 0x80};

}  // namespace

TEST(FloatRounding, Fp16NearestEven) { check_nearest_even(kFp16); }
TEST(FloatRounding, Bf16NearestEven) { check_nearest_even(kBf16); }
TEST(FloatRounding, E4M3FNNearestEven) { check_nearest_even(kE4M3); }
TEST(FloatRounding, E5M2NearestEven) { check_nearest_even(kE5M2); }

TEST(FloatRounding, OverflowGoesToInfOrSaturates) {
  check_overflow_edge(kFp16, std::uint16_t{0x7C00});
  check_overflow_edge(kE5M2, std::uint8_t{0x7C});
  // E4M3FN saturates: every finite overflow and ±inf lands on ±max (S.1111.110).
  check_overflow_edge(kE4M3, std::uint8_t{0x7E});
  // bf16's step past max is still a finite fp32, so its edge is checked the same way.
  check_overflow_edge(kBf16, std::uint16_t{0x7F80});
}

TEST(FloatRounding, UnderflowToSignedZero) {
  check_underflow_edge(kFp16);
  check_underflow_edge(kE4M3);
  check_underflow_edge(kE5M2);
  // bf16 shares fp32's exponent range: fp32 subnormals round like everything else.
  check_underflow_edge(kBf16);
}

TEST(FloatRounding, NaNStaysNaNWithSign) {
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  const float snan = std::bit_cast<float>(0x7F800001u);  // signalling, payload in the low bit only
  for (const float n : {qnan, -qnan, snan, -snan}) {
    EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(n))));
    EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(n))));
    EXPECT_TRUE(std::isnan(fp8_e4m3fn_to_fp32(fp32_to_fp8_e4m3fn(n))));
    EXPECT_TRUE(std::isnan(fp8_e5m2_to_fp32(fp32_to_fp8_e5m2(n))));
    EXPECT_EQ(std::signbit(n), std::signbit(fp16_to_fp32(fp32_to_fp16(n))));
    EXPECT_EQ(std::signbit(n), std::signbit(bf16_to_fp32(fp32_to_bf16(n))));
    EXPECT_EQ(std::signbit(n), std::signbit(fp8_e4m3fn_to_fp32(fp32_to_fp8_e4m3fn(n))));
    EXPECT_EQ(std::signbit(n), std::signbit(fp8_e5m2_to_fp32(fp32_to_fp8_e5m2(n))));
  }
}
