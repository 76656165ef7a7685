// The decoder-only transformer runtime: llama-family models (Llama, Mistral, Qwen2,
// SmolLM: RMSNorm, RoPE with its scaling variants, GQA, SwiGLU, optional biases, tied or
// untied head) and Gemma 3 (sandwich norms, q/k norms, GeGLU, sliding-window layers),
// loaded from GGUF or a HF directory. A forward pass reads top to bottom in
// src/model/decoder_model.cpp; GGUF models follow llama.cpp's CPU numerics (fp16 KV
// cache, activation rounding per weight type) so logits agree with llama.cpp's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lowbit/linear.h"
#include "lowbit/model_weights.h"

namespace lowbit {

enum class RopeStyle {
  Adjacent,  // rotates pairs (2i, 2i+1): ggml's "normal" mode (GGUF llama; weights permuted)
  Halves,    // rotates (i, i + n_rot/2): HF's rotate_half, ggml's NEOX mode
};

struct RopeConfig {
  RopeStyle style = RopeStyle::Halves;
  int n_rot = 0;               // rotated dimensions per head (<= head_dim)
  float base = 10000.0f;       // full-attention layers
  float base_swa = 10000.0f;   // sliding-window layers (Gemma 3)
  // "default", "linear", "llama3", "yarn", "dynamic" (HF rope_scaling.rope_type).
  std::string scaling = "default";
  float factor = 1.0f;
  float low_freq_factor = 1.0f, high_freq_factor = 4.0f;  // llama3
  float beta_fast = 32.0f, beta_slow = 1.0f;                // yarn
  int original_max_positions = 0;                           // llama3, yarn, dynamic
  float attention_factor = 1.0f;                            // yarn's cos/sin scale
  std::vector<float> freq_factors;  // GGUF rope_freqs.weight: theta divided per pair
  bool ggml_math = false;           // angles by ggml's running product (GGUF), else HF's
};

struct DecoderConfig {
  std::string arch;  // "llama" (also mistral/qwen2/smollm) or "gemma3"
  int n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0, n_vocab = 0;
  float norm_eps = 1e-5f;
  RopeConfig rope;
  bool gemma = false;              // embeddings * sqrt(n_embd), sandwich norms, q/k norms, GeGLU
  float attn_scale = 0.0f;         // softmax scale; 0 = 1/sqrt(head_dim)
  int sliding_window = 0;          // 0 = none
  std::vector<bool> swa_layers;    // per layer: sliding-window attention
  float final_logit_softcap = 0.0f;
  // llama.cpp's CPU numerics for GGUF models: K/V cached as fp16, Q and the attention
  // probabilities rounded to fp16 before their matmuls, GELU through ggml's fp16 table.
  bool ggml_numerics = false;
  int context_length = 0;
};

// What one pass of run_layer over a sequence leaves for later passes over the same layer
// and sequence: attention's output (o_proj's input, T x n_head * head_dim) once wq, wk,
// wv are final, and the hidden state after the attention residual (T x n_embd) once wo is
// final too. An empty member is filled by the next pass that computes it; the layer's
// input must not change meanwhile.
struct LayerCache {
  bool attention_final = false, residual_final = false;
  std::vector<float> attention, residual;
};

// Keys and values of the positions one sequence has run so far, every layer, so that
// generation feeds only its new tokens (DecoderModel::decode). Per layer k is
// [n_head_kv][capacity][head_dim] and v [n_head_kv][head_dim][capacity] (fp16 values
// under llama.cpp numerics, as its KV cache holds them); unused slots are zero.
struct KvCache {
  std::int64_t positions = 0;  // filled: [0, positions)
  std::int64_t capacity = 0;   // a multiple of 8
  std::vector<std::vector<float>> k, v;
};

struct DecoderLayer {
  std::vector<float> attn_norm, ffn_norm, attn_post_norm, ffn_post_norm, q_norm, k_norm;
  Linear wq, wk, wv, wo, w_gate, w_up, w_down;
  // The Linears in the order they run, for calibration and layer-wise quantization.
  std::vector<Linear*> linears() { return {&wq, &wk, &wv, &wo, &w_gate, &w_up, &w_down}; }
  std::vector<const Linear*> linears() const { return {&wq, &wk, &wv, &wo, &w_gate, &w_up, &w_down}; }
};

class DecoderModel {
 public:
  // A .gguf file or a HF directory (config.json + safetensors, plain or lowbit-quantized).
  // map_layers: every layer's Linears stay in the mapped file (ModelWeights::mapped_linear):
  // the starting point of layer-wise PTQ, which then holds no layer in memory before it
  // quantizes it. The layers compute what make_decoder_f32 of a plain load computes.
  static DecoderModel load(const std::filesystem::path& path, bool map_layers = false);

