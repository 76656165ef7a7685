// fp16 codec: all 65,536 binary16 patterns survive 16 -> 32 -> 16 (NaNs come back as
// the same NaN made quiet), decoding is monotonic in the code order the rounding test
// relies on, and the bulk span functions agree with the scalar ones and check sizes.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/fp16.h"

using namespace lowbit;

TEST(Fp16, AllPatternsRoundTrip) {
  std::vector<std::uint16_t> codes(65536), back(65536);
  for (unsigned i = 0; i < 65536; ++i) codes[i] = static_cast<std::uint16_t>(i);
  std::vector<float> wide(65536);
  fp16_to_fp32(codes, wide);
  fp32_to_fp16(wide, back);
  for (unsigned i = 0; i < 65536; ++i) {
    const bool nan = (i & 0x7C00u) == 0x7C00u && (i & 0x3FFu) != 0;
    ASSERT_EQ(nan, std::isnan(wide[i])) << std::hex << "fp16 0x" << i;
    // A NaN's payload survives and only the quiet bit (mantissa msb) may be added.
    const unsigned expect = nan ? (i | 0x200u) : i;
    ASSERT_EQ(back[i], expect) << std::hex << "fp16 0x" << i << " -> fp32 0x"
                               << std::bit_cast<std::uint32_t>(wide[i]);
    ASSERT_EQ(std::bit_cast<std::uint32_t>(fp16_to_fp32(codes[i])), std::bit_cast<std::uint32_t>(wide[i]))
        << "scalar vs bulk differ at 0x" << std::hex << i;
  }
}

TEST(Fp16, DecodeIsMonotonicAndSignSymmetric) {
  for (unsigned i = 0; i < 0x7C00u; ++i) {
    const float a = fp16_to_fp32(static_cast<std::uint16_t>(i));
    const float b = fp16_to_fp32(static_cast<std::uint16_t>(i + 1));
    ASSERT_LT(a, b) << std::hex << "0x" << i;
    ASSERT_EQ(-a, fp16_to_fp32(static_cast<std::uint16_t>(i | 0x8000u)));
  }
}

TEST(Fp16, BulkRejectsSizeMismatch) {
  std::vector<float> f(3);
  std::vector<std::uint16_t> h(4);
  EXPECT_THROW(fp32_to_fp16(f, h), Error);
  EXPECT_THROW(fp16_to_fp32(h, f), Error);
  std::vector<float> none;
  std::vector<std::uint16_t> none16;
  fp32_to_fp16(none, none16);  // empty spans are fine
}
