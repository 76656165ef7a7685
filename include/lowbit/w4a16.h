// lowbit's GPU layout for 4-bit weights with group-128 scales (W4A16): the one-time repack
// from codes (or from AutoAWQ/GPTQ checkpoints, src/formats/w4a16_from_hf.cpp) into tiles
// a warp reads with one 16-byte load per lane and feeds straight to mma.m16n8k16.
// docs/formats.md draws the tile; src/kernels/cuda/gemm_w4a16__cuda.cu consumes it.
#pragma once
#include <cstdint>
#include <vector>

namespace lowbit::kernels {

// Weight W [n][k] (out x in) ~ scale[c][g] * (code[c][j] - zero[c][g]), g = j / 128.
// Tile (nb, kb) = columns 8nb..8nb+7 x inputs 128kb..128kb+127, 512 bytes, tiles stored
// nb-major. Lane l = 4c + t of a warp holds column 8nb + c, inputs 128kb + 32t .. +31, as
// four 32-bit words; word i holds inputs 8i..8i+7 (of the lane's 32) with nibble p of the
// word = input 8i + {0,2,4,6,1,3,5,7}[p]: (word >> 4r) & 0x000F000F then yields the pair
// (2r, 2r+1) in the two 16-bit halves, which the kernel turns into two halves by OR-ing an
// exponent. mma's k order is a permutation of the inputs, the same for activations.
struct W4A16Weights {
  std::int64_t n = 0, k = 0;
  bool symmetric = true;               // every zero point is 8: no zeros array
  std::vector<std::uint32_t> qweight;  // n/8 * k/128 * 32 lanes * 4 words
  std::vector<std::uint16_t> scales;   // fp16 bits, [n/8][k/128][8 columns]
  std::vector<std::uint32_t> zeros;    // asymmetric only: [n/8][k/128], column c at bits 4c
};

constexpr std::int64_t kW4A16Group = 128;

// codes [n][k] in 0..15, scales_fp16 [n][k/128] (fp16 bits), zeros [n][k/128] in 0..15 or
// null for symmetric (zero 8). Throws lowbit::Error unless n % 8 == 0, k % 128 == 0 and
// every code and zero fits 4 bits.
W4A16Weights repack_w4a16(const std::uint8_t* codes, const std::uint16_t* scales_fp16, const std::uint8_t* zeros,
                          std::int64_t n, std::int64_t k);

// The weight the tiles stand for, [n][k] row-major, decoded from the tile layout alone
// (the oracle the repack tests compare against an independent unpacking).
std::vector<float> dequantize_w4a16(const W4A16Weights& w);

}  // namespace lowbit::kernels
