// Q2_K rows (2.625 bits/weight): 16 sub-blocks of 16 weights, each x ~ d*sc*q - dmin*m
// with q in [0,3] and 4-bit sc/m under fp16 super-scales d/dmin. A port of llama.cpp's
// quantize_row_q2_K_ref / quantize_row_q2_K_impl / dequantize_row_q2_K that keeps
// ggml's float operation order so the bytes match llama.cpp exactly.
#include <cmath>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "formats/ggml_rows.h"
#include "formats/ggml_scale_search.h"
#include "lowbit/fp16.h"

namespace lowbit::ggml {

namespace {

// Final pass shared by both quantizers: recompute every code against the *stored*
// (fp16-rounded, 4-bit) scale and min, then pack four 2-bit codes per byte so that byte
// l of each 32-byte half holds weights l, l+32, l+64, l+96 of its 128 weights.
void requantize_and_pack(const float* x, block_q2_K& b, std::uint8_t* L) {
  const float dall = fp16_to_fp32(b.d);
  const float mall = fp16_to_fp32(b.dmin);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = dall * static_cast<float>(b.scales[j] & 0xF);
    if (d == 0) continue;  // keeps the search's codes, as ggml does
    const float dm = mall * static_cast<float>(b.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int((x[16 * j + ii] + dm) / d);
      L[16 * j + ii] = static_cast<std::uint8_t>(l < 0 ? 0 : l > 3 ? 3 : l);
    }
  }
  for (int j = 0; j < QK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      b.qs[j / 4 + l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                                  (L[j + l + 96] << 6));
}

// Importance-weighted block (llama.cpp's quantize_row_q2_K_impl): weights qw*sqrt(sigma2
// + x^2), a 37-step least-squares search per sub-block, then make_qp_quants for the
// 4-bit scales and mins weighted by each sub-block's total weight.
void quantize_block_weighted(const float* x, block_q2_K& b, const float* qw_block) {
  std::uint8_t L[QK_K];
  std::uint8_t Laux[16];
  float mins[QK_K / 16];
  float scales[QK_K / 16];
  float sw[QK_K / 16];
  float weight[16];
  std::uint8_t Ls[QK_K / 16], Lm[QK_K / 16];

  float sumx2 = 0;
  for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
  const float sigma2 = sumx2 / QK_K;
  for (int j = 0; j < QK_K / 16; ++j) {
    const float* qw = qw_block + 16 * j;
    for (int l = 0; l < 16; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    sw[j] = 0;
    for (int l = 0; l < 16; ++l) sw[j] += weight[l];
    scales[j] = make_qkx3_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
  }
  const float dm = make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
  const float mm = make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
  b.d = fp32_to_fp16(dm);
  b.dmin = fp32_to_fp16(mm);
  for (int j = 0; j < QK_K / 16; ++j) b.scales[j] = static_cast<std::uint8_t>(Ls[j] | (Lm[j] << 4));
  requantize_and_pack(x, b, L);
}

}  // namespace

void quantize_row_q2_K_ref(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q2_K*>(vy);
  const std::int64_t nb = k / QK_K;
  std::uint8_t L[QK_K];
  std::uint8_t Laux[16];
  float weights[16];
  float mins[QK_K / 16];
  float scales[QK_K / 16];
  constexpr float q4scale = 15.f;

  for (std::int64_t i = 0; i < nb; ++i, x += QK_K) {
    float max_scale = 0;  // the min is subtracted, so scales are never negative
    float max_min = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    block_q2_K& b = y[i];
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < QK_K / 16; ++j) b.scales[j] = static_cast<std::uint8_t>(nearest_int(iscale * scales[j]));
      b.d = fp32_to_fp16(max_scale / q4scale);
    } else {
      for (int j = 0; j < QK_K / 16; ++j) b.scales[j] = 0;
      b.d = fp32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < QK_K / 16; ++j)
        b.scales[j] = static_cast<std::uint8_t>(b.scales[j] | (nearest_int(iscale * mins[j]) << 4));
      b.dmin = fp32_to_fp16(max_min / q4scale);
    } else {
      b.dmin = fp32_to_fp16(0.f);
    }
    requantize_and_pack(x, b, L);
  }
}

std::size_t quantize_q2_K(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float* imatrix) {
  const std::size_t row_bytes = static_cast<std::size_t>(n_per_row / QK_K) * sizeof(block_q2_K);
  if (!imatrix) {
    quantize_row_q2_K_ref(src, dst, nrows * n_per_row);
  } else {
    auto* out = static_cast<block_q2_K*>(dst);
    for (std::int64_t r = 0; r < nrows; ++r)
      for (std::int64_t i = 0; i < n_per_row / QK_K; ++i)
        quantize_block_weighted(src + r * n_per_row + i * QK_K, out[r * (n_per_row / QK_K) + i], imatrix + i * QK_K);
  }
  return static_cast<std::size_t>(nrows) * row_bytes;
}

void dequantize_row_q2_K(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q2_K*>(vx);
  const std::int64_t nb = k / QK_K;
  for (std::int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float min = fp16_to_fp32(x[i].dmin);
    const std::uint8_t* q = x[i].qs;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        // Two sub-blocks of 16 per shift: bytes 0..15 and 16..31 of this 32-byte half.
        for (int half = 0; half < 2; ++half) {
          const std::uint8_t sc = x[i].scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = min * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l)
            *y++ = dl * static_cast<float>((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
    }
  }
}

}  // namespace lowbit::ggml
