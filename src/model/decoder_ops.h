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
  std::int64_t T = 0;   // queries, at positions [past, past + T)
  std::int64_t past = 0;  // keys already cached before them: queries see keys [0, past + T)
  int n_head = 0, n_head_kv = 0, head_dim = 0;
  float scale = 1.0f;   // applied to q.k before the softmax
  int window = 0;       // > 0: query p sees keys p - window < j <= p
  bool ggml_numerics = false;  // fp16 q/k/v and probabilities, llama.cpp's non-flash path
};

// One layer's keys and values for positions [0, capacity) in the layout attention reads
// them in: k as [n_head_kv][capacity][head_dim], v transposed as [n_head_kv][head_dim]
// [capacity] (p.v runs along positions). capacity is a multiple of 8 and unused slots are
// zero: ggml's softmax works in groups of eight keys and multiplies padding by p = 0.
struct KvView {
  float* k = nullptr;
  float* v = nullptr;
  std::int64_t capacity = 0;
};

// Writes k and v [T][n_head_kv * head_dim] at positions [s.past, s.past + s.T), rounded
// to fp16 under s.ggml_numerics (llama.cpp's fp16 KV cache).
void store_kv(const KvView& kv, const float* k, const float* v, const AttentionShape& s);

// out [T][n_head * head_dim] = softmax(scale * q k^T + causal mask) v per head over the
// cached keys; q is [T][n_head * head_dim] (grouped-query sharing of kv heads).
void attention_cached(const float* q, const KvView& kv, float* out, const AttentionShape& s, int threads);
// The same in llama.cpp's x86 CPU arithmetic, bit for bit (head_dim a multiple of 8);
// attention_cached() takes this path when s.ggml_numerics is set.
void attention_cached_ggml_cpu(const float* q, const KvView& kv, float* out, const AttentionShape& s, int threads);

// A whole sequence at once (s.past = 0): k and v stored in a scratch cache, then
// attention_cached. Decoding in pieces through a kept cache gives the same values.
void causal_attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s,
                      int threads);

// llama.cpp's swiglu (ggml_v_silu) and silu-times-up in its x86 arithmetic.
float silu_ggml(float x);

}  // namespace lowbit::model
