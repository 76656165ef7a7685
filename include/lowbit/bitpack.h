// Packing of 1..8-bit codes into bytes, the layout every lowbit sub-byte format uses:
// an LSB-first little-endian bit stream — code i occupies bits [i*b, (i+1)*b) of the
// stream, bit 0 being the least significant bit of byte 0 (docs/formats.md has diagrams).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace lowbit {

// Bytes needed for n codes of `bits` bits: ceil(n * bits / 8). lowbit::Error if bits is
// outside 1..8 or n * bits overflows.
std::size_t packed_bytes(std::size_t n, int bits);

// out.size() must equal packed_bytes(codes.size(), bits); padding bits of the last byte
// are written as zero. A code >= 2^bits is a lowbit::Error naming its index and value
// (masking would silently corrupt neighbouring codes' meaning upstream).
void pack_bits(std::span<const std::uint8_t> codes, int bits, std::span<std::uint8_t> out);

// Inverse of pack_bits: codes.size() is the number of codes; packed.size() must equal
// packed_bytes(codes.size(), bits). Padding bits of the last byte are ignored.
void unpack_bits(std::span<const std::uint8_t> packed, int bits, std::span<std::uint8_t> codes);

}  // namespace lowbit
