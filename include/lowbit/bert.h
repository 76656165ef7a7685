// The BERT encoder runtime (all-MiniLM-L6-v2 and other HF BertModel checkpoints):
// embeddings + post-LayerNorm transformer blocks with bidirectional, padding-masked
// attention, and sentence-transformers' pooling (mean over real tokens, then the optional
// Normalize module). Weights come through ModelWeights, so fp32, fp16 and lowbit-quantized
// checkpoints run unchanged; every projection is a Linear.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "lowbit/linear.h"
#include "lowbit/model_weights.h"

namespace lowbit {

struct BertConfig {
  int vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, intermediate_size = 0;
  int max_positions = 0, type_vocab_size = 0;
  float layer_norm_eps = 1e-12f;
  std::string hidden_act = "gelu";  // "gelu" (erf form) or "gelu_new"/"gelu_pytorch_tanh"
  // sentence-transformers pipeline beside the checkpoint (modules.json, 1_Pooling):
  // mean pooling is the only mode lowbit runs; normalize = a Normalize module follows it.
  bool normalize = false;
};

// config.json of a HF BertModel; reads modules.json and <pooling>/config.json from the
// same folder when present, and fails on pipelines lowbit does not run.
BertConfig bert_config_from_hf(const std::filesystem::path& config_json);

struct BertLayer {
  Linear query, key, value, attn_out;  // [H, H] each
  Linear intermediate;                 // [I, H]
  Linear output;                       // [H, I]
  std::vector<float> attn_ln_w, attn_ln_b, out_ln_w, out_ln_b;  // [H]
  std::vector<Linear*> linears() { return {&query, &key, &value, &attn_out, &intermediate, &output}; }
  std::vector<const Linear*> linears() const { return {&query, &key, &value, &attn_out, &intermediate, &output}; }
};

class BertEncoder {
 public:
  // A HF directory (config.json + model.safetensors), or a .safetensors file with
  // config.json in the same folder.
  static BertEncoder load(const std::filesystem::path& path);
  // Weights from `weights` (a .safetensors file, a HF directory or an index), the
  // architecture from `config_json` (e.g. a quantized file beside the original model).
  static BertEncoder load(const std::filesystem::path& weights, const std::filesystem::path& config_json);

  const BertConfig& config() const { return cfg_; }
  const ModelWeights& weights() const { return weights_; }
  int hidden_size() const { return cfg_.hidden_size; }

  // Last hidden state of a padded batch: ids and attention_mask are [batch, T] row-major
  // (mask 1 = real token, 0 = padding), token_types [batch, T] or empty (all 0); returns
  // [batch, T, H]. Padding keys get no attention weight; padding rows are still computed
  // (as transformers does) so they hold values, but nobody should read them.
  std::vector<float> forward(std::span<const std::int32_t> ids, std::span<const std::int32_t> attention_mask,
                             std::int64_t batch, int threads, std::span<const std::int32_t> token_types = {}) const;
  // The pieces of forward(), for running an encoder one layer at a time (PTQ): the
  // embeddings after their LayerNorm, [batch * T, H], then layer il over h in place;
  // observe sees each Linear's inputs.
  std::vector<float> embed(std::span<const std::int32_t> ids, std::int64_t batch,
                           std::span<const std::int32_t> token_types = {}) const;
  void run_layer(int il, std::span<float> h, std::span<const std::int32_t> attention_mask, std::int64_t batch,
                 int threads, const LinearInputObserver& observe = {}) const;
  // One sequence, no padding: [T, H].
  std::vector<float> forward(std::span<const std::int32_t> ids, int threads) const;

  // Mean of the last hidden state over the sequence's tokens (sentence-transformers'
  // Pooling with pooling_mode_mean_tokens): [H].
  std::vector<float> mean_pooled(std::span<const std::int32_t> ids, int threads) const;
  // What sentence-transformers' encode() returns for this model: mean_pooled, then L2
  // normalized when the pipeline ends in Normalize (config().normalize).
  std::vector<float> sentence_embedding(std::span<const std::int32_t> ids, int threads) const;

  BertLayer& layer(int il) { return layers_.at(static_cast<std::size_t>(il)); }
  const BertLayer& layer(int il) const { return layers_.at(static_cast<std::size_t>(il)); }

 private:
  BertConfig cfg_;
  ModelWeights weights_;
  std::vector<float> word_emb_, pos_emb_, type_emb_;  // [V, H], [P, H], [types, H]
  std::vector<float> emb_ln_w_, emb_ln_b_;            // [H]
  std::vector<BertLayer> layers_;
};

// Mean of `hidden` [T, H] over the rows whose mask is 1 (all rows when mask is empty),
// divided by max(count, 1e-9) as sentence-transformers does.
std::vector<float> mean_pool(std::span<const float> hidden, std::span<const std::int32_t> mask, std::int64_t hidden_size);
// x / max(||x||_2, 1e-12) (torch.nn.functional.normalize).
void l2_normalize(std::span<float> x);

}  // namespace lowbit
