// Decoder-only transformer forward pass (include/lowbit/decoder.h), llama2.c style:
// embed, then per block [norm -> q,k,v -> (q/k norm) -> rope -> attention -> o ->
// (post norm) -> residual -> norm -> gate,up -> act*up -> down -> (post norm) ->
// residual], final norm, head. Weights come through ModelWeights under GGUF or HF names.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "kernels/ggml_expf.h"
#include "lowbit/decoder.h"
#include "lowbit/error.h"
#include "lowbit/gguf_model.h"
#include "lowbit/parallel.h"
#include "model/decoder_ops.h"
#include "model/rope.h"

namespace lowbit {
namespace {

// Tensor names per source: GGUF's (llama.cpp's converter) and HF's (transformers').
struct Names {
  bool gguf;
  std::string tok_embd() const { return gguf ? "token_embd.weight" : "model.embed_tokens.weight"; }
  std::string out_norm() const { return gguf ? "output_norm.weight" : "model.norm.weight"; }
  std::string output() const { return gguf ? "output.weight" : "lm_head.weight"; }
  std::string layer(int il, const char* gguf_part, const char* hf_part, const char* suffix = "weight") const {
    return gguf ? "blk." + std::to_string(il) + "." + gguf_part + "." + suffix
                : "model.layers." + std::to_string(il) + "." + hf_part + "." + suffix;
  }
};

std::vector<float> vector_of(const ModelWeights& w, const std::string& name, std::int64_t n) {
  auto v = w.f32(name);
  if (static_cast<std::int64_t>(v.size()) != n)
    fail(w.path().string(), ": tensor \"", name, "\" has ", v.size(), " values, expected ", n);
  return v;
}

Linear linear_of(const ModelWeights& w, const std::string& name, std::int64_t rows, std::int64_t cols,
                 const std::string& bias_name, bool mapped = false) {
  const auto s = w.shape(name);
  if (s.size() != 2 || s[0] != rows || s[1] != cols)
    fail(w.path().string(), ": tensor \"", name, "\" should be [", rows, ", ", cols, "]");
  Linear l = mapped ? w.mapped_linear(name) : w.linear(name);
  if (w.has(bias_name)) l.set_bias(vector_of(w, bias_name, rows));
  return l;
}

// Linears that read the same x (q / k / v, gate / up), each observed first: those on ggml
// blocks of one activation type share a single quantization of x (forward's bits, one
// pass over x instead of three).
void forward_same_input(std::initializer_list<std::pair<const Linear*, float*>> group, int il, const float* x,
                        std::int64_t T, int threads, const LinearInputObserver& observe) {
  std::vector<std::byte> xq;
  ggml::Type xq_type = ggml::Type::F32;
  for (const auto& [lin, y] : group) {
    if (observe) observe(il, *lin, x, T);
    const ggml::Type t = lin->input_blocks_type();
    if (t == ggml::Type::F32) {
      lin->forward(x, T, y, threads);
      continue;
    }
    if (xq.empty() || xq_type != t) {
      xq = lin->quantize_input(x, T, threads);
      xq_type = t;
    }
    lin->forward_blocks(xq, T, y, threads);
  }
}

}  // namespace

DecoderModel DecoderModel::load(const std::filesystem::path& path, bool map_layers) {
  DecoderModel m;
  m.weights_ = ModelWeights::open(path);
  const ModelWeights& w = m.weights_;
  const Names nm{w.gguf() != nullptr};
  if (w.gguf()) {
    m.cfg_ = decoder_config_from_gguf(*w.gguf());
  } else {
    const auto dir = std::filesystem::is_directory(path) ? path : path.parent_path();
    m.cfg_ = decoder_config_from_hf(dir / "config.json");
  }
  DecoderConfig& c = m.cfg_;
  if (w.has("rope_freqs.weight")) c.rope.freq_factors = w.f32("rope_freqs.weight");
  const std::int64_t d = c.n_embd, qd = static_cast<std::int64_t>(c.n_head) * c.head_dim;
  const std::int64_t kvd = static_cast<std::int64_t>(c.n_head_kv) * c.head_dim;
  m.tied_ = !w.has(nm.output());
  m.output_ = linear_of(w, m.tied_ ? nm.tok_embd() : nm.output(), c.n_vocab, d, "");
  if (!m.tied_) m.tok_embd_ = vector_of(w, nm.tok_embd(), static_cast<std::int64_t>(c.n_vocab) * d);
  m.output_norm_ = vector_of(w, nm.out_norm(), d);
  for (int il = 0; il < c.n_layer; ++il) {
    DecoderLayer L;
    L.attn_norm = vector_of(w, nm.layer(il, "attn_norm", "input_layernorm"), d);
    L.ffn_norm = vector_of(w, nm.layer(il, "ffn_norm", "post_attention_layernorm"), d);
    L.wq = linear_of(w, nm.layer(il, "attn_q", "self_attn.q_proj"), qd, d, nm.layer(il, "attn_q", "self_attn.q_proj", "bias"), map_layers);
    L.wk = linear_of(w, nm.layer(il, "attn_k", "self_attn.k_proj"), kvd, d, nm.layer(il, "attn_k", "self_attn.k_proj", "bias"), map_layers);
    L.wv = linear_of(w, nm.layer(il, "attn_v", "self_attn.v_proj"), kvd, d, nm.layer(il, "attn_v", "self_attn.v_proj", "bias"), map_layers);
    L.wo = linear_of(w, nm.layer(il, "attn_output", "self_attn.o_proj"), d, qd, nm.layer(il, "attn_output", "self_attn.o_proj", "bias"), map_layers);
    L.w_gate = linear_of(w, nm.layer(il, "ffn_gate", "mlp.gate_proj"), c.n_ff, d, nm.layer(il, "ffn_gate", "mlp.gate_proj", "bias"), map_layers);
    L.w_up = linear_of(w, nm.layer(il, "ffn_up", "mlp.up_proj"), c.n_ff, d, nm.layer(il, "ffn_up", "mlp.up_proj", "bias"), map_layers);
    L.w_down = linear_of(w, nm.layer(il, "ffn_down", "mlp.down_proj"), d, c.n_ff, nm.layer(il, "ffn_down", "mlp.down_proj", "bias"), map_layers);
    if (c.gemma) {
      L.q_norm = vector_of(w, nm.layer(il, "attn_q_norm", "self_attn.q_norm"), c.head_dim);
      L.k_norm = vector_of(w, nm.layer(il, "attn_k_norm", "self_attn.k_norm"), c.head_dim);
      L.attn_post_norm = vector_of(w, nm.layer(il, "post_attention_norm", "post_attention_layernorm"), d);
      L.ffn_post_norm = vector_of(w, nm.layer(il, "post_ffw_norm", "post_feedforward_layernorm"), d);
    }
    m.layers_.push_back(std::move(L));
  }
  return m;
}

void DecoderModel::embed(std::span<const std::int32_t> tokens, float* h) const {
  const std::int64_t d = cfg_.n_embd;
  // Gemma scales embeddings by sqrt(n_embd) (ggml_scale with sqrtf in gemma3.cpp).
  const float scale = cfg_.gemma ? std::sqrt(static_cast<float>(d)) : 1.0f;
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const std::int32_t id = tokens[t];
    if (id < 0 || id >= cfg_.n_vocab) fail("token id ", id, " at position ", t, " is outside the vocabulary of ", cfg_.n_vocab);
    float* row = h + static_cast<std::int64_t>(t) * d;
    // A tied table is the output weight, decoded row by row (ggml's get_rows).
    if (tied_)
      output_.decode_rows(id, id + 1, row);
    else
      std::memcpy(row, tok_embd_.data() + static_cast<std::int64_t>(id) * d, static_cast<std::size_t>(d) * sizeof(float));
    if (cfg_.gemma)
      for (std::int64_t j = 0; j < d; ++j) row[j] *= scale;
  }
}

