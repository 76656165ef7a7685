// fp8 codecs against the OCP 8-bit Floating Point Specification (OFP8) revision 1.0,
// Table 1 (the only hand-written numbers here are copied from it), plus enumeration of
// all 256 codes: decode -> encode is the identity on every non-NaN code, decoding is
// monotonic, and the bulk (table) decoders equal the scalar reference.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/fp8.h"

using namespace lowbit;

namespace {
// OFP8 writes encodings as S.EEEE.MMM (E4M3) and S.EEEEE.MM (E5M2).
constexpr std::uint8_t e4m3(unsigned s, unsigned e, unsigned m) { return std::uint8_t(s << 7 | e << 3 | m); }
constexpr std::uint8_t e5m2(unsigned s, unsigned e, unsigned m) { return std::uint8_t(s << 7 | e << 2 | m); }
}  // namespace

TEST(Fp8, E4M3SpecTable1) {
  for (unsigned s : {0u, 1u}) {
    const float sg = s ? -1.0f : 1.0f;
    // Zeros S.0000.000
    EXPECT_EQ(fp8_e4m3fn_to_fp32(e4m3(s, 0, 0)), 0.0f);
    EXPECT_EQ(std::signbit(fp8_e4m3fn_to_fp32(e4m3(s, 0, 0))), s == 1);
    // Max normal S.1111.110 = 2^8 x 1.75 = 448
    EXPECT_EQ(fp8_e4m3fn_to_fp32(e4m3(s, 15, 6)), sg * 448.0f);
    EXPECT_EQ(fp32_to_fp8_e4m3fn(sg * 448.0f), e4m3(s, 15, 6));
    // Min normal S.0001.000 = 2^-6
    EXPECT_EQ(fp8_e4m3fn_to_fp32(e4m3(s, 1, 0)), sg * std::ldexp(1.0f, -6));
    EXPECT_EQ(fp32_to_fp8_e4m3fn(sg * std::ldexp(1.0f, -6)), e4m3(s, 1, 0));
    // Max subnormal S.0000.111 = 2^-6 x 0.875
    EXPECT_EQ(fp8_e4m3fn_to_fp32(e4m3(s, 0, 7)), sg * std::ldexp(0.875f, -6));
    EXPECT_EQ(fp32_to_fp8_e4m3fn(sg * std::ldexp(0.875f, -6)), e4m3(s, 0, 7));
    // Min subnormal S.0000.001 = 2^-9
    EXPECT_EQ(fp8_e4m3fn_to_fp32(e4m3(s, 0, 1)), sg * std::ldexp(1.0f, -9));
    EXPECT_EQ(fp32_to_fp8_e4m3fn(sg * std::ldexp(1.0f, -9)), e4m3(s, 0, 1));
    // NaN S.1111.111; infinities N/A (lowbit saturates them, section 4 "satfinite" mode)
    EXPECT_TRUE(std::isnan(fp8_e4m3fn_to_fp32(e4m3(s, 15, 7))));
    EXPECT_EQ(fp32_to_fp8_e4m3fn(std::copysign(std::numeric_limits<float>::quiet_NaN(), sg)), e4m3(s, 15, 7));
    EXPECT_EQ(fp32_to_fp8_e4m3fn(sg * std::numeric_limits<float>::infinity()), e4m3(s, 15, 6));
  }
  // Exponent 1111 holds normal numbers in E4M3 (unlike IEEE): S.1111.000 = 2^8.
  EXPECT_EQ(fp8_e4m3fn_to_fp32(e4m3(0, 15, 0)), 256.0f);
}

