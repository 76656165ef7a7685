// Portable twins of ggml's x86 block dot products (see ggml_dot.h): the oracle the AVX2
// kernels are compared with bit for bit, written lane by lane so the order is explicit.
#include <cmath>
#include <vector>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "kernels/ggml_dot.h"
#include "lowbit/fp16.h"

namespace lowbit::kernels {
namespace {

// Adds one block's contribution: lane l of the block is the int sum of code products
// 4l..4l+3 (maddubs + madd, or dpbusd), scaled by d with one fma per lane.
void accumulate_block(float* acc, float d, const int* wq, const std::int8_t* xq) {
  for (int l = 0; l < 8; ++l) {
    int s = 0;
    for (int j = 4 * l; j < 4 * l + 4; ++j) s += wq[j] * xq[j];
    acc[l] = std::fma(d, static_cast<float>(s), acc[l]);
  }
}

}  // namespace

float ggml_dot_q4_0_q8_0__ref(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q4_0*>(w);
  const auto* b = static_cast<const ggml::block_q8_0*>(x);
  float acc[8] = {};
  for (std::int64_t ib = 0; ib < n / 32; ++ib) {
    int q[32];
    for (int j = 0; j < 16; ++j) {
      q[j] = (a[ib].qs[j] & 0x0F) - 8;
      q[j + 16] = (a[ib].qs[j] >> 4) - 8;
    }
    accumulate_block(acc, fp16_to_fp32(a[ib].d) * fp16_to_fp32(b[ib].d), q, b[ib].qs);
  }
  return ggml_hsum8(acc);
}

float ggml_dot_q5_0_q8_0__ref(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q5_0*>(w);
  const auto* b = static_cast<const ggml::block_q8_0*>(x);
  float acc[8] = {};
  for (std::int64_t ib = 0; ib < n / 32; ++ib) {
    std::uint32_t qh;
    std::memcpy(&qh, a[ib].qh, 4);  // bit j: the fifth bit of weight j
    int q[32];
    for (int j = 0; j < 16; ++j) {
      q[j] = ((a[ib].qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4)) - 16;
      q[j + 16] = ((a[ib].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4)) - 16;
    }
    accumulate_block(acc, fp16_to_fp32(a[ib].d) * fp16_to_fp32(b[ib].d), q, b[ib].qs);
  }
  return ggml_hsum8(acc);
}

float ggml_dot_q4_1_q8_1__ref(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q4_1*>(w);
  const auto* b = static_cast<const ggml::block_q8_1*>(x);
  float acc[8] = {};
  float summs = 0.0f;
  for (std::int64_t ib = 0; ib < n / 32; ++ib) {
    // The x86 build contracts `summs += m * s` into one fma.
    summs = std::fma(fp16_to_fp32(a[ib].m), fp16_to_fp32(b[ib].s), summs);
    int q[32];
    for (int j = 0; j < 16; ++j) {
      q[j] = a[ib].qs[j] & 0x0F;
      q[j + 16] = a[ib].qs[j] >> 4;
    }
    accumulate_block(acc, fp16_to_fp32(a[ib].d) * fp16_to_fp32(b[ib].d), q, b[ib].qs);
  }
  return ggml_hsum8(acc) + summs;
}

float ggml_dot_q8_0_q8_0__ref(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q8_0*>(w);
  const auto* b = static_cast<const ggml::block_q8_0*>(x);
  float acc[8] = {};
  for (std::int64_t ib = 0; ib < n / 32; ++ib) {
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = a[ib].qs[j];
    accumulate_block(acc, fp16_to_fp32(a[ib].d) * fp16_to_fp32(b[ib].d), q, b[ib].qs);
  }
  return ggml_hsum8(acc);
}

namespace {

// get_scale_min for the eight 32-weight sub-blocks of a Q4_K or Q5_K super-block.
void scales_mins_k4(const std::uint8_t* scales, int (&sc)[8], int (&mn)[8]) {
  for (int j = 0; j < 8; ++j) {
    std::uint8_t s, m;
    ggml::get_scale_min(j, scales, s, m);
    sc[j] = s;
    mn[j] = m;
  }
}

}  // namespace

// Q4_K: lane l of a block holds, over its four 64-weight pairs of sub-blocks, scale_lo x
// (low nibbles 4l..4l+3 . q8) + scale_hi x (high nibbles 4l..4l+3 . q8): integers, exact
// in any order. The mins go into four more float lanes (sub-blocks 2l and 2l+1 each),
// folded last as (m0+m2)+(m1+m3) and added after the main fold.
float ggml_dot_q4_K_q8_K__ref(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q4_K*>(w);
  const auto* b = static_cast<const ggml::block_q8_K*>(x);
  float acc[8] = {};
  float acc_m[4] = {};
  for (std::int64_t ib = 0; ib < n / ggml::QK_K; ++ib) {
    const float d = b[ib].d * fp16_to_fp32(a[ib].d);
    const float dmin = -b[ib].d * fp16_to_fp32(a[ib].dmin);
    int sc[8], mn[8];
    scales_mins_k4(a[ib].scales, sc, mn);
    // hadd_epi16 wraps at 16 bits; only bsums that do not come from the codes can reach that.
    int q8sum[8];
    for (int j = 0; j < 8; ++j) q8sum[j] = static_cast<std::int16_t>(b[ib].bsums[2 * j] + b[ib].bsums[2 * j + 1]);
    for (int l = 0; l < 4; ++l)
      acc_m[l] = std::fma(dmin, static_cast<float>(mn[2 * l] * q8sum[2 * l] + mn[2 * l + 1] * q8sum[2 * l + 1]), acc_m[l]);
    int sumi[8] = {};
    for (int j = 0; j < 4; ++j) {
      const std::uint8_t* q4 = a[ib].qs + 32 * j;
      const std::int8_t* q8 = b[ib].qs + 64 * j;
      for (int t = 0; t < 32; ++t)
        sumi[t / 4] += sc[2 * j] * (q4[t] & 0x0F) * q8[t] + sc[2 * j + 1] * (q4[t] >> 4) * q8[32 + t];
    }
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(d, static_cast<float>(sumi[l]), acc[l]);
  }
  return ggml_hsum8(acc) + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]));
}

