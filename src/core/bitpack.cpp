// LSB-first bit packing of 1..8-bit codes (layout in lowbit/bitpack.h, docs/formats.md).
// Every width packs groups of 8 codes into exactly `bits` bytes through a 64-bit
// accumulator, with the width a template parameter so each loop fully unrolls; 4 and 8
// bits, by far the most common, get direct nibble/byte loops.
#include "lowbit/bitpack.h"

#include <cstring>
#include <limits>

#include "lowbit/error.h"

namespace lowbit {
namespace {

void check_bits(int bits) {
  if (bits < 1 || bits > 8) fail("bit width ", bits, " is outside 1..8");
}

// Reject codes that do not fit: OR-reduce first (vectorisable) so the common, valid case
// costs one pass, then look for the culprit only to name it.
void check_codes(std::span<const std::uint8_t> codes, int bits) {
  if (bits == 8) return;
  const auto mask = static_cast<std::uint8_t>((1u << bits) - 1u);
  std::uint8_t any = 0;
  for (const std::uint8_t c : codes) any |= c;
  if ((any & ~mask) == 0) return;
  for (std::size_t i = 0; i < codes.size(); ++i)
    if (codes[i] > mask)
      fail("pack_bits: code ", static_cast<unsigned>(codes[i]), " at index ", i, " does not fit in ", bits,
           " bits (max ", static_cast<unsigned>(mask), ")");
}

template <int B>
void pack_groups(const std::uint8_t* codes, std::size_t n, std::uint8_t* out) {
  const std::size_t groups = n / 8;
  for (std::size_t g = 0; g < groups; ++g, codes += 8, out += B) {
    std::uint64_t acc = 0;
    for (int k = 0; k < 8; ++k) acc |= static_cast<std::uint64_t>(codes[k]) << (k * B);
    for (int k = 0; k < B; ++k) out[k] = static_cast<std::uint8_t>(acc >> (8 * k));
  }
  const std::size_t rest = n % 8;
  if (rest == 0) return;
  std::uint64_t acc = 0;
  for (std::size_t k = 0; k < rest; ++k) acc |= static_cast<std::uint64_t>(codes[k]) << (k * B);
  const std::size_t tail_bytes = (rest * B + 7) / 8;
  for (std::size_t k = 0; k < tail_bytes; ++k) out[k] = static_cast<std::uint8_t>(acc >> (8 * k));
}

template <int B>
void unpack_groups(const std::uint8_t* packed, std::size_t n, std::uint8_t* codes) {
  constexpr std::uint64_t kMask = (1u << B) - 1u;
  const std::size_t groups = n / 8;
  for (std::size_t g = 0; g < groups; ++g, packed += B, codes += 8) {
    std::uint64_t acc = 0;
    for (int k = 0; k < B; ++k) acc |= static_cast<std::uint64_t>(packed[k]) << (8 * k);
    for (int k = 0; k < 8; ++k) codes[k] = static_cast<std::uint8_t>((acc >> (k * B)) & kMask);
  }
  const std::size_t rest = n % 8;
  if (rest == 0) return;
  std::uint64_t acc = 0;
  const std::size_t tail_bytes = (rest * B + 7) / 8;
  for (std::size_t k = 0; k < tail_bytes; ++k) acc |= static_cast<std::uint64_t>(packed[k]) << (8 * k);
  for (std::size_t k = 0; k < rest; ++k) codes[k] = static_cast<std::uint8_t>((acc >> (k * B)) & kMask);
}

void pack4(const std::uint8_t* codes, std::size_t n, std::uint8_t* out) {
  for (std::size_t j = 0; j < n / 2; ++j)
    out[j] = static_cast<std::uint8_t>(codes[2 * j] | (codes[2 * j + 1] << 4));
  if (n % 2) out[n / 2] = codes[n - 1];
}

void unpack4(const std::uint8_t* packed, std::size_t n, std::uint8_t* codes) {
  for (std::size_t j = 0; j < n / 2; ++j) {
    codes[2 * j] = packed[j] & 0x0Fu;
    codes[2 * j + 1] = packed[j] >> 4;
  }
  if (n % 2) codes[n - 1] = packed[n / 2] & 0x0Fu;
}

void copy8(const std::uint8_t* in, std::size_t n, std::uint8_t* out) { std::memcpy(out, in, n); }

// Indexed by bit width (entry 0 unused: widths are checked before lookup).
using CodecFn = void (*)(const std::uint8_t*, std::size_t, std::uint8_t*);
constexpr CodecFn kPack[9] = {nullptr,        pack_groups<1>, pack_groups<2>, pack_groups<3>, pack4,
                              pack_groups<5>, pack_groups<6>, pack_groups<7>, copy8};
constexpr CodecFn kUnpack[9] = {nullptr,          unpack_groups<1>, unpack_groups<2>,
                                unpack_groups<3>, unpack4,          unpack_groups<5>,
                                unpack_groups<6>, unpack_groups<7>, copy8};

}  // namespace

std::size_t packed_bytes(std::size_t n, int bits) {
  check_bits(bits);
  const auto b = static_cast<std::size_t>(bits);
  if (n > (std::numeric_limits<std::size_t>::max() - 7) / b)
    fail("packed_bytes: ", n, " codes of ", bits, " bits overflow size_t");
  return (n * b + 7) / 8;
}

void pack_bits(std::span<const std::uint8_t> codes, int bits, std::span<std::uint8_t> out) {
  const std::size_t need = packed_bytes(codes.size(), bits);
  if (out.size() != need)
    fail("pack_bits: ", codes.size(), " codes of ", bits, " bits need ", need, " bytes, got ", out.size());
  check_codes(codes, bits);
  const std::size_t n = codes.size();
  if (n == 0) return;
  kPack[bits](codes.data(), n, out.data());
}

void unpack_bits(std::span<const std::uint8_t> packed, int bits, std::span<std::uint8_t> codes) {
  const std::size_t need = packed_bytes(codes.size(), bits);
  if (packed.size() != need)
    fail("unpack_bits: ", codes.size(), " codes of ", bits, " bits need ", need, " bytes, got ",
         packed.size());
  const std::size_t n = codes.size();
  if (n == 0) return;
  kUnpack[bits](packed.data(), n, codes.data());
}

}  // namespace lowbit