  const DecoderConfig& config() const { return cfg_; }
  const ModelWeights& weights() const { return weights_; }

  // Logits of positions [first_logit, T) of one sequence starting at position 0:
  // logits is (T - first_logit) x n_vocab.
  void forward(std::span<const std::int32_t> tokens, float* logits, int threads, std::int64_t first_logit = 0,
               const LinearInputObserver& observe = {}) const;

  // An empty cache for a sequence of up to max_positions tokens.
  KvCache new_cache(std::int64_t max_positions) const;
  // Runs tokens at positions [cache.positions, cache.positions + tokens.size()) against
  // the keys and values the cache holds, appends theirs, and writes the last token's
  // logits (n_vocab). Decoding a sequence in any split gives forward()'s last logits.
  void decode(std::span<const std::int32_t> tokens, KvCache& cache, float* logits, int threads) const;

  // The same pass in pieces, for capturing statistics layer by layer while earlier
  // layers are replaced (GPTQ's sequential mode). h is T x n_embd.
  void embed(std::span<const std::int32_t> tokens, float* h) const;
  // With a cache, what earlier passes over this sequence computed with weights that are
  // final is reused (GPTQ's later capture passes over a partly quantized layer).
  void run_layer(int il, float* h, std::int64_t T, int threads, const LinearInputObserver& observe = {},
                 LayerCache* cache = nullptr) const;
  // run_layer's two halves without norms or residuals (AWQ inspects each one's output):
  // x is the normed input (T x n_embd), out the o_proj / down_proj output (T x n_embd).
  void attention_block(int il, const float* x, std::int64_t T, float* out, int threads,
                       const LinearInputObserver& observe = {}, std::vector<float>* ctx = nullptr) const;
  void ffn_block(int il, const float* x, std::int64_t T, float* out, int threads,
                 const LinearInputObserver& observe = {}) const;
  void head(const float* h, std::int64_t T, std::int64_t first, float* logits, int threads,
            const LinearInputObserver& observe = {}) const;

  // Plain fp32 arithmetic from here on (no fp16 K/V/Q rounding, no ggml activation tables
  // or rope angle recurrence): for comparing a GGUF-loaded model with fp32 peers.
  void use_fp32_numerics() {
    cfg_.ggml_numerics = false;
    cfg_.rope.ggml_math = false;
  }

  DecoderLayer& layer(int il) { return layers_.at(static_cast<std::size_t>(il)); }
  const DecoderLayer& layer(int il) const { return layers_.at(static_cast<std::size_t>(il)); }
  Linear& output() { return output_; }
  const Linear& output() const { return output_; }
  // The embedding table when it is not tied to output(), else empty.
  std::vector<float>& token_embd_untied() { return tok_embd_; }
  const std::vector<float>& token_embd_untied() const { return tok_embd_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  std::vector<float>& output_norm() { return output_norm_; }
  bool tied() const { return tied_; }

 private:
  void layer_pass(int il, float* h, std::int64_t T, int threads, const LinearInputObserver& observe, LayerCache* cache,
                  KvCache* kv) const;
  void attention_pass(int il, const float* x, std::int64_t T, float* out, int threads,
                      const LinearInputObserver& observe, std::vector<float>* ctx, KvCache* kv) const;

  DecoderConfig cfg_;
  ModelWeights weights_;
  std::vector<float> tok_embd_;  // n_vocab x n_embd (empty when tied: output_'s weight)
  std::vector<float> output_norm_;
  Linear output_;
  bool tied_ = false;
  std::vector<DecoderLayer> layers_;
};

// Config from GGUF metadata (general.architecture llama/gemma3) or HF config.json.
DecoderConfig decoder_config_from_gguf(const GgufFile& f);
DecoderConfig decoder_config_from_hf(const std::filesystem::path& config_json);

}  // namespace lowbit
