// Decoder hyper-parameters from the two places they live: GGUF metadata ("{arch}.*" keys,
// named as llama.cpp reads them) and HF config.json (names as transformers reads them,
// with its defaults where a key is absent). Unknown architectures are refused by name.
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "lowbit/decoder.h"
#include "lowbit/error.h"
#include "lowbit/gguf.h"

namespace lowbit {
namespace {

std::int64_t opt_int(const GgufFile& f, const std::string& key, std::int64_t def) {
  return f.find_kv(key) ? f.get_int(key) : def;
}
double opt_float(const GgufFile& f, const std::string& key, double def) {
  return f.find_kv(key) ? f.get_float(key) : def;
}

}  // namespace

DecoderConfig decoder_config_from_gguf(const GgufFile& f) {
  DecoderConfig c;
  c.arch = f.get_string("general.architecture");
  const std::string a = c.arch + ".";
  // llama.cpp rotates adjacent pairs for "llama" (its converter permutes q/k rows to
  // match) and halves for qwen2 and gemma3 (LLAMA_ROPE_TYPE_NEOX).
  if (c.arch == "llama" || c.arch == "mistral") {
    c.rope.style = RopeStyle::Adjacent;
  } else if (c.arch == "qwen2") {
    c.rope.style = RopeStyle::Halves;
  } else if (c.arch == "gemma3") {
    c.rope.style = RopeStyle::Halves;
    c.gemma = true;
  } else {
    fail(f.source(), ": general.architecture \"", c.arch, "\" is not supported (llama, mistral, qwen2, gemma3 are)");
  }
  c.n_layer = static_cast<int>(f.get_int(a + "block_count"));
  c.n_embd = static_cast<int>(f.get_int(a + "embedding_length"));
  c.n_ff = static_cast<int>(f.get_int(a + "feed_forward_length"));
  c.n_head = static_cast<int>(f.get_int(a + "attention.head_count"));
  c.n_head_kv = static_cast<int>(opt_int(f, a + "attention.head_count_kv", c.n_head));
  if (c.n_head <= 0 || c.n_head_kv <= 0 || c.n_head % c.n_head_kv)
    fail(f.source(), ": ", c.n_head, " attention heads cannot share ", c.n_head_kv, " key/value heads");
  c.head_dim = static_cast<int>(opt_int(f, a + "attention.key_length", c.n_embd / c.n_head));
  if (opt_int(f, a + "attention.value_length", c.head_dim) != c.head_dim)
    fail(f.source(), ": key and value head sizes differ, which lowbit's runtime does not support");
  c.norm_eps = static_cast<float>(f.get_float(a + "attention.layer_norm_rms_epsilon"));
  c.context_length = static_cast<int>(opt_int(f, a + "context_length", 0));
  c.n_vocab = static_cast<int>(f.find_kv(a + "vocab_size") ? f.get_int(a + "vocab_size")
                                                            : static_cast<std::int64_t>(f.get_string_array("tokenizer.ggml.tokens").size()));
  c.rope.n_rot = static_cast<int>(opt_int(f, a + "rope.dimension_count", c.head_dim));
  c.rope.base = static_cast<float>(opt_float(f, a + "rope.freq_base", 10000.0));
  c.rope.base_swa = static_cast<float>(opt_float(f, a + "rope.freq_base_swa", 10000.0));
  c.rope.ggml_math = true;
  const std::string scaling = f.find_kv(a + "rope.scaling.type") ? f.get_string(a + "rope.scaling.type") : "none";
  if (scaling == "linear") {
    c.rope.scaling = "linear";
    c.rope.factor = static_cast<float>(f.get_float(a + "rope.scaling.factor"));
  } else if (scaling != "none") {
    fail(f.source(), ": rope scaling \"", scaling, "\" is not supported for GGUF models (none, linear are)");
  }
  c.ggml_numerics = true;
  if (c.gemma) {
    c.sliding_window = static_cast<int>(opt_int(f, a + "attention.sliding_window", 0));
    c.swa_layers.assign(static_cast<std::size_t>(c.n_layer), false);
    // llama.cpp's default Gemma 3 pattern: five sliding-window layers, then one global.
    if (c.sliding_window > 0)
      for (int il = 0; il < c.n_layer; ++il) c.swa_layers[static_cast<std::size_t>(il)] = il % 6 < 5;
    c.final_logit_softcap = static_cast<float>(opt_float(f, a + "final_logit_softcapping", 0.0));
    // gemma3.cpp: 1/sqrt(head_dim) (the 27B's n_embd/n_head rule is not handled).
    c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  }
  return c;
}

DecoderConfig decoder_config_from_hf(const std::filesystem::path& config_json) {
  std::ifstream in(config_json);
  if (!in) fail(config_json.string(), ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    fail(config_json.string(), ": not valid JSON: ", e.what());
  }
  const std::string src = config_json.string();
  auto need = [&](const char* key) -> const nlohmann::json& {
    if (!j.contains(key) || j[key].is_null()) fail(src, ": missing \"", key, "\"");
    return j[key];
  };
  DecoderConfig c;
  c.arch = j.value("model_type", std::string());
  if (c.arch != "llama" && c.arch != "mistral" && c.arch != "qwen2")
    fail(src, ": model_type \"", c.arch, "\" is not supported (llama, mistral, qwen2 are)");
  c.n_layer = need("num_hidden_layers").get<int>();
  c.n_embd = need("hidden_size").get<int>();
  c.n_ff = need("intermediate_size").get<int>();
  c.n_head = need("num_attention_heads").get<int>();
  c.n_head_kv = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                    ? j["num_key_value_heads"].get<int>()
                    : c.n_head;
  if (c.n_head <= 0 || c.n_head_kv <= 0 || c.n_head % c.n_head_kv)
    fail(src, ": ", c.n_head, " attention heads cannot share ", c.n_head_kv, " key/value heads");
  c.head_dim = j.contains("head_dim") && !j["head_dim"].is_null() ? j["head_dim"].get<int>() : c.n_embd / c.n_head;
  c.n_vocab = need("vocab_size").get<int>();
  c.norm_eps = j.value("rms_norm_eps", 1e-6f);
  c.context_length = j.value("max_position_embeddings", 0);
  const auto act = j.value("hidden_act", std::string("silu"));
  if (act != "silu") fail(src, ": hidden_act \"", act, "\" is not supported (silu is)");
  c.rope.style = RopeStyle::Halves;
  c.rope.base = j.value("rope_theta", 10000.0f);
  c.rope.n_rot = static_cast<int>(std::lround(c.head_dim * j.value("partial_rotary_factor", 1.0)));
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const auto& r = j["rope_scaling"];
    c.rope.scaling = r.value("rope_type", r.value("type", std::string("default")));
    c.rope.factor = r.value("factor", 1.0f);
    c.rope.low_freq_factor = r.value("low_freq_factor", 1.0f);
    c.rope.high_freq_factor = r.value("high_freq_factor", 4.0f);
    c.rope.beta_fast = r.value("beta_fast", 32.0f);
    c.rope.beta_slow = r.value("beta_slow", 1.0f);
    c.rope.original_max_positions = r.value("original_max_position_embeddings", c.context_length);
    if (c.rope.scaling == "yarn") {
      // transformers' _compute_yarn_parameters: attention_factor defaults to 0.1 ln(s) + 1.
      c.rope.attention_factor = r.contains("attention_factor") && !r["attention_factor"].is_null()
                                    ? r["attention_factor"].get<float>()
                                    : static_cast<float>(0.1 * std::log(c.rope.factor) + 1.0);
    }
    const auto& s = c.rope.scaling;
    if (s != "default" && s != "linear" && s != "llama3" && s != "yarn" && s != "dynamic")
      fail(src, ": rope_scaling type \"", s, "\" is not supported (linear, llama3, yarn, dynamic are)");
  }
  if (c.arch == "mistral" && j.contains("sliding_window") && !j["sliding_window"].is_null()) {
    c.sliding_window = j["sliding_window"].get<int>();
    c.swa_layers.assign(static_cast<std::size_t>(c.n_layer), c.sliding_window > 0);
  }
  return c;
}

}  // namespace lowbit
