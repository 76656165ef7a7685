// llama.cpp's non-linear 4-bit formats IQ4_NL and IQ4_XS, reproduced byte for byte so
// lowbit's GGUF files equal llama.cpp's. Both share one block search (ggml's
// quantize_row_iq4_nl_impl): IQ4_NL is a single 32-block with an fp16 scale, IQ4_XS
// eight 32-blocks whose scales are 6-bit multiples of one fp16 super-scale.
#include <cmath>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "formats/ggml_rows.h"
#include "formats/ggml_scale_search.h"
#include "lowbit/fp16.h"

namespace lowbit::ggml {

namespace {

// The 16 levels, fitted by llama.cpp to the shape of trained weight distributions.
// Asymmetric (-127 .. 113), so the sign of the block scale matters and is searched.
constexpr std::int8_t kValuesIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};

// Index of the level nearest to x; a tie between two levels goes to the upper one.
// ggml binary-searches; the search's branches mispredict on every other weight and made
// this function ~90 % of an IQ4 quantization. Counting the levels not above x gives the
// same bracketing index without branches: ggml's `x <= val[0]` and `x >= val[15]` exits
// fall out of the final comparison, and a NaN (every `x < val[i]` false) lands on 15 as
// in ggml. The final comparison is ggml's own rounded one, so ties resolve identically.
int best_index_int8(const std::int8_t* val, float x) {
  int lo = 0;
  for (int i = 1; i < 15; ++i) lo += !(x < static_cast<float>(val[i]));
  return x - static_cast<float>(val[lo]) < static_cast<float>(val[lo + 1]) - x ? lo : lo + 1;
}

constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS: below it a block is zero

// Scratch that outlives one super-block on purpose: see the carry note in quantize_block.
struct Scratch {
  std::uint8_t L[QK_K];
  float weight[32];
  float scales[QK_K / 32];
  Scratch() { std::memset(L, 8, sizeof L); }  // code 8 is level +1, i.e. ~0 times any scale
};

// One super-block of sbs weights (32 for IQ4_NL, 256 for IQ4_XS) in 32-blocks.
// ntry > 0 tries 2*ntry+1 extra inverse scales of both signs around -127/max; the
// reference IQ4_NL quantizer passes ntry = -1: one least-squares fit, no search, and
// (as in ggml) no re-quantization with the final scale.
void quantize_block(int sbs, const float* x, std::uint16_t* dh, std::uint8_t* q4, std::uint16_t* scales_h,
                    std::uint8_t* scales_l, const float* qw, int ntry, Scratch& s) {
  const std::int8_t* values = kValuesIq4nl;
  float sigma2 = 0.0f;
  for (int j = 0; j < sbs; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.0f / static_cast<float>(sbs);

  *dh = fp32_to_fp16(0.0f);
  float max_scale = 0.0f, amax_scale = 0.0f;
  const int nb = sbs / 32;
  for (int ib = 0; ib < nb; ++ib) {
    const float* xb = x + 32 * ib;
    std::uint8_t* Lb = s.L + 32 * ib;
    float* w = s.weight;
    if (qw) {
      for (int j = 0; j < 32; ++j) w[j] = qw[32 * ib + j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    } else {
      for (int j = 0; j < 32; ++j) w[j] = xb[j] * xb[j];
    }
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(xb[j]) > amax) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      // ggml leaves Lb untouched here. For IQ4_XS and the searched IQ4_NL it is
      // rewritten below; the reference IQ4_NL (ntry <= 0) packs whatever Lb held: the
      // previous block's codes, or uninitialized stack for a call's first block. We
      // carry the previous codes too and start from code 8 (llama.cpp's bytes for such
      // a leading zero block are garbage; the value decodes to zero either way).
      s.scales[ib] = 0.0f;
      continue;
    }
    float d = ntry > 0 ? -max / static_cast<float>(values[0]) : max / static_cast<float>(values[0]);
    float id = 1.0f / d;
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int j = 0; j < 32; ++j) {
      const int l = best_index_int8(values, id * xb[j]);
      Lb[j] = static_cast<std::uint8_t>(l);
      const float q = values[l];
      sumqx += w[j] * q * xb[j];
      sumq2 += w[j] * q * q;
    }
    d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      id = static_cast<float>(itry + values[0]) / max;
      sumqx = sumq2 = 0.0f;
      for (int j = 0; j < 32; ++j) {
        const float q = values[best_index_int8(values, id * xb[j])];
        sumqx += w[j] * q * xb[j];
        sumq2 += w[j] * q * q;
      }
      // Compares sumqx^2/sumq2 (the error reduction) without dividing.
      if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    s.scales[ib] = d;
    if (std::fabs(d) > amax_scale) {
      amax_scale = std::fabs(d);
      max_scale = d;
    }
  }

