// Q4_K (4.5 bits/weight) and Q5_K (5.5 bits/weight) rows: 8 sub-blocks of 32 weights,
// x ~ d*sc*q - dmin*m with 6-bit sc/m packed into 12 bytes (shared by both types) and
// q in [0,15] or [0,31] (Q5_K's fifth bit in qh). Ports of llama.cpp's
// quantize_row_q{4,5}_K_ref / _impl / dequantize_row_q{4,5}_K with ggml's float order.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "formats/ggml_blocks.h"
#include "formats/ggml_rows.h"
#include "formats/ggml_scale_search.h"
#include "lowbit/fp16.h"

namespace lowbit::ggml {

namespace {

// What the two types share, by code width: nmax is 15 (Q4_K) or 31 (Q5_K); the ref
// search steps are (-1, 0.1, 20) for Q4_K and (-0.5, 0.1, 15) for Q5_K.
struct Geometry {
  int nmax;
  float rmin, rdelta;
  int nstep;
};
constexpr Geometry kQ4{15, -1.f, 0.1f, 20};
constexpr Geometry kQ5{31, -0.5f, 0.1f, 15};

// Reference scale search of one 256-block: per sub-block weights av_x + |x| with av_x
// the sub-block's RMS, then sc/m as 6-bit fractions of the block maxima.
void ref_scales(const float* x, const Geometry& g, std::uint8_t* scales12, std::uint16_t& d, std::uint16_t& dmin,
                std::uint8_t* L) {
  std::uint8_t Laux[32];
  float weights[32];
  float mins[QK_K / 32];
  float scales[QK_K / 32];
  float max_scale = 0;  // the min is subtracted, so scales are never negative
  float max_min = 0;
  for (int j = 0; j < QK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, g.nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, g.rmin, g.rdelta,
                                 g.nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < QK_K / 32; ++j) {
    // ggml narrows nearest_int to uint8_t before the MIN(63, .): keep that wrap-around.
    std::uint8_t ls = static_cast<std::uint8_t>(nearest_int(inv_scale * scales[j]));
    std::uint8_t lm = static_cast<std::uint8_t>(nearest_int(inv_min * mins[j]));
    if (ls > 63) ls = 63;
    if (lm > 63) lm = 63;
    put_scale_min(scales12, j, ls, lm);
  }
  d = fp32_to_fp16(max_scale / 63.f);
  dmin = fp32_to_fp16(max_min / 63.f);
}

// Weighted scale search (llama.cpp's quantize_row_q{4,5}_K_impl): weights
// qw*sqrt(sigma2 + x^2) with sigma2 = 2*mean(x^2), a 37-step search per sub-block, and
// make_qp_quants for the 6-bit scales and mins.
void weighted_scales(const float* x, int nmax, bool cap63, const float* qw_block, std::uint8_t* scales12,
                     std::uint16_t& d, std::uint16_t& dmin, std::uint8_t* L) {
  std::uint8_t Laux[32];
  std::uint8_t Ls[QK_K / 32];
  std::uint8_t Lm[QK_K / 32];
  float weights[32];
  float sw[QK_K / 32];
  float mins[QK_K / 32];
  float scales[QK_K / 32];
  float sum_x2 = 0;
  for (int l = 0; l < QK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / QK_K;
  for (int j = 0; j < QK_K / 32; ++j) {
    const float* qw = qw_block + 32 * j;
    for (int l = 0; l < 32; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = make_qkx3_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
  }
  const float d_block = make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
  const float m_block = make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
  for (int j = 0; j < QK_K / 32; ++j) {
    // Codes are <= 63 unless make_qp_quants saw a negative input and wrapped a negative
    // code into uint8; ggml's Q5_K impl then caps at 63 but its Q4_K impl does not.
    std::uint8_t ls = Ls[j], lm = Lm[j];
    if (cap63) {
      if (ls > 63) ls = 63;
      if (lm > 63) lm = 63;
    }
    put_scale_min(scales12, j, ls, lm);
  }
  d = fp32_to_fp16(d_block);
  dmin = fp32_to_fp16(m_block);
}

// Final codes against the stored (fp16, 6-bit) scale and min of each sub-block; a
// sub-block whose scale decodes to zero keeps the search's codes, as in ggml.
void requantize(const float* x, int nmax, const std::uint8_t* scales12, std::uint16_t d16, std::uint16_t dmin16,
                std::uint8_t* L) {
  for (int j = 0; j < QK_K / 32; ++j) {
    std::uint8_t sc, m;
    get_scale_min(j, scales12, sc, m);
    const float d = fp16_to_fp32(d16) * static_cast<float>(sc);
    if (d == 0) continue;
    const float dm = fp16_to_fp32(dmin16) * static_cast<float>(m);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<std::uint8_t>(l < 0 ? 0 : l > nmax ? nmax : l);
    }
  }
}

// Q4_K nibbles: byte l of each 32-byte group holds weight l (low) and l+32 (high) of
// its 64 weights.
void pack_q4(block_q4_K& b, const std::uint8_t* L) {
  std::uint8_t* q = b.qs;
  for (int j = 0; j < QK_K; j += 64, q += 32)
    for (int l = 0; l < 32; ++l) q[l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 4));
}

// Q5_K: the Q4_K nibble layout plus the fifth bits, qh[l] bit 2g (weight l of 64-group
// g) and bit 2g+1 (weight l+32).
void pack_q5(block_q5_K& b, const std::uint8_t* L) {
  std::uint8_t* qh = b.qh;
  std::uint8_t* ql = b.qs;
  std::memset(qh, 0, QK_K / 8);
  std::uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < QK_K; n += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] = static_cast<std::uint8_t>(qh[j] | m1);
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        qh[j] = static_cast<std::uint8_t>(qh[j] | m2);
      }
      ql[j] = static_cast<std::uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<std::uint8_t>(m1 << 2);
    m2 = static_cast<std::uint8_t>(m2 << 2);
  }
}

