// Q3_K rows (3.4375 bits/weight): 16 sub-blocks of 16 weights, x ~ d*(sc-32)*(q-4) with
// q in [0,7] split into 2 low bits (qs) and a high bit (hmask), and 6-bit signed scales
// packed into 12 bytes. A port of llama.cpp's quantize_row_q3_K_ref / _impl /
// dequantize_row_q3_K keeping ggml's float operation order for byte-exact output.
#include <cmath>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "formats/ggml_rows.h"
#include "formats/ggml_scale_search.h"
#include "lowbit/fp16.h"

namespace lowbit::ggml {

namespace {

// Scale j's 6 bits: low nibble in byte j (j < 8) or the high nibble of byte j-8, the
// two high bits in byte 8 + j%4 at bit 2*(j/4). `l` must already be in [0, 63].
void put_scale(std::uint8_t* scales, int j, int l) {
  if (j < 8)
    scales[j] = static_cast<std::uint8_t>(l & 0xF);
  else
    scales[j - 8] = static_cast<std::uint8_t>(scales[j - 8] | ((l & 0xF) << 4));
  scales[j % 4 + 8] = static_cast<std::uint8_t>(scales[j % 4 + 8] | ((l >> 4) << (2 * (j / 4))));
}

int get_scale(const std::uint8_t* scales, int j) {
  const int low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// Shared tail: requantize against the stored scales, then split codes into the high-bit
// mask (bit b of hmask[m] is weight 32*b + m) and four 2-bit codes per qs byte (byte l
// of each 32-byte half holds weights l, l+32, l+64, l+96 of its 128).
void requantize_and_pack(const float* x, block_q3_K& b, std::int8_t* L) {
  const float dall = fp16_to_fp32(b.d);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = dall * static_cast<float>(get_scale(b.scales, j));
    if (d == 0) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = static_cast<std::int8_t>((l < -4 ? -4 : l > 3 ? 3 : l) + 4);
    }
  }
  std::memset(b.hmask, 0, sizeof(b.hmask));
  int m = 0;
  std::uint8_t hm = 1;
  for (int j = 0; j < QK_K; ++j) {
    if (L[j] > 3) {
      b.hmask[m] = static_cast<std::uint8_t>(b.hmask[m] | hm);
      L[j] = static_cast<std::int8_t>(L[j] - 4);
    }
    if (++m == QK_K / 8) {
      m = 0;
      hm = static_cast<std::uint8_t>(hm << 1);
    }
  }
  for (int j = 0; j < QK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      b.qs[j / 4 + l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                                  (L[j + l + 96] << 6));
}

// llama.cpp's quantize_row_q3_K_impl with importance weights qw*sqrt(2*sigma2 + x^2)
// (ggml's sigma2 is already doubled); the 16 sub-block scales are themselves quantized
// by make_qx_quants with each sub-block's total weight.
void quantize_block_weighted(const float* x, block_q3_K& b, const float* qw_block) {
  std::int8_t L[QK_K];
  float scales[QK_K / 16];
  float weight[16];
  float sw[QK_K / 16];
  std::int8_t Ls[QK_K / 16];

  float sumx2 = 0;
  for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
  const float sigma2 = 2 * sumx2 / QK_K;
  for (int j = 0; j < QK_K / 16; ++j) {
    const float* qw = qw_block + 16 * j;
    for (int l = 0; l < 16; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    float sumw = 0;
    for (int l = 0; l < 16; ++l) sumw += weight[l];
    sw[j] = sumw;
    scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
  }
  std::memset(b.scales, 0, sizeof(b.scales));
  const float d_block = make_qx_quants(QK_K / 16, 32, scales, Ls, 1, sw);
  for (int j = 0; j < QK_K / 16; ++j) put_scale(b.scales, j, Ls[j]);
  b.d = fp32_to_fp16(d_block);
  requantize_and_pack(x, b, L);
}

}  // namespace

void quantize_row_q3_K_ref(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q3_K*>(vy);
  const std::int64_t nb = k / QK_K;
  std::int8_t L[QK_K];
  float scales[QK_K / 16];

  for (std::int64_t i = 0; i < nb; ++i, x += QK_K) {
    block_q3_K& b = y[i];
    float max_scale = 0;  // the signed scale of largest magnitude
    float amax = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
      scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    std::memset(b.scales, 0, sizeof(b.scales));
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < QK_K / 16; ++j) {
        // ggml stores nearest_int in an int8_t before clamping; mirror that truncation.
        const int l = static_cast<std::int8_t>(nearest_int(iscale * scales[j]));
        put_scale(b.scales, j, (l < -32 ? -32 : l > 31 ? 31 : l) + 32);
      }
      b.d = fp32_to_fp16(1 / iscale);
    } else {
      b.d = fp32_to_fp16(0.f);
    }
    requantize_and_pack(x, b, L);
  }
}

std::size_t quantize_q3_K(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float* imatrix) {
  const std::int64_t nb = n_per_row / QK_K;
  if (!imatrix) {
    quantize_row_q3_K_ref(src, dst, nrows * n_per_row);
  } else {
    auto* out = static_cast<block_q3_K*>(dst);
    for (std::int64_t r = 0; r < nrows; ++r)
      for (std::int64_t i = 0; i < nb; ++i)
        quantize_block_weighted(src + r * n_per_row + i * QK_K, out[r * nb + i], imatrix + i * QK_K);
  }
  return static_cast<std::size_t>(nrows * nb) * sizeof(block_q3_K);
}

void dequantize_row_q3_K(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q3_K*>(vx);
  const std::int64_t nb = k / QK_K;
  for (std::int64_t i = 0; i < nb; ++i) {
    const float d_all = fp16_to_fp32(x[i].d);
    const std::uint8_t* q = x[i].qs;
    const std::uint8_t* hm = x[i].hmask;
    std::uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<std::uint8_t>(m << 1)) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * static_cast<float>(get_scale(x[i].scales, is++));
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int v = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

}  // namespace lowbit::ggml
