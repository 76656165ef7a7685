// bf16 codec: all 65,536 bfloat16 patterns survive 16 -> 32 -> 16 (NaNs as the same NaN
// made quiet), decoding is the top half of an fp32 for every non-NaN, and the bulk span
// functions agree with the scalar ones and check sizes.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

#include "lowbit/bf16.h"
#include "lowbit/error.h"

using namespace lowbit;

TEST(Bf16, AllPatternsRoundTrip) {
  std::vector<std::uint16_t> codes(65536), back(65536);
  for (unsigned i = 0; i < 65536; ++i) codes[i] = static_cast<std::uint16_t>(i);
  std::vector<float> wide(65536);
  bf16_to_fp32(codes, wide);
  fp32_to_bf16(wide, back);
  for (unsigned i = 0; i < 65536; ++i) {
    const bool nan = (i & 0x7F80u) == 0x7F80u && (i & 0x7Fu) != 0;
    ASSERT_EQ(nan, std::isnan(wide[i])) << std::hex << "bf16 0x" << i;
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(wide[i]);
    // bfloat16 is defined as the upper half of binary32; only NaNs get the quiet bit.
    ASSERT_EQ(bits, (i << 16) | (nan ? 0x400000u : 0u)) << std::hex << "bf16 0x" << i;
    ASSERT_EQ(back[i], nan ? (i | 0x40u) : i) << std::hex << "bf16 0x" << i;
    ASSERT_EQ(fp32_to_bf16(wide[i]), back[i]) << "scalar vs bulk differ at 0x" << std::hex << i;
  }
}

TEST(Bf16, BulkRejectsSizeMismatch) {
  std::vector<float> f(5);
  std::vector<std::uint16_t> h(4);
  EXPECT_THROW(fp32_to_bf16(f, h), Error);
  EXPECT_THROW(bf16_to_fp32(h, f), Error);
}