template <typename Block>
void quantize_block(const float* x, Block& b, const float* qw_block) {
  constexpr bool kIsQ4 = std::is_same_v<Block, block_q4_K>;
  constexpr Geometry g = kIsQ4 ? kQ4 : kQ5;
  std::uint8_t L[QK_K];
  if (qw_block)
    weighted_scales(x, g.nmax, !kIsQ4, qw_block, b.scales, b.d, b.dmin, L);
  else
    ref_scales(x, g, b.scales, b.d, b.dmin, L);
  requantize(x, g.nmax, b.scales, b.d, b.dmin, L);
  if constexpr (kIsQ4)
    pack_q4(b, L);
  else
    pack_q5(b, L);
}

template <typename Block>
std::size_t quantize_rows_k(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                            const float* imatrix) {
  // Without an imatrix ggml runs the ref quantizer over all rows at once, which is the
  // same block-by-block computation as here.
  const std::int64_t nb = n_per_row / QK_K;
  auto* out = static_cast<Block*>(dst);
  for (std::int64_t r = 0; r < nrows; ++r)
    for (std::int64_t i = 0; i < nb; ++i)
      quantize_block(src + r * n_per_row + i * QK_K, out[r * nb + i], imatrix ? imatrix + i * QK_K : nullptr);
  return static_cast<std::size_t>(nrows * nb) * sizeof(Block);
}

}  // namespace

void quantize_row_q4_K_ref(const float* x, void* vy, std::int64_t k) {
  quantize_rows_k<block_q4_K>(x, vy, 1, k, nullptr);
}
void quantize_row_q5_K_ref(const float* x, void* vy, std::int64_t k) {
  quantize_rows_k<block_q5_K>(x, vy, 1, k, nullptr);
}

std::size_t quantize_q4_K(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float* imatrix) {
  return quantize_rows_k<block_q4_K>(src, dst, nrows, n_per_row, imatrix);
}
std::size_t quantize_q5_K(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float* imatrix) {
  return quantize_rows_k<block_q5_K>(src, dst, nrows, n_per_row, imatrix);
}

void dequantize_row_q4_K(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q4_K*>(vx);
  for (std::int64_t i = 0; i < k / QK_K; ++i) {
    const std::uint8_t* q = x[i].qs;
    const float d = fp16_to_fp32(x[i].d);
    const float min = fp16_to_fp32(x[i].dmin);
    for (int is = 0; is < QK_K / 32; is += 2, q += 32) {
      std::uint8_t sc, m;
      get_scale_min(is, x[i].scales, sc, m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      get_scale_min(is + 1, x[i].scales, sc, m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequantize_row_q5_K(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q5_K*>(vx);
  for (std::int64_t i = 0; i < k / QK_K; ++i) {
    const std::uint8_t* ql = x[i].qs;
    const std::uint8_t* qh = x[i].qh;
    const float d = fp16_to_fp32(x[i].d);
    const float min = fp16_to_fp32(x[i].dmin);
    std::uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < QK_K / 32; is += 2, ql += 32) {
      std::uint8_t sc, m;
      get_scale_min(is, x[i].scales, sc, m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      get_scale_min(is + 1, x[i].scales, sc, m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
      u1 = static_cast<std::uint8_t>(u1 << 2);
      u2 = static_cast<std::uint8_t>(u2 << 2);
    }
  }
}

}  // namespace lowbit::ggml
