// Element-wise and row-wise pieces of the decoder pass, each written to round the way
// the source model's reference does (ggml or transformers), and causal attention.
#pragma once
#include <cstdint>
#include <span>

namespace lowbit::model {

// y = x / sqrt(mean(x^2) + eps) * w per row (fp32 squares summed in double, as ggml does).
void rms_norm_rows(const float* x, float* y, std::int64_t rows, std::int64_t cols, std::span<const float> w,
                   float eps);

// llama.cpp's GELU: tanh approximation looked up through its fp16 table.
float gelu_ggml(float x);
float gelu_tanh(float x);
float silu(float x);

// Rounds n values to fp16 and back (llama.cpp's fp16 KV cache and matmul inputs).
void round_fp16(float* x, std::int64_t n);

struct AttentionShape {
  std::int64_t T = 0;
  int n_head = 0, n_head_kv = 0, head_dim = 0;
  float scale = 1.0f;   // applied to q.k before the softmax
  int window = 0;       // > 0: query p sees keys p - window < j <= p
  bool ggml_numerics = false;  // fp16 q/k/v and probabilities, llama.cpp's non-flash path
};

// out [T][n_head * head_dim] = softmax(scale * q k^T + causal mask) v per head; q is
// [T][n_head * head_dim], k and v [T][n_head_kv * head_dim] (grouped-query sharing).
void causal_attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s,
                      int threads);
// The same in llama.cpp's x86 CPU arithmetic, bit for bit (head_dim a multiple of 8);
// causal_attention() takes this path when s.ggml_numerics is set.
void causal_attention_ggml_cpu(const float* q, const float* k, const float* v, float* out, const AttentionShape& s,
                               int threads);

// llama.cpp's swiglu (ggml_v_silu) and silu-times-up in its x86 arithmetic.
float silu_ggml(float x);

}  // namespace lowbit::model