void DecoderModel::attention_block(int il, const float* x, std::int64_t T, float* out, int threads,
                                   const LinearInputObserver& observe, std::vector<float>* ctx) const {
  attention_pass(il, x, T, out, threads, observe, ctx, nullptr);
}

void DecoderModel::attention_pass(int il, const float* x, std::int64_t T, float* out, int threads,
                                  const LinearInputObserver& observe, std::vector<float>* ctx, KvCache* kv) const {
  const DecoderConfig& c = cfg_;
  const DecoderLayer& L = layers_.at(static_cast<std::size_t>(il));
  const std::int64_t qd = static_cast<std::int64_t>(c.n_head) * c.head_dim;
  const std::int64_t kvd = static_cast<std::int64_t>(c.n_head_kv) * c.head_dim;
  auto run = [&](const Linear& lin, const float* in, float* y) {
    if (observe) observe(il, lin, in, T);
    lin.forward(in, T, y, threads);
  };
  if (ctx && !ctx->empty()) {
    if (ctx->size() != static_cast<std::size_t>(T * qd))
      fail("layer ", il, ": a kept attention context of ", ctx->size(), " values for ", T, " tokens");
    run(L.wo, ctx->data(), out);
    return;
  }
  std::vector<float> q(static_cast<std::size_t>(T * qd)), k(static_cast<std::size_t>(T * kvd)), v(k.size());
  std::vector<float> att(q.size());
  forward_same_input({{&L.wq, q.data()}, {&L.wk, k.data()}, {&L.wv, v.data()}}, il, x, T, threads, observe);
  if (c.gemma) {
    model::rms_norm_rows(q.data(), q.data(), T * c.n_head, c.head_dim, L.q_norm, c.norm_eps);
    model::rms_norm_rows(k.data(), k.data(), T * c.n_head_kv, c.head_dim, L.k_norm, c.norm_eps);
  }
  const bool swa = !c.swa_layers.empty() && c.swa_layers[static_cast<std::size_t>(il)];
  const std::int64_t past = kv ? kv->positions : 0;
  const auto table =
      model::rope_table(c.rope, swa && c.gemma ? c.rope.base_swa : c.rope.base, c.context_length, past + T, past);
  model::apply_rope(q.data(), T, c.n_head, c.head_dim, table, c.rope.style);
  model::apply_rope(k.data(), T, c.n_head_kv, c.head_dim, table, c.rope.style);
  model::AttentionShape as;
  as.T = T;
  as.past = past;
  as.n_head = c.n_head;
  as.n_head_kv = c.n_head_kv;
  as.head_dim = c.head_dim;
  as.window = swa ? c.sliding_window : 0;
  as.ggml_numerics = c.ggml_numerics;
  if (c.gemma) {
    // gemma3.cpp scales q before attention and runs the softmax with scale 1.
    for (auto& e : q) e *= c.attn_scale;
    as.scale = 1.0f;
  } else {
    as.scale = c.attn_scale > 0 ? c.attn_scale : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  }
  if (kv) {
    const auto l = static_cast<std::size_t>(il);
    const model::KvView view{kv->k[l].data(), kv->v[l].data(), kv->capacity};
    model::store_kv(view, k.data(), v.data(), as);
    model::attention_cached(q.data(), view, att.data(), as, threads);
  } else {
    model::causal_attention(q.data(), k.data(), v.data(), att.data(), as, threads);
  }
  if (ctx) {
    *ctx = std::move(att);  // kept before o_proj runs: a capture pass may stop at its input
    run(L.wo, ctx->data(), out);
  } else {
    run(L.wo, att.data(), out);
  }
}

