// ggml's block layouts as POD structs, byte-for-byte what GGUF files hold (little
// endian, no padding): the static_asserts pin each size to ggml's type_size. fp16
// fields are raw IEEE binary16 bits (lowbit/fp16.h converts). See docs/formats.md.
#pragma once
#include <cstdint>

namespace lowbit::ggml {

inline constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32;
inline constexpr int QK4_NL = 32;
inline constexpr int QK_K = 256;          // super-block of the k-quants and IQ4_XS
inline constexpr int K_SCALE_SIZE = 12;   // packed 6-bit scales+mins of Q4_K/Q5_K

struct block_q4_0 { std::uint16_t d; std::uint8_t qs[QK4_0 / 2]; };
static_assert(sizeof(block_q4_0) == 18);
struct block_q4_1 { std::uint16_t d, m; std::uint8_t qs[QK4_1 / 2]; };
static_assert(sizeof(block_q4_1) == 20);
struct block_q5_0 { std::uint16_t d; std::uint8_t qh[4]; std::uint8_t qs[QK5_0 / 2]; };
static_assert(sizeof(block_q5_0) == 22);
struct block_q5_1 { std::uint16_t d, m; std::uint8_t qh[4]; std::uint8_t qs[QK5_1 / 2]; };
static_assert(sizeof(block_q5_1) == 24);
struct block_q8_0 { std::uint16_t d; std::int8_t qs[QK8_0]; };
static_assert(sizeof(block_q8_0) == 34);
// Activation-side block of Q4_1/Q5_1 dot products: d, and s = d * sum(qs) (both fp16).
struct block_q8_1 { std::uint16_t d, s; std::int8_t qs[32]; };
static_assert(sizeof(block_q8_1) == 36);

// k-quants: 256 weights in 16 (Q2_K, Q3_K, Q6_K) or 8 (Q4_K, Q5_K) sub-blocks with
// quantized per-sub-block scales under one or two fp16 super-scales.
struct block_q2_K { std::uint8_t scales[QK_K / 16]; std::uint8_t qs[QK_K / 4]; std::uint16_t d, dmin; };
static_assert(sizeof(block_q2_K) == 84);
struct block_q3_K { std::uint8_t hmask[QK_K / 8]; std::uint8_t qs[QK_K / 4]; std::uint8_t scales[12]; std::uint16_t d; };
static_assert(sizeof(block_q3_K) == 110);
struct block_q4_K { std::uint16_t d, dmin; std::uint8_t scales[K_SCALE_SIZE]; std::uint8_t qs[QK_K / 2]; };
static_assert(sizeof(block_q4_K) == 144);
struct block_q5_K { std::uint16_t d, dmin; std::uint8_t scales[K_SCALE_SIZE]; std::uint8_t qh[QK_K / 8]; std::uint8_t qs[QK_K / 2]; };
static_assert(sizeof(block_q5_K) == 176);
// The 12-byte scale packing (get_scale_min's inverse): sub-blocks 0..3 keep sc in bytes
// 0..3 and m in bytes 4..7 (low 6 bits); sub-blocks 4..7 keep their low nibbles in bytes
// 8..11 and their top two bits in the spare bits 6..7 of bytes 0..3 (sc) and 4..7 (m).
// ls/lm are <= 63, and sub-blocks go in order 0..7 (4..7 OR into bytes 0..7).
inline void put_scale_min(std::uint8_t* q, int j, std::uint8_t ls, std::uint8_t lm) {
  if (j < 4) {
    q[j] = ls;
    q[j + 4] = lm;
  } else {
    q[j + 4] = static_cast<std::uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    q[j - 4] = static_cast<std::uint8_t>(q[j - 4] | ((ls >> 4) << 6));
    q[j] = static_cast<std::uint8_t>(q[j] | ((lm >> 4) << 6));
  }
}

// llama.cpp's get_scale_min_k4: sub-block j's 6-bit scale and min from Q4_K/Q5_K's 12
// packed bytes.
inline void get_scale_min(int j, const std::uint8_t* q, std::uint8_t& d, std::uint8_t& m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = static_cast<std::uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<std::uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

struct block_q6_K { std::uint8_t ql[QK_K / 2]; std::uint8_t qh[QK_K / 4]; std::int8_t scales[QK_K / 16]; std::uint16_t d; };
static_assert(sizeof(block_q6_K) == 210);
// Activations for k-quant dot products: fp32 scale, int8 quants, sums of 16.
struct block_q8_K { float d; std::int8_t qs[QK_K]; std::int16_t bsums[QK_K / 16]; };
static_assert(sizeof(block_q8_K) == 292);

// Non-linear 4-bit: codes index the fixed 16-entry kvalues_iq4nl table.
struct block_iq4_nl { std::uint16_t d; std::uint8_t qs[QK4_NL / 2]; };
static_assert(sizeof(block_iq4_nl) == 18);
struct block_iq4_xs { std::uint16_t d; std::uint16_t scales_h; std::uint8_t scales_l[QK_K / 64]; std::uint8_t qs[QK_K / 2]; };
static_assert(sizeof(block_iq4_xs) == 136);

}  // namespace lowbit::ggml
