// Portable twins of the eight-row panel tiles (ggml_gemm_x8.h): exact int32 block dots,
// then acc = fma(float(dot), d_w * d_x, acc) block after block (Q4_1: its mins in a
// second accumulator; Q4_K: per pair of sub-blocks or per super-block, with its mins in a
// second accumulator), as the AVX2 tiles do.
#include <cmath>
#include <type_traits>

#include "kernels/ggml_gemm_x8.h"
#include "lowbit/fp16.h"

namespace lowbit::kernels {
namespace {

// code(b, r, e): element e of row r in interleaved block b.
int code(const block_q4_0x8& b, int r, int e) {
  const int p = (e % 16) / 4, t = e % 4;
  const int byte = b.qs[32 * p + 4 * r + t];
  return (e < 16 ? byte & 0x0F : byte >> 4) - 8;
}
int code(const block_q4_1x8& b, int r, int e) {
  const int byte = b.qs[32 * ((e % 16) / 4) + 4 * r + e % 4];
  return e < 16 ? byte & 0x0F : byte >> 4;
}
int code(const block_q5_0x8& b, int r, int e) {
  const int p = (e % 16) / 4, t = e % 4;
  const int byte = b.qs[32 * p + 4 * r + t];
  const int fifth = (b.qh[4 * r + t] >> (e < 16 ? p : 4 + p)) & 1;
  return ((e < 16 ? byte & 0x0F : byte >> 4) | fifth << 4) - 16;
}
int code(const block_q8_0x8& b, int r, int e) { return b.qs[32 * (e / 4) + 4 * r + e % 4]; }

template <class Panel>
void tile(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride, std::int64_t n, int c, float* out) {
  const auto* w = reinterpret_cast<const Panel*>(panel);
  for (int j = 0; j < c; ++j) {
    const GgmlX8Activation* xb = x + static_cast<std::size_t>(j) * x_stride;
    for (int r = 0; r < 8; ++r) {
      float acc = 0.0f, acc_min = 0.0f;
      for (std::int64_t ib = 0; ib < n / 32; ++ib) {
        std::int32_t dot = 0;
        for (int e = 0; e < 32; ++e) dot += code(w[ib], r, e) * xb[ib].qs[e];
        acc = std::fma(static_cast<float>(dot), fp16_to_fp32(w[ib].d[r]) * xb[ib].d, acc);
        if constexpr (std::is_same_v<Panel, block_q4_1x8>) acc_min = std::fma(fp16_to_fp32(w[ib].m[r]), xb[ib].s, acc_min);
      }
      out[j * 8 + r] = std::is_same_v<Panel, block_q4_1x8> ? acc + acc_min : acc;
    }
  }
}

}  // namespace

void ggml_gemm_q4_Kx8_q8_K__ref(const std::byte* panel, const ggml::block_q8_K* x, std::size_t x_stride,
                                std::int64_t n, int c, bool per_pair, float* out) {
  const auto* w = reinterpret_cast<const block_q4_Kx8*>(panel);
  for (int j = 0; j < c; ++j) {
    const ggml::block_q8_K* xb = x + static_cast<std::size_t>(j) * x_stride;
    for (int r = 0; r < 8; ++r) {
      float acc = 0.0f, acc_min = 0.0f;
      for (std::int64_t ib = 0; ib < n / ggml::QK_K; ++ib) {
        const float d = fp16_to_fp32(w[ib].d[r]) * xb[ib].d, dmin = fp16_to_fp32(w[ib].dmin[r]) * xb[ib].d;
        std::int32_t isum = 0, imin = 0;
        for (int s = 0; s < 8; ++s) {
          std::int32_t dot = 0;
          for (int e = 0; e < 32; ++e) {
            const int byte = w[ib].qs[256 * (s / 2) + 32 * (e / 4) + 4 * r + e % 4];
            dot += (s % 2 ? byte >> 4 : byte & 0x0F) * xb[ib].qs[32 * s + e];
          }
          isum += w[ib].scales[8 * s + r] * dot;
          imin += w[ib].mins[8 * s + r] * (xb[ib].bsums[2 * s] + xb[ib].bsums[2 * s + 1]);
          if (per_pair && s % 2) {
            acc = std::fma(static_cast<float>(isum), d, acc);
            acc_min = std::fma(static_cast<float>(imin), dmin, acc_min);
            isum = imin = 0;
          }
        }
        if (!per_pair) {
          acc = std::fma(static_cast<float>(isum), d, acc);
          acc_min = std::fma(static_cast<float>(imin), dmin, acc_min);
        }
      }
      out[j * 8 + r] = acc - acc_min;
    }
  }
}

void ggml_gemm_q4_0x8_q8_0__ref(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                std::int64_t n, int c, float* out) {
  tile<block_q4_0x8>(panel, x, x_stride, n, c, out);
}

void ggml_gemm_q4_1x8_q8_1__ref(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                std::int64_t n, int c, float* out) {
  tile<block_q4_1x8>(panel, x, x_stride, n, c, out);
}

void ggml_gemm_q5_0x8_q8_0__ref(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                std::int64_t n, int c, float* out) {
  tile<block_q5_0x8>(panel, x, x_stride, n, c, out);
}

void ggml_gemm_q8_0x8_q8_0__ref(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                std::int64_t n, int c, float* out) {
  tile<block_q8_0x8>(panel, x, x_stride, n, c, out);
}

void ggml_gemm_q8_0x8_q8_0_pair__ref(const std::byte* panel0, const std::byte* panel1, const GgmlX8Activation* x,
                                     std::int64_t n, float* out) {
  tile<block_q8_0x8>(panel0, x, 0, n, 1, out);
  tile<block_q8_0x8>(panel1, x, 0, n, 1, out + 8);
}

}  // namespace lowbit::kernels