void DecoderModel::ffn_block(int il, const float* x, std::int64_t T, float* out, int threads,
                             const LinearInputObserver& observe) const {
  const DecoderConfig& c = cfg_;
  const DecoderLayer& L = layers_.at(static_cast<std::size_t>(il));
  auto run = [&](const Linear& lin, const float* in, float* y) {
    if (observe) observe(il, lin, in, T);
    lin.forward(in, T, y, threads);
  };
  std::vector<float> g(static_cast<std::size_t>(T * c.n_ff)), u(g.size());
  forward_same_input({{&L.w_gate, g.data()}, {&L.w_up, u.data()}}, il, x, T, threads, observe);
  // The gate on the threads in chunks of whole eight-lane groups (elementwise: the same
  // bits on any thread count); on one thread it was about 4 % of a prompt pass's samples
  // (perf, SmolLM2 Q8_0) with the other thread idle.
  const auto expf8 = kernels::ggml_expf8_kernel();
  parallel_for(g.size(), g.size() >= 4096 ? threads : 1, 8, [&](std::size_t b, std::size_t e) {
    std::size_t i = b;
    if (c.ggml_numerics && !c.gemma) {
      // ggml_v_silu's exp on eight lanes at a time (bit for bit the scalar silu_ggml).
      for (; i + 8 <= e; i += 8) {
        float d[8], x[8];
        for (int l = 0; l < 8; ++l) d[l] = 0.0f - g[i + l];
        expf8(d, x);
        for (int l = 0; l < 8; ++l) g[i + l] = g[i + l] / (1.0f + x[l]) * u[i + l];
      }
    }
    for (; i < e; ++i) {
      const float a = c.gemma ? (c.ggml_numerics ? model::gelu_ggml(g[i]) : model::gelu_tanh(g[i]))
                              : (c.ggml_numerics ? model::silu_ggml(g[i]) : model::silu(g[i]));
      g[i] = a * u[i];
    }
  });
  run(L.w_down, g.data(), out);
}

void DecoderModel::run_layer(int il, float* h, std::int64_t T, int threads, const LinearInputObserver& observe,
                             LayerCache* cache) const {
  layer_pass(il, h, T, threads, observe, cache, nullptr);
}

