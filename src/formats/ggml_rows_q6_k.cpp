// Q6_K rows (6.5625 bits/weight): 16 sub-blocks of 16 weights, x ~ d*sc*(q-32) with
// q in [0,63] split into 4 low bits (ql) and 2 high bits (qh) and int8 sub-block scales
// under one fp16 d. A port of llama.cpp's quantize_row_q6_K_ref / _impl /
// dequantize_row_q6_K keeping ggml's float operation order for byte-exact output.
#include <cmath>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "formats/ggml_rows.h"
#include "formats/ggml_scale_search.h"
#include "lowbit/fp16.h"

namespace lowbit::ggml {

namespace {

constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS

// One block. Without importance weights make_qx_quants weighs by x^2 (rmse_type 1); with
// them ggml passes the raw imatrix slice (no sigma2 term, unlike the other k-quants).
void quantize_block(const float* x, block_q6_K& b, const float* qw_block) {
  std::int8_t L[QK_K];
  float scales[QK_K / 16];
  float max_scale = 0;  // signed scale of largest magnitude
  float max_abs_scale = 0;
  for (int ib = 0; ib < QK_K / 16; ++ib) {
    const float scale =
        make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw_block ? qw_block + 16 * ib : nullptr);
    scales[ib] = scale;
    const float abs_scale = std::fabs(scale);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scale;
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(&b, 0, sizeof(b));  // ggml's d = fp16(0.f) is also all-zero bits
    return;
  }
  const float iscale = -128.f / max_scale;
  b.d = fp32_to_fp16(1 / iscale);
  for (int ib = 0; ib < QK_K / 16; ++ib) {
    const int s = nearest_int(iscale * scales[ib]);
    b.scales[ib] = static_cast<std::int8_t>(s < 127 ? s : 127);
  }
  const float dall = fp16_to_fp32(b.d);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = dall * static_cast<float>(b.scales[j]);
    if (d == 0) continue;  // keeps the search's codes, as ggml does
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = static_cast<std::int8_t>((l < -32 ? -32 : l > 31 ? 31 : l) + 32);
    }
  }
  // Per 128 weights: ql[l] holds the low nibbles of weights l (low) and l+64 (high),
  // ql[l+32] those of l+32 and l+96; qh[l] the two high bits of l, l+32, l+64, l+96.
  std::uint8_t* ql = b.ql;
  std::uint8_t* qh = b.qh;
  for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
      ql[l] = static_cast<std::uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
      ql[l + 32] = static_cast<std::uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
      qh[l] = static_cast<std::uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

}  // namespace

void quantize_row_q6_K_ref(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q6_K*>(vy);
  for (std::int64_t i = 0; i < k / QK_K; ++i) quantize_block(x + i * QK_K, y[i], nullptr);
}

std::size_t quantize_q6_K(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float* imatrix) {
  const std::int64_t nb = n_per_row / QK_K;
  auto* out = static_cast<block_q6_K*>(dst);
  for (std::int64_t r = 0; r < nrows; ++r)
    for (std::int64_t i = 0; i < nb; ++i)
      quantize_block(src + r * n_per_row + i * QK_K, out[r * nb + i], imatrix ? imatrix + i * QK_K : nullptr);
  return static_cast<std::size_t>(nrows * nb) * sizeof(block_q6_K);
}

void dequantize_row_q6_K(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q6_K*>(vx);
  for (std::int64_t i = 0; i < k / QK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const std::uint8_t* ql = x[i].ql;
    const std::uint8_t* qh = x[i].qh;
    const std::int8_t* sc = x[i].scales;
    for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        // ggml evaluates d * sc * q as (d * sc) * q.
        y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace lowbit::ggml
