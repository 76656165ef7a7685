// BertEncoder (include/lowbit/bert.h): HF BertModel's forward pass in fp32, read top to
// bottom in forward(): embeddings -> N x [self-attention, add & LayerNorm, GELU MLP,
// add & LayerNorm]. Rounding follows transformers' eager path (scores = q.k / sqrt(d)
// plus finfo(float).min on padding keys, erf GELU) so the peer test can ask for 1e-4.
#include "lowbit/bert.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/parallel.h"
#include "model/nn_ops.h"

namespace lowbit {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f) fail(p.string(), ": cannot open");
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    fail(p.string(), ": not valid JSON (", e.what(), ")");
  }
}

int get_int(const json& j, const fs::path& p, const char* key, int fallback = -1) {
  if (!j.contains(key)) {
    if (fallback >= 0) return fallback;
    fail(p.string(), ": missing \"", key, "\"");
  }
  if (!j[key].is_number_integer() || j[key].get<long long>() <= 0 || j[key].get<long long>() > (1 << 24))
    fail(p.string(), ": \"", key, "\" must be a positive integer, got ", j[key].dump());
  return j[key].get<int>();
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// sentence-transformers' modules.json: Transformer -> Pooling (mean) [-> Normalize].
void read_pipeline(const fs::path& dir, BertConfig& c) {
  const fs::path modules = dir / "modules.json";
  if (!fs::exists(modules)) return;
  const json m = read_json(modules);
  if (!m.is_array()) fail(modules.string(), ": expected a list of modules");
  for (const auto& mod : m) {
    const std::string type = mod.value("type", "");
    const std::string sub = mod.value("path", "");
    if (ends_with(type, ".Transformer")) continue;
    if (ends_with(type, ".Normalize")) {
      c.normalize = true;
    } else if (ends_with(type, ".Pooling")) {
      const fs::path pc = dir / sub / "config.json";
      if (!fs::exists(pc)) continue;  // sentence-transformers' default is mean pooling
      const json p = read_json(pc);
      for (const auto& [key, value] : p.items())
        if (key.rfind("pooling_mode_", 0) == 0 && value.is_boolean() && value.get<bool>() &&
            key != "pooling_mode_mean_tokens")
          fail(pc.string(), ": \"", key, "\" pooling is not supported (lowbit pools by mean over tokens)");
      if (!p.value("pooling_mode_mean_tokens", true))
        fail(pc.string(), ": pooling_mode_mean_tokens is false; lowbit pools by mean over tokens");
    } else {
      fail(modules.string(), ": module type \"", type, "\" is not supported (Transformer, Pooling, Normalize are)");
    }
  }
}

void check_shape(const ModelWeights& w, const std::string& name, std::vector<std::int64_t> want) {
  const auto s = w.shape(name);
  if (s != want) {
    std::string got, exp;
    for (auto d : s) got += (got.empty() ? "" : ", ") + std::to_string(d);
    for (auto d : want) exp += (exp.empty() ? "" : ", ") + std::to_string(d);
    fail(w.path().string(), ": tensor \"", name, "\" has shape [", got, "], config.json implies [", exp, "]");
  }
}

std::vector<float> vec(const ModelWeights& w, const std::string& name, std::int64_t n) {
  check_shape(w, name, {n});
  return w.f32(name);
}

Linear linear(const ModelWeights& w, const std::string& prefix, std::int64_t out, std::int64_t in) {
  check_shape(w, prefix + ".weight", {out, in});
  Linear l = w.linear(prefix + ".weight");
  if (w.has(prefix + ".bias")) l.set_bias(vec(w, prefix + ".bias", out));
  return l;
}

}  // namespace