  if (nb > 1) {
    // IQ4_XS: block scale = d * (l - 32) with l in [0, 63]; d = -max_scale/32 puts the
    // largest-magnitude scale on l - 32 = -32, the end with one more step (as in Q4_0).
    std::memset(scales_h, 0, sizeof(std::uint16_t) * static_cast<std::size_t>((nb + 7) / 8));
    const float d = -max_scale / 32.0f;
    *dh = fp32_to_fp16(d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int ib = 0; ib < nb; ++ib) {
      int l = nearest_int(id * s.scales[ib]);
      l = l < -32 ? -32 : (l > 31 ? 31 : l);
      // Codes are re-chosen for the quantized block scale, computed from the unrounded
      // super-scale d (not its fp16 value).
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
      std::uint8_t* Lb = s.L + 32 * ib;
      const float* xb = x + 32 * ib;
      for (int j = 0; j < 32; ++j) Lb[j] = static_cast<std::uint8_t>(best_index_int8(values, idl * xb[j]));
      l += 32;
      const auto lo = static_cast<std::uint8_t>(l & 0xF);
      if (ib % 2 == 0) scales_l[ib / 2] = lo;
      else scales_l[ib / 2] = static_cast<std::uint8_t>(scales_l[ib / 2] | (lo << 4));
      scales_h[ib / 8] = static_cast<std::uint16_t>(scales_h[ib / 8] | ((l >> 4) << (2 * (ib % 8))));
    }
  } else {
    *dh = fp32_to_fp16(s.scales[0]);
    if (ntry > 0) {
      const float id = s.scales[0] != 0.0f ? 1.0f / s.scales[0] : 0.0f;
      for (int j = 0; j < sbs; ++j) s.L[j] = static_cast<std::uint8_t>(best_index_int8(values, id * x[j]));
    }
  }

  for (int i = 0; i < sbs / 32; ++i) {
    for (int j = 0; j < 16; ++j)
      q4[16 * i + j] = static_cast<std::uint8_t>(s.L[32 * i + j] | (s.L[32 * i + 16 + j] << 4));
  }
}

}  // namespace

// ---- IQ4_NL: x = d * kvalues[q] ------------------------------------------------------

void quantize_row_iq4_nl_ref(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_iq4_nl*>(vy);
  Scratch s;
  std::uint16_t unused_h = 0;
  for (std::int64_t ib = 0; ib < k / QK4_NL; ++ib)
    quantize_block(QK4_NL, x + QK4_NL * ib, &y[ib].d, y[ib].qs, &unused_h, nullptr, nullptr, -1, s);
}

std::size_t quantize_iq4_nl(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                            const float* imatrix) {
  // Unlike the legacy formats, a null imatrix does not mean the reference quantizer:
  // it still runs the sign and scale search (ntry = 7), weighting by x^2.
  const std::int64_t nblock = n_per_row / QK4_NL;
  auto* y = static_cast<block_iq4_nl*>(dst);
  Scratch s;
  std::uint16_t unused_h = 0;
  for (std::int64_t r = 0; r < nrows; ++r, src += n_per_row, y += nblock) {
    for (std::int64_t ib = 0; ib < nblock; ++ib) {
      const float* qw = imatrix ? imatrix + QK4_NL * ib : nullptr;
      quantize_block(QK4_NL, src + QK4_NL * ib, &y[ib].d, y[ib].qs, &unused_h, nullptr, qw, 7, s);
    }
  }
  return static_cast<std::size_t>(nrows * nblock) * sizeof(block_iq4_nl);
}

void dequantize_row_iq4_nl(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_iq4_nl*>(vx);
  for (std::int64_t i = 0; i < k / QK4_NL; ++i, y += QK4_NL) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < QK4_NL / 2; ++j) {
      y[j] = d * static_cast<float>(kValuesIq4nl[x[i].qs[j] & 0xF]);
      y[j + QK4_NL / 2] = d * static_cast<float>(kValuesIq4nl[x[i].qs[j] >> 4]);
    }
  }
}

// ---- IQ4_XS: x = d * (ls - 32) * kvalues[q], ls = 6 bits per 32-block ----------------

void quantize_row_iq4_xs_ref(const float* x, void* y, std::int64_t k) { quantize_iq4_xs(x, y, 1, k, nullptr); }

std::size_t quantize_iq4_xs(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                            const float* imatrix) {
  const std::int64_t nblock = n_per_row / QK_K;
  auto* y = static_cast<block_iq4_xs*>(dst);
  Scratch s;
  for (std::int64_t r = 0; r < nrows; ++r, src += n_per_row, y += nblock) {
    for (std::int64_t ib = 0; ib < nblock; ++ib) {
      const float* qw = imatrix ? imatrix + QK_K * ib : nullptr;
      quantize_block(QK_K, src + QK_K * ib, &y[ib].d, y[ib].qs, &y[ib].scales_h, y[ib].scales_l, qw, 7, s);
    }
  }
  return static_cast<std::size_t>(nrows * nblock) * sizeof(block_iq4_xs);
}

void dequantize_row_iq4_xs(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_iq4_xs*>(vx);
  for (std::int64_t i = 0; i < k / QK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const std::uint8_t* qs = x[i].qs;
    for (int ib = 0; ib < QK_K / 32; ++ib, y += 32, qs += 16) {
      const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((x[i].scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kValuesIq4nl[qs[j] & 0xF]);
        y[j + 16] = dl * static_cast<float>(kValuesIq4nl[qs[j] >> 4]);
      }
    }
  }
}

}  // namespace lowbit::ggml
