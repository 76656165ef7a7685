// Bit packing: for every width 1..8 and lengths 0..67 plus a large one, random codes
// pack to exactly the stream a bit-at-a-time reading of the layout definition gives,
// unpack back, and match numpy's packbits(bitorder='little') computed at test time.
// Codes too wide for the width, bad widths and wrong buffer sizes are lowbit::Error.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "lowbit/bitpack.h"
#include "lowbit/error.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

// The layout's definition, one bit at a time: bit k of code i is stream bit i*b + k,
// stream bit j is bit (j % 8) of byte j / 8.
std::vector<std::uint8_t> pack_reference(const std::vector<std::uint8_t>& codes, int bits) {
  std::vector<std::uint8_t> out((codes.size() * std::size_t(bits) + 7) / 8, 0);
  for (std::size_t i = 0; i < codes.size(); ++i)
    for (int k = 0; k < bits; ++k) {
      const std::size_t j = i * std::size_t(bits) + std::size_t(k);
      out[j / 8] = static_cast<std::uint8_t>(out[j / 8] | (((codes[i] >> k) & 1u) << (j % 8)));
    }
  return out;
}

std::vector<std::size_t> test_lengths() {
  std::vector<std::size_t> n;
  for (std::size_t i = 0; i <= 67; ++i) n.push_back(i);
  n.push_back(1'000'003);
  return n;
}

std::vector<std::uint8_t> read_all(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(Bitpack, RoundTripAndLayoutDefinition) {
  std::mt19937 rng(7);
  for (int bits = 1; bits <= 8; ++bits) {
    for (const std::size_t n : test_lengths()) {
      for (int rep = 0; rep < (n < 100 ? 20 : 1); ++rep) {
        std::vector<std::uint8_t> codes(n);
        for (auto& c : codes) c = static_cast<std::uint8_t>(rng() & ((1u << bits) - 1u));
        ASSERT_EQ(packed_bytes(n, bits), (n * std::size_t(bits) + 7) / 8);
        std::vector<std::uint8_t> packed(packed_bytes(n, bits));
        pack_bits(codes, bits, packed);
        ASSERT_EQ(packed, pack_reference(codes, bits)) << "bits " << bits << " n " << n;
        // Garbage in the padding bits must not leak into the codes.
        if (const std::size_t used = n * std::size_t(bits) % 8; used != 0)
          packed.back() = static_cast<std::uint8_t>(packed.back() | (0xFFu << used));
        std::vector<std::uint8_t> back(n, 0xAA);
        unpack_bits(packed, bits, back);
        for (std::size_t i = 0; i < n; ++i)
          ASSERT_EQ(back[i], codes[i]) << "bits " << bits << " n " << n << " first bad index " << i;
      }
    }
  }
}

TEST(Bitpack, RejectsCodesTooWide) {
  for (int bits = 1; bits <= 7; ++bits) {
    std::vector<std::uint8_t> codes(37, 0);
    codes[29] = static_cast<std::uint8_t>(1u << bits);
    std::vector<std::uint8_t> out(packed_bytes(codes.size(), bits));
    try {
      pack_bits(codes, bits, out);
      FAIL() << "bits " << bits << ": code " << int(codes[29]) << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("index 29"), std::string::npos) << e.what();
    }
  }
}

TEST(Bitpack, RejectsBadWidthsAndSizes) {
  std::vector<std::uint8_t> codes(10, 1), out(5);
  EXPECT_THROW((void)packed_bytes(10, 0), Error);
  EXPECT_THROW((void)packed_bytes(10, 9), Error);
  EXPECT_THROW((void)packed_bytes(SIZE_MAX / 2, 8), Error);
  EXPECT_THROW(pack_bits(codes, 0, out), Error);
  EXPECT_THROW(pack_bits(codes, 3, out), Error);  // needs 4 bytes, got 5
  EXPECT_THROW(unpack_bits(out, 3, codes), Error);
  EXPECT_NO_THROW(pack_bits(codes, 4, out));
  EXPECT_NO_THROW(unpack_bits(out, 4, codes));
}

TEST(PeerBitpack, MatchesNumpyPackbitsLittle) {
  const auto dir = lowbit::testing::scratch_dir();
  std::istringstream manifest(lowbit::testing::run_peer("core_bitpack.py", {dir.string()}));
  const auto codes = read_all(dir / "codes.u8");
  const auto packed = read_all(dir / "packed.u8");
  int bits = 0;
  std::size_t n = 0, code_off = 0, packed_off = 0, packed_len = 0, cases = 0;
  while (manifest >> bits >> n >> code_off >> packed_off >> packed_len) {
    ++cases;
    ASSERT_LE(code_off + n, codes.size());
    ASSERT_LE(packed_off + packed_len, packed.size());
    ASSERT_EQ(packed_bytes(n, bits), packed_len) << "bits " << bits << " n " << n;
    const std::span<const std::uint8_t> in(codes.data() + code_off, n);
    std::vector<std::uint8_t> mine(packed_len);
    pack_bits(in, bits, mine);
    for (std::size_t j = 0; j < packed_len; ++j)
      ASSERT_EQ(int(mine[j]), int(packed[packed_off + j]))
          << "bits " << bits << " n " << n << " first bad byte " << j;
    std::vector<std::uint8_t> back(n);
    unpack_bits(std::span<const std::uint8_t>(packed.data() + packed_off, packed_len), bits, back);
    for (std::size_t i = 0; i < n; ++i)
      ASSERT_EQ(back[i], in[i]) << "bits " << bits << " n " << n << " index " << i;
  }
  EXPECT_EQ(cases, 8u * 69u);
}