void DecoderModel::layer_pass(int il, float* h, std::int64_t T, int threads, const LinearInputObserver& observe,
                              LayerCache* cache, KvCache* kv) const {
  const DecoderConfig& c = cfg_;
  const DecoderLayer& L = layers_.at(static_cast<std::size_t>(il));
  const std::int64_t d = c.n_embd;
  std::vector<float> x(static_cast<std::size_t>(T * d)), o(x.size());
  if (cache && cache->residual_final && !cache->residual.empty()) {
    if (cache->residual.size() != x.size())
      fail("layer ", il, ": a kept residual of ", cache->residual.size(), " values for ", T, " tokens");
    std::copy(cache->residual.begin(), cache->residual.end(), h);
  } else {
    model::rms_norm_rows(h, x.data(), T, d, L.attn_norm, c.norm_eps);
    attention_pass(il, x.data(), T, o.data(), threads, observe,
                   cache && cache->attention_final ? &cache->attention : nullptr, kv);
    if (c.gemma) model::rms_norm_rows(o.data(), o.data(), T, d, L.attn_post_norm, c.norm_eps);
    for (std::size_t i = 0; i < o.size(); ++i) h[i] += o[i];
    if (cache && cache->residual_final) {
      cache->residual.assign(h, h + T * d);  // kept before the MLP: a capture pass may stop in it
      cache->attention = {};
    }
  }

  model::rms_norm_rows(h, x.data(), T, d, L.ffn_norm, c.norm_eps);
  ffn_block(il, x.data(), T, o.data(), threads, observe);
  if (c.gemma) model::rms_norm_rows(o.data(), o.data(), T, d, L.ffn_post_norm, c.norm_eps);
  for (std::size_t i = 0; i < o.size(); ++i) h[i] += o[i];
}

void DecoderModel::head(const float* h, std::int64_t T, std::int64_t first, float* logits, int threads,
                        const LinearInputObserver& observe) const {
  const std::int64_t d = cfg_.n_embd, rows = T - first;
  if (rows <= 0) return;
  std::vector<float> x(static_cast<std::size_t>(rows * d));
  model::rms_norm_rows(h + first * d, x.data(), rows, d, output_norm_, cfg_.norm_eps);
  if (observe) observe(-1, output_, x.data(), rows);
  output_.forward(x.data(), rows, logits, threads);
  if (cfg_.final_logit_softcap > 0) {
    const float cap = cfg_.final_logit_softcap;
    for (std::int64_t i = 0; i < rows * cfg_.n_vocab; ++i) logits[i] = std::tanh(logits[i] / cap) * cap;
  }
}

void DecoderModel::forward(std::span<const std::int32_t> tokens, float* logits, int threads, std::int64_t first_logit,
                           const LinearInputObserver& observe) const {
  const auto T = static_cast<std::int64_t>(tokens.size());
  if (T == 0) return;
  if (first_logit < 0 || first_logit > T) fail("first logit ", first_logit, " outside a sequence of ", T);
  std::vector<float> h(static_cast<std::size_t>(T * cfg_.n_embd));
  embed(tokens, h.data());
  for (int il = 0; il < cfg_.n_layer; ++il) run_layer(il, h.data(), T, threads, observe);
  head(h.data(), T, first_logit, logits, threads, observe);
}

KvCache DecoderModel::new_cache(std::int64_t max_positions) const {
  if (max_positions <= 0) fail("a KV cache for ", max_positions, " positions");
  KvCache kv;
  kv.capacity = (max_positions + 7) / 8 * 8;
  const auto n = static_cast<std::size_t>(kv.capacity * cfg_.n_head_kv * cfg_.head_dim);
  kv.k.assign(static_cast<std::size_t>(cfg_.n_layer), std::vector<float>(n, 0.0f));
  kv.v = kv.k;
  return kv;
}

void DecoderModel::decode(std::span<const std::int32_t> tokens, KvCache& kv, float* logits, int threads) const {
  const auto T = static_cast<std::int64_t>(tokens.size());
  if (T == 0) fail("decode: no tokens");
  if (kv.positions + T > kv.capacity)
    fail("decode: ", T, " tokens after ", kv.positions, " overflow a KV cache of ", kv.capacity, " positions");
  if (kv.k.size() != static_cast<std::size_t>(cfg_.n_layer)) fail("decode: the KV cache was made for another model");
  std::vector<float> h(static_cast<std::size_t>(T * cfg_.n_embd));
  embed(tokens, h.data());
  for (int il = 0; il < cfg_.n_layer; ++il) layer_pass(il, h.data(), T, threads, {}, nullptr, &kv);
  kv.positions += T;
  head(h.data(), T, T - 1, logits, threads);
}

}  // namespace lowbit
