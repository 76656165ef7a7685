// llama.cpp's first-generation block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), written
// to reproduce its bytes exactly: GGUF files made by lowbit must be the files llama.cpp
// would make. Every float expression keeps ggml's operand order and rounding function,
// because a one-ulp difference in a scale flips codes. See docs/formats.md.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "formats/ggml_rows.h"
#include "formats/ggml_scale_search.h"
#include "lowbit/fp16.h"

namespace lowbit::ggml {

namespace {

// ggml's reference quantizers convert with a C cast ((int8_t)(x + 8.5f)), which
// truncates toward zero. Out of range (an infinite inverse scale from a subnormal block
// maximum, or NaN input) that cast is undefined; x86's cvttss2si, which ggml's builds
// use, answers INT32_MIN. We spell that out so lowbit agrees there too, without UB.
inline std::int32_t trunc_like_x86(float v) {
  return v >= -2147483648.0f && v < 2147483648.0f ? static_cast<std::int32_t>(v) : INT32_MIN;
}
// ... and narrowing to int8_t/uint8_t keeps the low byte (modular since C++20).
inline std::int8_t trunc_to_i8(float v) { return static_cast<std::int8_t>(trunc_like_x86(v)); }
inline std::uint8_t trunc_to_u8(float v) { return static_cast<std::uint8_t>(trunc_like_x86(v)); }
inline std::uint8_t min_u8(int cap, std::int8_t q) { return static_cast<std::uint8_t>(q < cap ? q : cap); }

// The symmetric formats divide by the element of largest magnitude *with its sign*,
// so that element lands exactly on the asymmetric end code (-8 or -16) and the other
// side gets one code fewer: that is how 16 (32) codes are used without a wasted one.
inline float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {  // strict: the first of equal magnitudes wins
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

inline void min_max(const float* x, int n, float& min, float& max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
}

// Q5 keeps the fifth bit of all 32 codes in one little-endian word; the byte order of
// qh is that of a uint32 on a little-endian machine, whatever ours is.
inline void store_q5(const std::uint8_t* codes, std::uint8_t* qs, std::uint8_t* qh) {
  std::uint32_t h = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<std::uint8_t>((codes[j] & 0x0F) | ((codes[j + 16] & 0x0F) << 4));
    h |= static_cast<std::uint32_t>((codes[j] & 0x10u) >> 4) << j;
    h |= static_cast<std::uint32_t>((codes[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  for (int b = 0; b < 4; ++b) qh[b] = static_cast<std::uint8_t>(h >> (8 * b));
}

inline std::uint32_t load_qh(const std::uint8_t* qh) {
  return std::uint32_t(qh[0]) | std::uint32_t(qh[1]) << 8 | std::uint32_t(qh[2]) << 16 | std::uint32_t(qh[3]) << 24;
}

// The imatrix searches weight each element by its importance times sqrt(sigma2 + x^2),
// sigma2 being the row's mean square: even unimportant columns keep some say.
inline float row_sigma2(const float* x, std::int64_t n_per_row) {
  float sum_x2 = 0.0f;
  for (std::int64_t j = 0; j < n_per_row; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n_per_row);
}

inline void importance(const float* xb, const float* qw, float sigma2, float* weight) {
  for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

template <typename Block>
std::size_t row_bytes(std::int64_t n_per_row) {
  return static_cast<std::size_t>(n_per_row / 32) * sizeof(Block);
}

// ggml's quantize_<t>: without weights the whole matrix is one reference call, with
// them each row runs the weighted search (weights are per column, hence per row start).
template <typename Block, typename Ref, typename Weighted>
std::size_t quantize_matrix(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                            const float* imatrix, Ref ref, Weighted weighted) {
  const std::size_t rb = row_bytes<Block>(n_per_row);
  if (!imatrix) {
    ref(src, dst, nrows * n_per_row);
    return static_cast<std::size_t>(nrows) * rb;
  }
  auto* out = static_cast<std::uint8_t*>(dst);
  for (std::int64_t r = 0; r < nrows; ++r) {
    weighted(src + r * n_per_row, reinterpret_cast<Block*>(out + r * rb), n_per_row, imatrix);
  }
  return static_cast<std::size_t>(nrows) * rb;
}

void q4_0_weighted(const float* x, block_q4_0* y, std::int64_t n_per_row, const float* qw) {
  float weight[32];
  std::int8_t L[32];
  const float sigma2 = row_sigma2(x, n_per_row);
  for (std::int64_t ib = 0; ib < n_per_row / 32; ++ib) {
    const float* xb = x + 32 * ib;
    importance(xb, qw + 32 * ib, sigma2, weight);
    // make_qx_quants returns codes already offset by nmax, i.e. in [0, 15].
    const float d = make_qx_quants(32, 8, xb, L, 1, weight);
    y[ib].d = fp32_to_fp16(d);
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<std::uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

void q4_1_weighted(const float* x, block_q4_1* y, std::int64_t n_per_row, const float* qw) {
  float weight[32];
  std::uint8_t L[32], Laux[32];
  const float sigma2 = row_sigma2(x, n_per_row);
  for (std::int64_t ib = 0; ib < n_per_row / 32; ++ib) {
    const float* xb = x + 32 * ib;
    importance(xb, qw + 32 * ib, sigma2, weight);
    float min = 0.0f;
    const float d = make_qkx3_quants(32, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = fp32_to_fp16(d);
    y[ib].m = fp32_to_fp16(-min);  // the search reports the offset it subtracts
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<std::uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

void q5_0_weighted(const float* x, block_q5_0* y, std::int64_t n_per_row, const float* qw) {
  float weight[32];
  std::int8_t L[32];
  std::uint8_t codes[32];
  const float sigma2 = row_sigma2(x, n_per_row);
  for (std::int64_t ib = 0; ib < n_per_row / 32; ++ib) {
    const float* xb = x + 32 * ib;
    importance(xb, qw + 32 * ib, sigma2, weight);
    const float d = make_qx_quants(32, 16, xb, L, 1, weight);
    y[ib].d = fp32_to_fp16(d);
    for (int j = 0; j < 32; ++j) codes[j] = static_cast<std::uint8_t>(L[j]);
    store_q5(codes, y[ib].qs, y[ib].qh);
  }
}

void q5_1_weighted(const float* x, block_q5_1* y, std::int64_t n_per_row, const float* qw) {
  float weight[32];
  std::uint8_t L[32], Laux[32];
  const float sigma2 = row_sigma2(x, n_per_row);
  for (std::int64_t ib = 0; ib < n_per_row / 32; ++ib) {
    const float* xb = x + 32 * ib;
    importance(xb, qw + 32 * ib, sigma2, weight);
    float min = 0.0f;
    const float d = make_qkx3_quants(32, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = fp32_to_fp16(d);
    y[ib].m = fp32_to_fp16(-min);
    store_q5(L, y[ib].qs, y[ib].qh);
  }
}

}  // namespace

// ---- Q4_0: d = max/-8, codes q in [0,15], x = (q-8)*d --------------------------------

void quantize_row_q4_0_ref(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q4_0*>(vy);
  for (std::int64_t i = 0; i < k / QK4_0; ++i) {
    const float* xb = x + i * QK4_0;
    const float d = signed_absmax(xb, QK4_0) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    // Rounding is "add 8.5, truncate": nearest with ties up, not roundf's ties-away.
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const std::uint8_t lo = min_u8(15, trunc_to_i8(xb[j] * id + 8.5f));
      const std::uint8_t hi = min_u8(15, trunc_to_i8(xb[j + QK4_0 / 2] * id + 8.5f));
      y[i].qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
    }
  }
}

std::size_t quantize_q4_0(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float* imatrix) {
  return quantize_matrix<block_q4_0>(src, dst, nrows, n_per_row, imatrix, quantize_row_q4_0_ref, q4_0_weighted);
}

void dequantize_row_q4_0(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q4_0*>(vx);
  for (std::int64_t i = 0; i < k / QK4_0; ++i, y += QK4_0) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + QK4_0 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

// ---- Q4_1: d = (max-min)/15, m = min, x = q*d + m ------------------------------------

void quantize_row_q4_1_ref(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q4_1*>(vy);
  for (std::int64_t i = 0; i < k / QK4_1; ++i) {
    const float* xb = x + i * QK4_1;
    float min, max;
    min_max(xb, QK4_1, min, max);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    // Codes come from the unrounded min and d, not from the fp16 values stored.
    for (int j = 0; j < QK4_1 / 2; ++j) {
      const std::uint8_t lo = min_u8(15, trunc_to_i8((xb[j] - min) * id + 0.5f));
      const std::uint8_t hi = min_u8(15, trunc_to_i8((xb[j + QK4_1 / 2] - min) * id + 0.5f));
      y[i].qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
    }
  }
}

std::size_t quantize_q4_1(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float* imatrix) {
  return quantize_matrix<block_q4_1>(src, dst, nrows, n_per_row, imatrix, quantize_row_q4_1_ref, q4_1_weighted);
}

void dequantize_row_q4_1(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q4_1*>(vx);
  for (std::int64_t i = 0; i < k / QK4_1; ++i, y += QK4_1) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    // Two roundings (product, then sum): ggml's generic build has no FMA here.
    for (int j = 0; j < QK4_1 / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[j + QK4_1 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

// ---- Q5_0: d = max/-16, codes q in [0,31] (fifth bits in qh), x = (q-16)*d ----------

void quantize_row_q5_0_ref(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q5_0*>(vy);
  std::uint8_t codes[QK5_0];
  for (std::int64_t i = 0; i < k / QK5_0; ++i) {
    const float* xb = x + i * QK5_0;
    const float d = signed_absmax(xb, QK5_0) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < QK5_0; ++j) codes[j] = min_u8(31, trunc_to_i8(xb[j] * id + 16.5f));
    store_q5(codes, y[i].qs, y[i].qh);
  }
}

std::size_t quantize_q5_0(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float* imatrix) {
  return quantize_matrix<block_q5_0>(src, dst, nrows, n_per_row, imatrix, quantize_row_q5_0_ref, q5_0_weighted);
}

void dequantize_row_q5_0(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q5_0*>(vx);
  for (std::int64_t i = 0; i < k / QK5_0; ++i, y += QK5_0) {
    const float d = fp16_to_fp32(x[i].d);
    const std::uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < QK5_0 / 2; ++j) {
      const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int hi1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | hi0) - 16) * d;
      y[j + QK5_0 / 2] = static_cast<float>(((x[i].qs[j] >> 4) | hi1) - 16) * d;
    }
  }
}

// ---- Q5_1: d = (max-min)/31, m = min, x = q*d + m ------------------------------------

void quantize_row_q5_1_ref(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q5_1*>(vy);
  std::uint8_t codes[QK5_1];
  for (std::int64_t i = 0; i < k / QK5_1; ++i) {
    const float* xb = x + i * QK5_1;
    float min, max;
    min_max(xb, QK5_1, min, max);
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    // Unlike Q4_1, ggml does not clamp to 31 here; a code of 32 (possible only through
    // float rounding at the maximum) would wrap to 0 in the stored 5 bits, as in ggml.
    for (int j = 0; j < QK5_1; ++j) codes[j] = trunc_to_u8((xb[j] - min) * id + 0.5f);
    store_q5(codes, y[i].qs, y[i].qh);
  }
}

std::size_t quantize_q5_1(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float* imatrix) {
  return quantize_matrix<block_q5_1>(src, dst, nrows, n_per_row, imatrix, quantize_row_q5_1_ref, q5_1_weighted);
}

void dequantize_row_q5_1(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q5_1*>(vx);
  for (std::int64_t i = 0; i < k / QK5_1; ++i, y += QK5_1) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    const std::uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < QK5_1 / 2; ++j) {
      const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int hi1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) | hi0) * d + m;
      y[j + QK5_1 / 2] = static_cast<float>((x[i].qs[j] >> 4) | hi1) * d + m;
    }
  }
}

// ---- Q8_0: d = amax/127, x = q*d -----------------------------------------------------

void quantize_row_q8_0_ref(const float* x, void* vy, std::int64_t k) {
  auto* y = static_cast<block_q8_0*>(vy);
  for (std::int64_t i = 0; i < k / QK8_0; ++i) {
    const float* xb = x + i * QK8_0;
    float amax = 0.0f;
    // ggml's MAX macro, not fmax: a NaN element propagates (fmax would skip it).
    for (int j = 0; j < QK8_0; ++j) amax = amax > std::fabs(xb[j]) ? amax : std::fabs(xb[j]);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    // The one legacy format that rounds with roundf (ties away from zero).
    for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = trunc_to_i8(std::round(xb[j] * id));
  }
}

std::size_t quantize_q8_0(const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float*) {
  // ggml ignores importance weights for Q8_0: 255 levels leave nothing to search.
  quantize_row_q8_0_ref(src, dst, nrows * n_per_row);
  return static_cast<std::size_t>(nrows) * row_bytes<block_q8_0>(n_per_row);
}

void dequantize_row_q8_0(const void* vx, float* y, std::int64_t k) {
  const auto* x = static_cast<const block_q8_0*>(vx);
  for (std::int64_t i = 0; i < k / QK8_0; ++i, y += QK8_0) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < QK8_0; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

}  // namespace lowbit::ggml