// Q5_K: Q4_K's nibbles with a fifth bit from qh (bit 2j of qh[t] for the low nibbles of
// 32-code run j, bit 2j + 1 for the high ones), unsigned 0..31, in the same eight lanes.
// The mins go into one scalar per super-block: the four pair products summed in int32
// ((p0 + p1) + (p2 + p3), as hadd_epi32 twice), fma'd by dmin into a running float
// outside the lanes, which is added after the fold.
float ggml_dot_q5_K_q8_K__ref(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q5_K*>(w);
  const auto* b = static_cast<const ggml::block_q8_K*>(x);
  float acc[8] = {};
  float summs = 0.f;
  for (std::int64_t ib = 0; ib < n / ggml::QK_K; ++ib) {
    const float d = b[ib].d * fp16_to_fp32(a[ib].d);
    const float dmin = -b[ib].d * fp16_to_fp32(a[ib].dmin);
    int sc[8], mn[8];
    scales_mins_k4(a[ib].scales, sc, mn);
    std::int32_t pair[4];
    for (int l = 0; l < 4; ++l) {
      // hadd_epi16 wraps at 16 bits; only bsums that do not come from codes can reach that.
      const int q0 = static_cast<std::int16_t>(b[ib].bsums[4 * l] + b[ib].bsums[4 * l + 1]);
      const int q1 = static_cast<std::int16_t>(b[ib].bsums[4 * l + 2] + b[ib].bsums[4 * l + 3]);
      pair[l] = mn[2 * l] * q0 + mn[2 * l + 1] * q1;
    }
    // llama.cpp's build contracts `summs += dmin * sum` into one fma.
    summs = std::fma(dmin, static_cast<float>((pair[0] + pair[1]) + (pair[2] + pair[3])), summs);
    int sumi[8] = {};
    for (int j = 0; j < 4; ++j) {
      const std::uint8_t* q5 = a[ib].qs + 32 * j;
      const std::int8_t* q8 = b[ib].qs + 64 * j;
      for (int t = 0; t < 32; ++t) {
        const int lo = (q5[t] & 0x0F) | (((a[ib].qh[t] >> (2 * j)) & 1) << 4);
        const int hi = (q5[t] >> 4) | (((a[ib].qh[t] >> (2 * j + 1)) & 1) << 4);
        sumi[t / 4] += sc[2 * j] * lo * q8[t] + sc[2 * j + 1] * hi * q8[32 + t];
      }
    }
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(d, static_cast<float>(sumi[l]), acc[l]);
  }
  return ggml_hsum8(acc) + summs;
}