TEST(Fp8, E5M2SpecTable1) {
  for (unsigned s : {0u, 1u}) {
    const float sg = s ? -1.0f : 1.0f;
    EXPECT_EQ(fp8_e5m2_to_fp32(e5m2(s, 0, 0)), 0.0f);
    EXPECT_EQ(std::signbit(fp8_e5m2_to_fp32(e5m2(s, 0, 0))), s == 1);
    // Max normal S.11110.11 = 2^15 x 1.75 = 57344
    EXPECT_EQ(fp8_e5m2_to_fp32(e5m2(s, 30, 3)), sg * 57344.0f);
    EXPECT_EQ(fp32_to_fp8_e5m2(sg * 57344.0f), e5m2(s, 30, 3));
    // Min normal S.00001.00 = 2^-14
    EXPECT_EQ(fp8_e5m2_to_fp32(e5m2(s, 1, 0)), sg * std::ldexp(1.0f, -14));
    EXPECT_EQ(fp32_to_fp8_e5m2(sg * std::ldexp(1.0f, -14)), e5m2(s, 1, 0));
    // Max subnormal S.00000.11 = 2^-14 x 0.75
    EXPECT_EQ(fp8_e5m2_to_fp32(e5m2(s, 0, 3)), sg * std::ldexp(0.75f, -14));
    EXPECT_EQ(fp32_to_fp8_e5m2(sg * std::ldexp(0.75f, -14)), e5m2(s, 0, 3));
    // Min subnormal S.00000.01 = 2^-16
    EXPECT_EQ(fp8_e5m2_to_fp32(e5m2(s, 0, 1)), sg * std::ldexp(1.0f, -16));
    EXPECT_EQ(fp32_to_fp8_e5m2(sg * std::ldexp(1.0f, -16)), e5m2(s, 0, 1));
    // Infinities S.11111.00
    EXPECT_EQ(fp8_e5m2_to_fp32(e5m2(s, 31, 0)), sg * std::numeric_limits<float>::infinity());
    EXPECT_EQ(fp32_to_fp8_e5m2(sg * std::numeric_limits<float>::infinity()), e5m2(s, 31, 0));
    // NaN S.11111.{01, 10, 11}
    for (unsigned m : {1u, 2u, 3u}) EXPECT_TRUE(std::isnan(fp8_e5m2_to_fp32(e5m2(s, 31, m))));
    const std::uint8_t nan = fp32_to_fp8_e5m2(std::copysign(std::numeric_limits<float>::quiet_NaN(), sg));
    EXPECT_EQ(nan & 0xFCu, e5m2(s, 31, 0));
    EXPECT_NE(nan & 3u, 0u);
  }
}

namespace {
void check_all_codes(const char* name, float (*decode)(std::uint8_t), std::uint8_t (*encode)(float),
                     void (*bulk)(std::span<const std::uint8_t>, std::span<float>),
                     bool (*is_nan)(unsigned)) {
  std::vector<std::uint8_t> codes(256);
  for (unsigned c = 0; c < 256; ++c) codes[c] = static_cast<std::uint8_t>(c);
  std::vector<float> table(256);
  bulk(codes, table);
  for (unsigned c = 0; c < 256; ++c) {
    const float v = decode(static_cast<std::uint8_t>(c));
    ASSERT_EQ(std::bit_cast<std::uint32_t>(v), std::bit_cast<std::uint32_t>(table[c]))
        << name << " code " << c;
    ASSERT_EQ(std::isnan(v), is_nan(c)) << name << " code " << c;
    if (is_nan(c)) {
      ASSERT_TRUE(is_nan(encode(v))) << name << " code " << c;
      continue;
    }
    ASSERT_EQ(encode(v), c) << name << " code " << c << " value " << v;
    const unsigned mag = c & 0x7Fu;
    if (mag > 0) {
      ASSERT_LT(std::fabs(decode(static_cast<std::uint8_t>(c - 1))), std::fabs(v)) << name << " code " << c;
    }
  }
}
}  // namespace

TEST(Fp8, AllCodesRoundTrip) {
  check_all_codes("e4m3fn", fp8_e4m3fn_to_fp32, fp32_to_fp8_e4m3fn, fp8_e4m3fn_to_fp32,
                  [](unsigned c) { return (c & 0x7Fu) == 0x7Fu; });
  check_all_codes("e5m2", fp8_e5m2_to_fp32, fp32_to_fp8_e5m2, fp8_e5m2_to_fp32,
                  [](unsigned c) { return (c & 0x7Cu) == 0x7Cu && (c & 3u) != 0; });
}

TEST(Fp8, BulkEncodeMatchesScalarAndChecksSizes) {
  std::vector<float> in;
  for (int i = -2000; i <= 2000; ++i) in.push_back(static_cast<float>(i) * 0.37f);
  in.push_back(std::numeric_limits<float>::infinity());
  in.push_back(std::numeric_limits<float>::quiet_NaN());
  std::vector<std::uint8_t> a(in.size()), b(in.size());
  fp32_to_fp8_e4m3fn(in, a);
  fp32_to_fp8_e5m2(in, b);
  for (std::size_t i = 0; i < in.size(); ++i) {
    ASSERT_EQ(a[i], fp32_to_fp8_e4m3fn(in[i])) << i;
    ASSERT_EQ(b[i], fp32_to_fp8_e5m2(in[i])) << i;
  }
  std::vector<std::uint8_t> short_out(3);
  EXPECT_THROW(fp32_to_fp8_e4m3fn(in, short_out), Error);
  EXPECT_THROW(fp32_to_fp8_e5m2(in, short_out), Error);
  std::vector<float> short_f(2);
  EXPECT_THROW(fp8_e4m3fn_to_fp32(short_out, short_f), Error);
  EXPECT_THROW(fp8_e5m2_to_fp32(short_out, short_f), Error);
}
