// Decoder building blocks (see decoder_ops.h). Attention runs one head at a time
// through the fp32 matmul kernel: scores = q_h k_h^T, masked softmax, then p v_h, with
// llama.cpp's fp16 roundings switched on for GGUF models.
#include "model/decoder_ops.h"

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/gemm_f32.h"
#include "lowbit/fp16.h"
#include "lowbit/parallel.h"
#include "model/ggml_cpu_math.h"

namespace lowbit::model {

void rms_norm_rows(const float* x, float* y, std::int64_t rows, std::int64_t cols, std::span<const float> w,
                   float eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double sum = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) sum += static_cast<double>(xr[j] * xr[j]);
    const float mean = static_cast<float>(sum / static_cast<double>(cols));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = xr[j] * scale * w[static_cast<std::size_t>(j)];
  }
}

float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoefA = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoefA * x * x)));
}

float gelu_ggml(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  const float h = fp16_to_fp32(fp32_to_fp16(x));
  return fp16_to_fp32(fp32_to_fp16(gelu_tanh(h)));
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

float silu_ggml(float x) { return ggml_silu_avx2(x); }

void round_fp16(float* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) x[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
}

void causal_attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s,
                      int threads) {
  if (s.ggml_numerics && s.head_dim % 8 == 0) {
    causal_attention_ggml_cpu(q, k, v, out, s, threads);
    return;
  }
  const std::int64_t T = s.T;
  const int hd = s.head_dim;
  const int group = s.n_head / s.n_head_kv;
  const std::int64_t qstride = static_cast<std::int64_t>(s.n_head) * hd;
  const std::int64_t kstride = static_cast<std::int64_t>(s.n_head_kv) * hd;
  const auto gemm = kernels::gemm_f32_nt_kernel();
  parallel_for(static_cast<std::size_t>(s.n_head), threads, 1, [&](std::size_t h0, std::size_t h1) {
    std::vector<float> qh(static_cast<std::size_t>(T * hd)), kh(qh.size()), vt(qh.size());
    std::vector<float> scores(static_cast<std::size_t>(T * T)), oh(qh.size());
    for (std::size_t h = h0; h < h1; ++h) {
      const std::int64_t kvh = static_cast<std::int64_t>(h) / group;
      for (std::int64_t t = 0; t < T; ++t)
        for (int d = 0; d < hd; ++d) {
          qh[static_cast<std::size_t>(t * hd + d)] = q[t * qstride + static_cast<std::int64_t>(h) * hd + d];
          kh[static_cast<std::size_t>(t * hd + d)] = k[t * kstride + kvh * hd + d];
          vt[static_cast<std::size_t>(d * T + t)] = v[t * kstride + kvh * hd + d];
        }
      if (s.ggml_numerics) {
        round_fp16(qh.data(), T * hd);
        round_fp16(kh.data(), T * hd);
        round_fp16(vt.data(), T * hd);
      }
      gemm(qh.data(), kh.data(), scores.data(), T, T, hd, 0, T);
      for (std::int64_t i = 0; i < T; ++i) {
        float* row = scores.data() + i * T;
        const std::int64_t lo = s.window > 0 ? std::max<std::int64_t>(0, i - s.window + 1) : 0;
        float mx = -std::numeric_limits<float>::infinity();
        for (std::int64_t j = lo; j <= i; ++j) {
          row[j] *= s.scale;
          mx = std::max(mx, row[j]);
        }
        double sum = 0.0;
        for (std::int64_t j = 0; j < T; ++j) {
          if (j < lo || j > i) {
            row[j] = 0.0f;
            continue;
          }
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (std::int64_t j = lo; j <= i; ++j) row[j] *= inv;
      }
      if (s.ggml_numerics) round_fp16(scores.data(), T * T);
      gemm(scores.data(), vt.data(), oh.data(), T, hd, T, 0, hd);
      for (std::int64_t t = 0; t < T; ++t)
        for (int d = 0; d < hd; ++d)
          out[t * qstride + static_cast<std::int64_t>(h) * hd + d] = oh[static_cast<std::size_t>(t * hd + d)];
    }
  });
}

}  // namespace lowbit::model