// Q6_K: each 128-weight half holds four 32-code runs (ql low nibbles, ql+32 low, ql high,
// ql+32 high, with 2 bits each from qh); lane l sums codes 4l..4l+3 of every run, as
// unsigned 0..63, times the scale of their 16-weight sub-block. The -32 offset comes off
// afterwards from the activation's bsums: lane l loses 32 * (sc[2l] bsums[2l] +
// sc[2l+1] bsums[2l+1]), so lanes hold other integers than with a per-code offset (which
// older llama.cpp used), and the float sums differ.
namespace {

// Lane l of vec_dot's eight int32 lanes for one Q6_K super-block: the code products of
// elements with (e % 32) / 4 == l, scaled, minus the -32 offset of its sub-block pair.
void q6_K_lanes(const ggml::block_q6_K& a, const ggml::block_q8_K& b, std::int32_t lanes[8]) {
  std::int32_t sumi[8] = {};
  for (int h = 0; h < 2; ++h) {
    const std::uint8_t* ql = a.ql + 64 * h;
    const std::uint8_t* qh = a.qh + 32 * h;
    for (int run = 0; run < 4; ++run) {
      const std::uint8_t* lo = ql + 32 * (run & 1);
      const int shift = run < 2 ? 0 : 4;
      const std::int8_t* q8 = b.qs + 128 * h + 32 * run;
      const std::int8_t* scales = a.scales + 8 * h + 2 * run;
      for (int t = 0; t < 32; ++t) {
        const int q = ((lo[t] >> shift) & 0x0F) | (((qh[t] >> (2 * run)) & 3) << 4);
        sumi[t / 4] += scales[t / 16] * q * q8[t];
      }
    }
  }
  for (int l = 0; l < 8; ++l)
    lanes[l] = sumi[l] - 32 * (a.scales[2 * l] * b.bsums[2 * l] + a.scales[2 * l + 1] * b.bsums[2 * l + 1]);
}

}  // namespace

float ggml_dot_q6_K_q8_K__ref(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q6_K*>(w);
  const auto* b = static_cast<const ggml::block_q8_K*>(x);
  float acc[8] = {};
  for (std::int64_t ib = 0; ib < n / ggml::QK_K; ++ib) {
    const float d = b[ib].d * fp16_to_fp32(a[ib].d);
    std::int32_t lanes[8];
    q6_K_lanes(a[ib], b[ib], lanes);
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(d, static_cast<float>(lanes[l]), acc[l]);
  }
  return ggml_hsum8(acc);
}

float ggml_dot_q6_K_q8_K_tiled__ref(const void* w, const void* x, std::int64_t n) {
  const auto* a = static_cast<const ggml::block_q6_K*>(w);
  const auto* b = static_cast<const ggml::block_q8_K*>(x);
  float acc = 0.0f;
  for (std::int64_t ib = 0; ib < n / ggml::QK_K; ++ib) {
    std::int32_t lanes[8];
    q6_K_lanes(a[ib], b[ib], lanes);
    std::int32_t sum = 0;
    for (const std::int32_t l : lanes) sum += l;
    acc = std::fma(fp16_to_fp32(a[ib].d) * static_cast<float>(sum), b[ib].d, acc);
  }
  return acc;
}

void ggml_dot_tile_q6_K_q8_K_tiled__ref(const void* w, const ggml::block_q8_K* x, std::size_t x_stride,
                                        std::int64_t n, int c, float* out) {
  for (int j = 0; j < c; ++j) out[j] = ggml_dot_q6_K_q8_K_tiled__ref(w, x + static_cast<std::size_t>(j) * x_stride, n);
}

void ggml_dot_tile_q5_K_q8_K__ref(const void* w, const ggml::block_q8_K* x, std::size_t x_stride, std::int64_t n,
                                  int c, float* out) {
  for (int j = 0; j < c; ++j) out[j] = ggml_dot_q5_K_q8_K__ref(w, x + static_cast<std::size_t>(j) * x_stride, n);
}

float ggml_dot_f16_tinyblas__ref(const float* a, const float* b, std::int64_t n) {
  float acc[8] = {};
  for (std::int64_t i = 0; i < n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(a[i + l], b[i + l], acc[l]);
  return ggml_hsum8(acc);
}

void ggml_dot_f16_tinyblas_tile_h__ref(const std::uint16_t* a, std::int64_t a_stride, const std::uint16_t* b,
                                       std::int64_t b_stride, std::int64_t n, int c, float* out) {
  const auto widen = [n](const std::uint16_t* h) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = fp16_to_fp32(h[i]);
    return v;
  };
  for (int r = 0; r < 4; ++r) {
    const std::vector<float> row = widen(a + r * a_stride);
    for (int j = 0; j < c; ++j) out[j * 4 + r] = ggml_dot_f16_tinyblas__ref(row.data(), widen(b + j * b_stride).data(), n);
  }
}

void ggml_dot_f16_tinyblas_tile__ref(const float* a, std::int64_t a_stride, const float* b, std::int64_t b_stride,
                                     std::int64_t n, int c, float* out) {
  for (int j = 0; j < c; ++j)
    for (int r = 0; r < 4; ++r) out[j * 4 + r] = ggml_dot_f16_tinyblas__ref(a + r * a_stride, b + j * b_stride, n);
}

}  // namespace lowbit::kernels
