// Portable twins of ggml's x86 block dot products (see ggml_dot.h): the oracle the AVX2
// kernels are compared with bit for bit, written lane by lane so the order is explicit.
#include <cmath>

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

float ggml_dot_f16_tinyblas__ref(const float* a, const float* b, std::int64_t n) {
  float acc[8] = {};
  for (std::int64_t i = 0; i < n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(a[i + l], b[i + l], acc[l]);
  return ggml_hsum8(acc);
}

void ggml_dot_f16_tinyblas4__ref(const float* a, std::int64_t stride, const float* b, std::int64_t n, float* out) {
  for (int r = 0; r < 4; ++r) out[r] = ggml_dot_f16_tinyblas__ref(a + r * stride, b, n);
}

}  // namespace lowbit::kernels
