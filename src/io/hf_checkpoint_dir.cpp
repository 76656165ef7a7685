// See hf_checkpoint_dir.h.
#include "io/hf_checkpoint_dir.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>

#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/hf_quant_export.h"

namespace lowbit {
namespace fs = std::filesystem;

std::vector<std::int64_t> hf_rows_from_gguf_rope(std::int64_t n_head, std::int64_t head_dim) {
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n_head * head_dim));
  const std::int64_t half = head_dim / 2;
  for (std::int64_t h = 0; h < n_head; ++h)
    for (std::int64_t j = 0; j < 2; ++j)
      for (std::int64_t i = 0; i < half; ++i) perm[static_cast<std::size_t>(h * head_dim + j * half + i)] = h * head_dim + 2 * i + j;
  return perm;
}

namespace hfdir {
namespace {

// A float as the shortest decimal that reads back as the same float (1e-05, not
// 9.999999747378752e-06), as Python's json prints the float32 a config came from.
double shortest(float x) {
  for (int digits = 6; digits < 9; ++digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(x));
    if (std::strtof(buf, nullptr) == x) return std::strtod(buf, nullptr);
  }
  return x;
}

}  // namespace

GptqResult permute_rows(const GptqResult& r, const std::vector<std::int64_t>& perm) {
  GptqResult p = r;
  auto move_rows = [&](const auto& src, auto& dst, std::int64_t width) {
    if (src.empty()) return;
    for (std::size_t k = 0; k < perm.size(); ++k)
      std::copy_n(src.begin() + perm[k] * width, width, dst.begin() + static_cast<std::int64_t>(k) * width);
  };
  move_rows(r.codes, p.codes, r.cols);
  move_rows(r.dequantized, p.dequantized, r.cols);
  move_rows(r.scales, p.scales, r.groups);
  move_rows(r.zeros, p.zeros, r.groups);
  return p;
}

std::vector<float> permute_vector(std::span<const float> v, const std::vector<std::int64_t>& perm) {
  std::vector<float> out(v.size());
  for (std::size_t k = 0; k < perm.size(); ++k) out[k] = v[static_cast<std::size_t>(perm[k])];
  return out;
}


std::vector<std::int64_t> hf_row_order(const DecoderModel& model, std::size_t k) {
  const DecoderConfig& c = model.config();
  if (!model.weights().gguf() || c.rope.style != RopeStyle::Adjacent || k > 1) return {};
  return hf_rows_from_gguf_rope(k == 0 ? c.n_head : c.n_head_kv, c.head_dim);
}

nlohmann::json hf_model_config(const DecoderModel& model) {
  const DecoderConfig& c = model.config();
  const ModelWeights& w = model.weights();
  if (!w.gguf()) {
    const fs::path dir = fs::is_directory(w.path()) ? w.path() : w.path().parent_path();
    std::ifstream in(dir / "config.json");
    if (!in) fail((dir / "config.json").string(), ": cannot open");
    return nlohmann::json::parse(in);
  }
  const GgufFile& f = *w.gguf();
  if (!c.rope.freq_factors.empty())
    fail(f.source(), ": rope_freqs.weight (llama 3.1 style rope) has no config.json form lowbit can rebuild");
  static const std::map<std::string, std::string> kArch = {
      {"llama", "LlamaForCausalLM"}, {"mistral", "MistralForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}};
  nlohmann::json j;
  j["architectures"] = {kArch.at(c.arch)};
  j["model_type"] = c.arch;
  j["hidden_size"] = c.n_embd;
  j["intermediate_size"] = c.n_ff;
  j["num_hidden_layers"] = c.n_layer;
  j["num_attention_heads"] = c.n_head;
  j["num_key_value_heads"] = c.n_head_kv;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.n_vocab;
  j["rms_norm_eps"] = shortest(c.norm_eps);
  j["rope_theta"] = shortest(c.rope.base);
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.context_length > 0 ? c.context_length : 2048;
  j["tie_word_embeddings"] = model.tied();
  const bool qkv_bias = !model.layer(0).wq.bias().empty();
  if (c.arch != "qwen2") {
    j["attention_bias"] = qkv_bias;
    j["mlp_bias"] = !model.layer(0).w_up.bias().empty();
  }
  if (c.rope.scaling == "linear") j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", shortest(c.rope.factor)}};
  for (const char* key : {"bos_token_id", "eos_token_id"})
    if (f.find_kv(std::string("tokenizer.ggml.") + key)) j[key] = f.get_int(std::string("tokenizer.ggml.") + key);
  return j;
}


std::vector<std::string> copy_tokenizer_files(const DecoderModel& model, const fs::path& dir) {
  std::vector<std::string> copied;
  if (model.weights().gguf()) return copied;
  const fs::path src = fs::is_directory(model.weights().path()) ? model.weights().path() : model.weights().path().parent_path();
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                           "generation_config.json", "vocab.json", "merges.txt"})
    if (fs::exists(src / name)) {
      fs::copy_file(src / name, dir / name);
      copied.push_back(name);
    }
  return copied;
}

TempDir::TempDir(const fs::path& out) {
  std::random_device rd;
  for (int attempt = 0;; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rd()));
    path_ = out.string() + ".tmp-" + suffix;
    std::error_code ec;
    if (fs::create_directory(path_, ec)) break;
    if (ec || attempt > 100) fail(out.string(), ": cannot create temporary directory ", path_.string());
  }
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
}

void TempDir::install(const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out) && !fs::is_directory(out)) fail(out.string(), ": exists and is not a directory");
  fs::path old;
  if (fs::exists(out)) {
    old = out.string() + ".old-" + path_.filename().string().substr(out.filename().string().size() + 5);
    fs::rename(out, old, ec);
    if (ec) fail(out.string(), ": cannot move the old checkpoint aside: ", ec.message());
  }
  fs::rename(path_, out, ec);
  if (ec) {
    if (!old.empty()) fs::rename(old, out);
    fail(out.string(), ": cannot rename ", path_.string(), " into place: ", ec.message());
  }
  path_.clear();
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace hfdir
}  // namespace lowbit
