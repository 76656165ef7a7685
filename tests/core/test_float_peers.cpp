// The float codecs against peer libraries run at test time: ml_dtypes decodes all 256
// fp8 codes and encodes ~4M fp32 values into E4M3FN/E5M2 and bf16; numpy rounds to
// float16. Bit-exact on every non-NaN; a NaN must come out NaN with the same sign (NaN
// payload policies differ between libraries and are documented in docs/formats.md).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "lowbit/bf16.h"
#include "lowbit/fp16.h"
#include "lowbit/fp8.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

template <typename T>
std::vector<T> read_array(const std::filesystem::path& p, std::size_t expect) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("cannot open " + p.string());
  const auto bytes = static_cast<std::size_t>(f.tellg());
  if (bytes != expect * sizeof(T))
    throw std::runtime_error(p.string() + ": unexpected size " + std::to_string(bytes));
  std::vector<T> v(expect);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(bytes));
  return v;
}

// Codes of a narrow format: equal bits, or both NaN with the same sign bit.
template <typename Code>
::testing::AssertionResult same_code(Code got, Code want, bool (*is_nan)(unsigned), Code sign_bit) {
  if (got == want) return ::testing::AssertionSuccess();
  if (is_nan(want) && is_nan(got) && (got & sign_bit) == (want & sign_bit))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << std::hex << "lowbit 0x" << unsigned(got) << ", peer 0x" << unsigned(want);
}

::testing::AssertionResult same_float(float got, float want) {
  const auto g = std::bit_cast<std::uint32_t>(got), w = std::bit_cast<std::uint32_t>(want);
  if (g == w) return ::testing::AssertionSuccess();
  if (std::isnan(got) && std::isnan(want) && std::signbit(got) == std::signbit(want))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << std::hex << "lowbit 0x" << g << ", peer 0x" << w;
}

bool e4m3_nan(unsigned c) { return (c & 0x7Fu) == 0x7Fu; }
bool e5m2_nan(unsigned c) { return (c & 0x7Cu) == 0x7Cu && (c & 3u) != 0; }
bool half_nan(unsigned h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }
bool bf16_nan(unsigned b) { return (b & 0x7F80u) == 0x7F80u && (b & 0x7Fu) != 0; }

}  // namespace

TEST(PeerFp8, MatchesMlDtypes) {
  const auto dir = lowbit::testing::scratch_dir();
  const std::size_t n = std::stoull(lowbit::testing::run_peer("core_fp8.py", {dir.string()}));
  ASSERT_GT(n, 1'000'000u);

  const auto e4_dec = read_array<float>(dir / "e4m3fn_decode.f32", 256);
  const auto e5_dec = read_array<float>(dir / "e5m2_decode.f32", 256);
  for (unsigned c = 0; c < 256; ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    ASSERT_TRUE(same_float(fp8_e4m3fn_to_fp32(code), e4_dec[c])) << "decode e4m3fn code 0x" << std::hex << c;
    ASSERT_TRUE(same_float(fp8_e5m2_to_fp32(code), e5_dec[c])) << "decode e5m2 code 0x" << std::hex << c;
  }

  const auto x = read_array<float>(dir / "encode_in.f32", n);
  const auto e4_want = read_array<std::uint8_t>(dir / "e4m3fn_encode.u8", n);
  const auto e5_want = read_array<std::uint8_t>(dir / "e5m2_encode.u8", n);
  std::vector<std::uint8_t> e4(n), e5(n);
  fp32_to_fp8_e4m3fn(x, e4);
  fp32_to_fp8_e5m2(x, e5);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(same_code<std::uint8_t>(e4[i], e4_want[i], e4m3_nan, 0x80))
        << "encode e4m3fn fp32 0x" << std::hex << std::bit_cast<std::uint32_t>(x[i]) << " (" << x[i] << ")";
    ASSERT_TRUE(same_code<std::uint8_t>(e5[i], e5_want[i], e5m2_nan, 0x80))
        << "encode e5m2 fp32 0x" << std::hex << std::bit_cast<std::uint32_t>(x[i]) << " (" << x[i] << ")";
  }
}

TEST(PeerFp16Bf16, MatchesNumpyAndMlDtypes) {
  const auto dir = lowbit::testing::scratch_dir();
  const std::size_t n = std::stoull(lowbit::testing::run_peer("core_fp16_bf16.py", {dir.string()}));
  ASSERT_GT(n, 1'000'000u);
  const auto x = read_array<float>(dir / "in.f32", n);
  const auto h_want = read_array<std::uint16_t>(dir / "fp16.u16", n);
  const auto b_want = read_array<std::uint16_t>(dir / "bf16.u16", n);
  std::vector<std::uint16_t> h(n), b(n);
  fp32_to_fp16(x, h);
  fp32_to_bf16(x, b);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(same_code<std::uint16_t>(h[i], h_want[i], half_nan, 0x8000))
        << "fp16 of fp32 0x" << std::hex << std::bit_cast<std::uint32_t>(x[i]) << " (" << x[i] << ")";
    ASSERT_TRUE(same_code<std::uint16_t>(b[i], b_want[i], bf16_nan, 0x8000))
        << "bf16 of fp32 0x" << std::hex << std::bit_cast<std::uint32_t>(x[i]) << " (" << x[i] << ")";
  }
}
