// Decoder building blocks (see decoder_ops.h). Attention runs one head at a time
// through the fp32 matmul kernel: scores = q_h k_h^T, masked softmax, then p v_h, with
// llama.cpp's fp16 roundings switched on for GGUF models.
#include "model/decoder_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/gemm_f32.h"
#include "lowbit/error.h"
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

void store_kv(const KvView& kv, const float* k, const float* v, const AttentionShape& s) {
  if (s.past < 0 || s.past + s.T > kv.capacity)
    fail("positions [", s.past, ", ", s.past + s.T, ") do not fit a KV cache of ", kv.capacity);
  const int hd = s.head_dim;
  const std::int64_t kstride = static_cast<std::int64_t>(s.n_head_kv) * hd, cap = kv.capacity;
  const auto r = [&](float x) { return s.ggml_numerics ? fp16_to_fp32(fp32_to_fp16(x)) : x; };
  for (std::int64_t t = 0; t < s.T; ++t) {
    const std::int64_t pos = s.past + t;
    for (std::int64_t kvh = 0; kvh < s.n_head_kv; ++kvh)
      for (int d = 0; d < hd; ++d) {
        kv.k[(kvh * cap + pos) * hd + d] = r(k[t * kstride + kvh * hd + d]);
        kv.v[(kvh * hd + d) * cap + pos] = r(v[t * kstride + kvh * hd + d]);
      }
  }
}

void causal_attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s,
                      int threads) {
  if (s.past != 0) fail("causal_attention runs whole sequences; a cached one goes through attention_cached");
  const std::int64_t cap = (s.T + 7) / 8 * 8, n = cap * s.n_head_kv * s.head_dim;
  std::vector<float> ks(static_cast<std::size_t>(n), 0.0f), vs(ks.size(), 0.0f);
  const KvView kv{ks.data(), vs.data(), cap};
  store_kv(kv, k, v, s);
  attention_cached(q, kv, out, s, threads);
}

void attention_cached(const float* q, const KvView& kv, float* out, const AttentionShape& s, int threads) {
  if (s.ggml_numerics && s.head_dim % 8 == 0) {
    attention_cached_ggml_cpu(q, kv, out, s, threads);
    return;
  }
  const std::int64_t T = s.T, Tk = s.past + T, cap = kv.capacity;
  if (Tk > cap) fail("attention over ", Tk, " positions in a KV cache of ", cap);
  const int hd = s.head_dim;
  const int group = s.n_head / s.n_head_kv;
  const std::int64_t qstride = static_cast<std::int64_t>(s.n_head) * hd;
  const auto gemm = kernels::gemm_f32_nt_kernel();
  parallel_for(static_cast<std::size_t>(s.n_head), threads, 1, [&](std::size_t h0, std::size_t h1) {
    std::vector<float> qh(static_cast<std::size_t>(T * hd)), vt(static_cast<std::size_t>(Tk * hd));
    std::vector<float> scores(static_cast<std::size_t>(T * Tk)), oh(qh.size());
    for (std::size_t h = h0; h < h1; ++h) {
      const std::int64_t kvh = static_cast<std::int64_t>(h) / group;
      const float* kh = kv.k + kvh * cap * hd;  // rows of head_dim, dense
      for (std::int64_t t = 0; t < T; ++t)
        for (int d = 0; d < hd; ++d)
          qh[static_cast<std::size_t>(t * hd + d)] = q[t * qstride + static_cast<std::int64_t>(h) * hd + d];
      for (int d = 0; d < hd; ++d)
        std::copy_n(kv.v + (kvh * hd + d) * cap, Tk, vt.begin() + static_cast<std::ptrdiff_t>(d) * Tk);
      if (s.ggml_numerics) round_fp16(qh.data(), T * hd);
      gemm(qh.data(), kh, scores.data(), T, Tk, hd, 0, Tk);
      for (std::int64_t i = 0; i < T; ++i) {
        float* row = scores.data() + i * Tk;
        const std::int64_t ia = s.past + i;  // the query's position
        const std::int64_t lo = s.window > 0 ? std::max<std::int64_t>(0, ia - s.window + 1) : 0;
        float mx = -std::numeric_limits<float>::infinity();
        for (std::int64_t j = lo; j <= ia; ++j) {
          row[j] *= s.scale;
          mx = std::max(mx, row[j]);
        }
        double sum = 0.0;
        for (std::int64_t j = 0; j < Tk; ++j) {
          if (j < lo || j > ia) {
            row[j] = 0.0f;
            continue;
          }
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (std::int64_t j = lo; j <= ia; ++j) row[j] *= inv;
      }
      if (s.ggml_numerics) round_fp16(scores.data(), T * Tk);
      gemm(scores.data(), vt.data(), oh.data(), T, hd, Tk, 0, hd);
      for (std::int64_t t = 0; t < T; ++t)
        for (int d = 0; d < hd; ++d)
          out[t * qstride + static_cast<std::int64_t>(h) * hd + d] = oh[static_cast<std::size_t>(t * hd + d)];
    }
  });
}

}  // namespace lowbit::model