BertConfig bert_config_from_hf(const fs::path& config_json) {
  const json j = read_json(config_json);
  if (j.contains("model_type") && j["model_type"] != "bert")
    fail(config_json.string(), ": model_type ", j["model_type"].dump(), " is not \"bert\"");
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute")
    fail(config_json.string(), ": position_embedding_type ", j["position_embedding_type"].dump(),
         " is not supported (only \"absolute\")");
  BertConfig c;
  c.vocab_size = get_int(j, config_json, "vocab_size");
  c.hidden_size = get_int(j, config_json, "hidden_size");
  c.num_layers = get_int(j, config_json, "num_hidden_layers");
  c.num_heads = get_int(j, config_json, "num_attention_heads");
  c.intermediate_size = get_int(j, config_json, "intermediate_size");
  c.max_positions = get_int(j, config_json, "max_position_embeddings");
  c.type_vocab_size = get_int(j, config_json, "type_vocab_size", 2);
  if (c.hidden_size % c.num_heads != 0)
    fail(config_json.string(), ": hidden_size ", c.hidden_size, " is not a multiple of num_attention_heads ",
         c.num_heads);
  if (j.contains("layer_norm_eps")) {
    if (!j["layer_norm_eps"].is_number()) fail(config_json.string(), ": layer_norm_eps must be a number");
    c.layer_norm_eps = j["layer_norm_eps"].get<float>();
  }
  c.hidden_act = j.value("hidden_act", "gelu");
  if (c.hidden_act != "gelu" && c.hidden_act != "gelu_new" && c.hidden_act != "gelu_pytorch_tanh")
    fail(config_json.string(), ": hidden_act \"", c.hidden_act, "\" is not supported (gelu, gelu_new)");
  read_pipeline(config_json.parent_path(), c);
  return c;
}

BertEncoder BertEncoder::load(const fs::path& path) {
  const fs::path config = fs::is_directory(path) ? path / "config.json" : path.parent_path() / "config.json";
  return load(path, config);
}

BertEncoder BertEncoder::load(const fs::path& weights, const fs::path& config_json) {
  BertEncoder e;
  e.cfg_ = bert_config_from_hf(config_json);
  e.weights_ = ModelWeights::open(weights);
  const BertConfig& c = e.cfg_;
  const ModelWeights& w = e.weights_;
  // BertForMaskedLM and friends keep the encoder under "bert."; BertModel does not.
  const std::string p = w.has("bert.embeddings.word_embeddings.weight") ? "bert." : "";
  if (!w.has(p + "embeddings.word_embeddings.weight"))
    fail(weights.string(), ": no tensor \"embeddings.word_embeddings.weight\" (is this a BERT checkpoint?)");
  const std::int64_t H = c.hidden_size, I = c.intermediate_size;
  check_shape(w, p + "embeddings.word_embeddings.weight", {c.vocab_size, H});
  check_shape(w, p + "embeddings.position_embeddings.weight", {c.max_positions, H});
  check_shape(w, p + "embeddings.token_type_embeddings.weight", {c.type_vocab_size, H});
  e.word_emb_ = w.f32(p + "embeddings.word_embeddings.weight");
  e.pos_emb_ = w.f32(p + "embeddings.position_embeddings.weight");
  e.type_emb_ = w.f32(p + "embeddings.token_type_embeddings.weight");
  e.emb_ln_w_ = vec(w, p + "embeddings.LayerNorm.weight", H);
  e.emb_ln_b_ = vec(w, p + "embeddings.LayerNorm.bias", H);
  for (int il = 0; il < c.num_layers; ++il) {
    const std::string l = p + "encoder.layer." + std::to_string(il) + ".";
    BertLayer L;
    L.query = linear(w, l + "attention.self.query", H, H);
    L.key = linear(w, l + "attention.self.key", H, H);
    L.value = linear(w, l + "attention.self.value", H, H);
    L.attn_out = linear(w, l + "attention.output.dense", H, H);
    L.attn_ln_w = vec(w, l + "attention.output.LayerNorm.weight", H);
    L.attn_ln_b = vec(w, l + "attention.output.LayerNorm.bias", H);
    L.intermediate = linear(w, l + "intermediate.dense", I, H);
    L.output = linear(w, l + "output.dense", H, I);
    L.out_ln_w = vec(w, l + "output.LayerNorm.weight", H);
    L.out_ln_b = vec(w, l + "output.LayerNorm.bias", H);
    e.layers_.push_back(std::move(L));
  }
  return e;
}

