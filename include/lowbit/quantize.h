// Quantizing a whole tensor under a Scheme, and back. QuantizedTensor holds exactly the
// arrays that go to disk (codes packed per row, parameters per block), so its byte
// count is the real storage cost and dequantize() is the definition of what it means.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/scheme.h"

namespace lowbit {

// How a tensor is cut into parameter blocks. rows = numel / cols, cols = last dim.
struct BlockLayout {
  std::int64_t rows = 0, cols = 0;
  std::int64_t outer = 1, channels = 1, inner = 1;  // Channel: shape split at `axis`
  std::int64_t groups_per_row = 1;                   // Group
  std::int64_t group_size = 0;                       // Group: elements per group (cols if none)
  std::int64_t num_blocks = 1;
  std::vector<std::int64_t> param_shape;  // shape of the scale / zero point tensors
};
BlockLayout block_layout(std::span<const std::int64_t> shape, const Scheme& s);

struct QuantizedTensor {
  std::vector<std::int64_t> shape;
  Scheme scheme;
  BlockLayout layout;
  // Affine/KMeans/Grid: per row, packed_bytes(cols, bits) bytes of LSB-first codes
  // (signed codes in two's complement); 16-bit codes as little-endian int16/uint16.
  // Float: the raw fp16/bf16/fp8 elements.
  std::vector<std::uint8_t> codes;
  std::vector<float> scales;              // per block (Affine without super-blocks, Grid, fp8)
  std::vector<std::int32_t> zero_points;  // per block, asymmetric only
  std::vector<std::uint8_t> scale_codes;  // super-blocks: per group, packed scale_bits-bit codes
  std::vector<float> super_scales;        // super-blocks: per super-block
  std::vector<float> codebooks;           // KMeans: num_blocks x 2^bits; Grid: the grid once

  std::int64_t numel() const;
  // Bytes on disk: codes + every parameter array at its stored width.
  std::uint64_t storage_bytes() const;
  double bits_per_weight() const;
  // Effective scale of every block (super-blocks: super_scale * scale code).
  std::vector<float> block_scales() const;
};

// threads <= 0: all hardware threads. Results are identical for any thread count.
QuantizedTensor quantize_tensor(std::span<const float> x, std::span<const std::int64_t> shape,
                                const Scheme& scheme, int threads = 0);
void dequantize_tensor(const QuantizedTensor& q, std::span<float> out, int threads = 0);

// Codes of row r unpacked to int32 (sign-extended for signed affine codes).
void unpack_row_codes(const QuantizedTensor& q, std::int64_t row, std::span<std::int32_t> out);

}  // namespace lowbit