namespace {

// Per (sequence, head): out_i = sum_j softmax_j(q_i.k_j / sqrt(d) + mask_j) v_j over all
// T keys; a padding key's mask is finfo(float).min, exactly transformers' additive mask
// (so its weight underflows to 0, and an all-padding row attends uniformly, as there).
void self_attention(const float* q, const float* k, const float* v, const std::int32_t* mask, float* out,
                    std::int64_t batch, std::int64_t T, int heads, int head_dim, int threads) {
  const std::int64_t H = static_cast<std::int64_t>(heads) * head_dim;
  const float scale_div = std::sqrt(static_cast<float>(head_dim));
  const float masked = std::numeric_limits<float>::lowest();
  parallel_for(static_cast<std::size_t>(batch * heads), threads, 1, [&](std::size_t begin, std::size_t end) {
    std::vector<float> p(static_cast<std::size_t>(T));
    for (std::size_t item = begin; item < end; ++item) {
      const std::int64_t b = static_cast<std::int64_t>(item) / heads;
      const std::int64_t off = (static_cast<std::int64_t>(item) % heads) * head_dim;
      const std::int64_t base = b * T;
      for (std::int64_t i = 0; i < T; ++i) {
        const float* qi = q + (base + i) * H + off;
        for (std::int64_t j = 0; j < T; ++j) {
          const float* kj = k + (base + j) * H + off;
          float s = 0.0f;
          for (int d = 0; d < head_dim; ++d) s += qi[d] * kj[d];
          s /= scale_div;
          if (mask[base + j] == 0) s += masked;
          p[static_cast<std::size_t>(j)] = s;
        }
        nn::softmax_row(p.data(), T);
        float* o = out + (base + i) * H + off;
        for (int d = 0; d < head_dim; ++d) o[d] = 0.0f;
        for (std::int64_t j = 0; j < T; ++j) {
          const float pj = p[static_cast<std::size_t>(j)];
          const float* vj = v + (base + j) * H + off;
          for (int d = 0; d < head_dim; ++d) o[d] += pj * vj[d];
        }
      }
    }
  });
}

// h = LayerNorm(h + delta) row by row.
void add_layer_norm(float* h, const float* delta, std::int64_t rows, std::int64_t cols, const std::vector<float>& w,
                    const std::vector<float>& b, float eps, int threads) {
  parallel_for(static_cast<std::size_t>(rows), threads, 16, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      float* row = h + static_cast<std::int64_t>(r) * cols;
      const float* d = delta + static_cast<std::int64_t>(r) * cols;
      for (std::int64_t j = 0; j < cols; ++j) row[j] = d[j] + row[j];
      nn::layer_norm(row, 1, cols, w, b, eps);
    }
  });
}

}  // namespace

std::vector<float> BertEncoder::embed(std::span<const std::int32_t> ids, std::int64_t batch,
                                      std::span<const std::int32_t> token_types) const {
  const BertConfig& c = cfg_;
  if (batch <= 0 || ids.empty() || ids.size() % static_cast<std::size_t>(batch) != 0)
    fail("BertEncoder: ", ids.size(), " ids do not form ", batch, " equal-length sequences");
  if (!token_types.empty() && token_types.size() != ids.size())
    fail("BertEncoder: token_types has ", token_types.size(), " entries for ", ids.size(), " ids");
  const std::int64_t T = static_cast<std::int64_t>(ids.size()) / batch;
  if (T > c.max_positions)
    fail("BertEncoder: sequences of ", T, " tokens exceed max_position_embeddings ", c.max_positions);
  const std::int64_t H = c.hidden_size, N = batch * T;

  // Embeddings: (word + token type) + position, then LayerNorm (transformers' order).
  std::vector<float> h(static_cast<std::size_t>(N * H));
  for (std::int64_t r = 0; r < N; ++r) {
    const std::int32_t id = ids[static_cast<std::size_t>(r)];
    const std::int32_t tt = token_types.empty() ? 0 : token_types[static_cast<std::size_t>(r)];
    if (id < 0 || id >= c.vocab_size) fail("BertEncoder: token id ", id, " at ", r, " is outside the vocabulary of ", c.vocab_size);
    if (tt < 0 || tt >= c.type_vocab_size) fail("BertEncoder: token type ", tt, " at ", r, " is outside [0, ", c.type_vocab_size, ")");
    const float* we = word_emb_.data() + static_cast<std::int64_t>(id) * H;
    const float* te = type_emb_.data() + static_cast<std::int64_t>(tt) * H;
    const float* pe = pos_emb_.data() + (r % T) * H;
    float* o = h.data() + r * H;
    for (std::int64_t j = 0; j < H; ++j) o[j] = (we[j] + te[j]) + pe[j];
  }
  nn::layer_norm(h.data(), N, H, emb_ln_w_, emb_ln_b_, c.layer_norm_eps);
  return h;
}

void BertEncoder::run_layer(int il, std::span<float> hs, std::span<const std::int32_t> attention_mask,
                            std::int64_t batch, int threads, const LinearInputObserver& observe) const {
  const BertConfig& c = cfg_;
  const BertLayer& L = layer(il);
  const std::int64_t H = c.hidden_size, I = c.intermediate_size;
  if (batch <= 0 || hs.size() % static_cast<std::size_t>(H * batch) != 0 || attention_mask.size() * H != hs.size())
    fail("BertEncoder::run_layer: ", hs.size(), " hidden values and ", attention_mask.size(),
         " mask entries do not form ", batch, " sequences of width ", H);
  const std::int64_t N = static_cast<std::int64_t>(attention_mask.size()), T = N / batch;
  float* h = hs.data();
  auto run = [&](const Linear& lin, const float* x, float* y) {
    if (observe) observe(il, lin, x, N);
    lin.forward(x, N, y, threads);
  };
  const int heads = c.num_heads, head_dim = c.hidden_size / c.num_heads;
  const bool erf_gelu = c.hidden_act == "gelu";
  std::vector<float> q(hs.size()), k(hs.size()), v(hs.size()), ctx(hs.size()), proj(hs.size());
  std::vector<float> mid(static_cast<std::size_t>(N * I));
  run(L.query, h, q.data());
  run(L.key, h, k.data());
  run(L.value, h, v.data());
  self_attention(q.data(), k.data(), v.data(), attention_mask.data(), ctx.data(), batch, T, heads, head_dim, threads);
  run(L.attn_out, ctx.data(), proj.data());
  add_layer_norm(h, proj.data(), N, H, L.attn_ln_w, L.attn_ln_b, c.layer_norm_eps, threads);

  run(L.intermediate, h, mid.data());
  parallel_for(mid.size(), threads, 4096, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) mid[i] = erf_gelu ? nn::gelu_erf(mid[i]) : nn::gelu_tanh(mid[i]);
  });
  run(L.output, mid.data(), proj.data());
  add_layer_norm(h, proj.data(), N, H, L.out_ln_w, L.out_ln_b, c.layer_norm_eps, threads);
}

std::vector<float> BertEncoder::forward(std::span<const std::int32_t> ids, std::span<const std::int32_t> attention_mask,
                                        std::int64_t batch, int threads,
                                        std::span<const std::int32_t> token_types) const {
  if (attention_mask.size() != ids.size())
    fail("BertEncoder::forward: attention_mask has ", attention_mask.size(), " entries for ", ids.size(), " ids");
  std::vector<float> h = embed(ids, batch, token_types);
  for (int il = 0; il < cfg_.num_layers; ++il) run_layer(il, h, attention_mask, batch, threads);
  return h;
}

std::vector<float> BertEncoder::forward(std::span<const std::int32_t> ids, int threads) const {
  const std::vector<std::int32_t> mask(ids.size(), 1);
  return forward(ids, mask, 1, threads);
}

std::vector<float> BertEncoder::mean_pooled(std::span<const std::int32_t> ids, int threads) const {
  return mean_pool(forward(ids, threads), {}, cfg_.hidden_size);
}

std::vector<float> BertEncoder::sentence_embedding(std::span<const std::int32_t> ids, int threads) const {
  std::vector<float> e = mean_pooled(ids, threads);
  if (cfg_.normalize) l2_normalize(e);
  return e;
}

std::vector<float> mean_pool(std::span<const float> hidden, std::span<const std::int32_t> mask, std::int64_t hidden_size) {
  if (hidden_size <= 0 || hidden.size() % static_cast<std::size_t>(hidden_size) != 0)
    fail("mean_pool: ", hidden.size(), " values are not rows of ", hidden_size);
  const auto H = static_cast<std::size_t>(hidden_size);
  const std::size_t T = hidden.size() / H;
  if (!mask.empty() && mask.size() != T) fail("mean_pool: mask of ", mask.size(), " entries for ", T, " rows");
  std::vector<double> sum(H, 0.0);
  double count = 0.0;
  for (std::size_t t = 0; t < T; ++t) {
    if (!mask.empty() && mask[t] == 0) continue;
    count += 1.0;
    for (std::size_t j = 0; j < H; ++j) sum[j] += hidden[t * H + j];
  }
  // sentence-transformers clamps the token count at 1e-9 (an all-padding row gives 0s).
  const double denom = std::max(count, 1e-9);
  std::vector<float> out(H);
  for (std::size_t j = 0; j < H; ++j) out[j] = static_cast<float>(sum[j] / denom);
  return out;
}

void l2_normalize(std::span<float> x) {
  double sq = 0.0;
  for (float v : x) sq += static_cast<double>(v) * v;
  const double norm = std::max(std::sqrt(sq), 1e-12);
  for (float& v : x) v = static_cast<float>(v / norm);
}

}  // namespace lowbit
