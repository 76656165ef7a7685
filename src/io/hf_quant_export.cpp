// A PTQ result as a transformers checkpoint in the AWQ/GPTQ layouts
// (include/lowbit/hf_quant_export.h): packed Linears streamed layer by layer into
// model.safetensors, config.json with quantization_config, built in a temporary directory
// that is renamed into place only when every file is complete.
#include "lowbit/hf_quant_export.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "lowbit/atomic_file.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/gguf.h"
#include "lowbit/safetensors.h"

namespace lowbit {
namespace fs = std::filesystem;
namespace {

constexpr const char* kHfRoles[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                     "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

std::vector<std::byte> fp16_bytes(std::span<const float> x) {
  std::vector<std::uint16_t> h(x.size());
  fp32_to_fp16(x, h);
  const auto b = std::as_bytes(std::span<const std::uint16_t>(h));
  return {b.begin(), b.end()};
}

template <typename T>
std::vector<std::byte> raw_bytes(const std::vector<T>& v) {
  const auto b = std::as_bytes(std::span<const T>(v));
  return {b.begin(), b.end()};
}

// Rows of r (codes, grids, dequantized values) reordered: new row k is old row perm[k].
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

nlohmann::json quantization_config(const PtqOptions& opt, const HfQuantExportOptions& eo) {
  nlohmann::json q;
  const std::int64_t g = opt.group_size > 0 ? opt.group_size : -1;
  if (eo.layout == hfq::Layout::AwqGemm) {
    q = {{"quant_method", "awq"}, {"bits", opt.bits},      {"group_size", g},
         {"zero_point", true},    {"version", "gemm"},     {"modules_to_not_convert", nullptr}};
  } else {
    q = {{"quant_method", "gptq"},
         {"bits", opt.bits},
         {"group_size", g},
         {"desc_act", opt.gptq.act_order},
         {"sym", opt.sym},
         {"static_groups", opt.gptq.static_groups},
         {"true_sequential", opt.true_sequential},
         {"damp_percent", opt.gptq.percdamp},
         {"checkpoint_format", eo.layout == hfq::Layout::GptqV1 ? "gptq" : "gptq_v2"}};
  }
  q["meta"] = {{"quantizer", {std::string("lowbit:") + eo.method}}};
  return q;
}

// config.json: the source's own for a HF directory, else rebuilt from the GGUF metadata.
nlohmann::json model_config(const DecoderModel& model) {
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

// A fresh directory beside `out`, removed unless release()d.
class TempDir {
 public:
  explicit TempDir(const fs::path& out) {
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
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// Moves the finished directory over `out`: an existing output directory is set aside
// first and removed after, so `out` is always either the old checkpoint or the new one.
void install_dir(TempDir& tmp, const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out) && !fs::is_directory(out)) fail(out.string(), ": exists and is not a directory");
  fs::path old;
  if (fs::exists(out)) {
    old = out.string() + ".old-" + tmp.path().filename().string().substr(out.filename().string().size() + 5);
    fs::rename(out, old, ec);
    if (ec) fail(out.string(), ": cannot move the old checkpoint aside: ", ec.message());
  }
  fs::rename(tmp.path(), out, ec);
  if (ec) {
    if (!old.empty()) fs::rename(old, out);
    fail(out.string(), ": cannot rename ", tmp.path().string(), " into place: ", ec.message());
  }
  tmp.release();
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace

std::vector<std::int64_t> hf_rows_from_gguf_rope(std::int64_t n_head, std::int64_t head_dim) {
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n_head * head_dim));
  const std::int64_t half = head_dim / 2;
  for (std::int64_t h = 0; h < n_head; ++h)
    for (std::int64_t j = 0; j < 2; ++j)
      for (std::int64_t i = 0; i < half; ++i) perm[static_cast<std::size_t>(h * head_dim + j * half + i)] = h * head_dim + 2 * i + j;
  return perm;
}

void check_hf_layout(const DecoderModel& model, const PtqOptions& opt, hfq::Layout layout) {
  const DecoderConfig& c = model.config();
  if (c.arch != "llama" && c.arch != "mistral" && c.arch != "qwen2")
    fail(model.weights().path().string(), ": architecture '", c.arch,
         "' has no AWQ/GPTQ checkpoint writer (llama, mistral, qwen2 do)");
  if (opt.method == PtqMethod::Kmeans || opt.method == PtqMethod::Hqq || opt.method == PtqMethod::SmoothQuant ||
      opt.act_quant || !opt.ggml_types.empty())
    fail("--method ", ptq_method_name(opt.method),
         " has no AWQ/GPTQ checkpoint form (integer weight codes with integer zero points: rtn, rtn-mse, gptq, awq)");
  const std::int64_t qd = static_cast<std::int64_t>(c.n_head) * c.head_dim;
  const std::int64_t kvd = static_cast<std::int64_t>(c.n_head_kv) * c.head_dim;
  // Every Linear's (out, in): checking the distinct shapes up front.
  const std::pair<std::int64_t, std::int64_t> shapes[] = {{qd, c.n_embd}, {kvd, c.n_embd}, {c.n_embd, qd},
                                                           {c.n_ff, c.n_embd}, {c.n_embd, c.n_ff}};
  const char* what = hfq::layout_name(layout);
  if (layout == hfq::Layout::AwqGemm) {
    if (opt.bits != 4) fail("--format awq: AutoAWQ's GEMM layout holds 4-bit weights, not ", opt.bits);
    if (opt.group_size <= 0) fail("--format awq needs a group size (AutoAWQ's GEMM layout has per-group scales)");
    if (opt.gptq.act_order && !opt.gptq.static_groups)
      fail("--format awq has no g_idx for act-order groups; use --format gptq or gptq-v2");
  } else if (opt.bits != 2 && opt.bits != 3 && opt.bits != 4 && opt.bits != 8) {
    fail("--format ", what, ": the GPTQ layout holds 2, 3, 4 or 8-bit weights, not ", opt.bits);
  }
  for (const auto& [out, in] : shapes) {
    if (layout == hfq::Layout::AwqGemm) {
      if (out % 8) fail("--format awq: a Linear with ", out, " outputs does not fill AWQ's 8-output words");
      if (in % opt.group_size)
        fail("--format awq: a Linear with ", in, " inputs is not whole groups of ", opt.group_size,
             " (AutoAWQ needs in_features % group_size == 0; pick a group size dividing ", c.n_embd, " and ", c.n_ff, ")");
    } else if ((in * opt.bits) % 32 || (out * opt.bits) % 32) {
      fail("--format ", what, ": a ", out, " x ", in, " Linear at ", opt.bits, " bits does not fill whole int32 words");
    }
  }
}

void round_decoder_to_hf_checkpoint(DecoderModel& model, const PtqResult& r) {
  auto round16 = [](std::vector<float>& v) {
    for (float& x : v) x = fp16_to_fp32(fp32_to_fp16(x));
  };
  for (int il = 0; il < model.config().n_layer; ++il) {
    DecoderLayer& L = model.layer(il);
    round16(L.attn_norm);
    round16(L.ffn_norm);
    for (Linear* lin : L.linears()) {
      std::vector<float> bias(lin->bias().begin(), lin->bias().end());
      lin->set_weight_f32(hfq::dequantize_packed_reference(r.weights.at(lin->name())));
      if (!bias.empty()) {
        round16(bias);
        lin->set_bias(std::move(bias));
      }
    }
  }
  round16(model.output_norm());
  Linear& head = model.output();
  std::vector<float> w(head.weight_f32().begin(), head.weight_f32().end());
  round16(w);
  head.set_weight_f32(std::move(w));
  round16(model.token_embd_untied());
}

HfQuantExportReport write_hf_quantized(const DecoderModel& model, const PtqResult& r, const PtqOptions& opt,
                                       const HfQuantExportOptions& eo, const fs::path& out_dir) {
  check_hf_layout(model, opt, eo.layout);
  const DecoderConfig& c = model.config();
  const bool unpermute = model.weights().gguf() && c.rope.style == RopeStyle::Adjacent;
  const auto perm_q = hf_rows_from_gguf_rope(c.n_head, c.head_dim);
  const auto perm_k = hf_rows_from_gguf_rope(c.n_head_kv, c.head_dim);
  const std::int64_t d = c.n_embd;

  nlohmann::json cfg = model_config(model);
  cfg["torch_dtype"] = "float16";
  cfg["quantization_config"] = quantization_config(opt, eo);

  // Declarations first (the writer streams in declared order), then the data.
  std::vector<TensorDecl> decls;
  auto declare = [&](std::string name, DType t, std::vector<std::int64_t> shape) {
    decls.push_back({std::move(name), t, std::move(shape)});
  };
  const bool awq = eo.layout == hfq::Layout::AwqGemm;
  declare("model.embed_tokens.weight", DType::F16, {c.n_vocab, d});
  for (int il = 0; il < c.n_layer; ++il) {
    const std::string pre = "model.layers." + std::to_string(il) + ".";
    declare(pre + "input_layernorm.weight", DType::F16, {d});
    declare(pre + "post_attention_layernorm.weight", DType::F16, {d});
    const auto lins = model.layer(il).linears();
    for (std::size_t k = 0; k < lins.size(); ++k) {
      const Linear& lin = *lins[k];
      const auto it = r.weights.find(lin.name());
      if (it == r.weights.end() || it->second.codes.empty())
        fail("tensor '", lin.name(), "' has no quantized codes in the PTQ result");
      const GptqResult& q = it->second;
      const std::string base = pre + kHfRoles[k] + ".";
      const std::int64_t in = q.cols, out = q.rows, b = opt.bits;
      declare(base + "qweight", DType::I32, awq ? std::vector<std::int64_t>{in, out * b / 32} : std::vector<std::int64_t>{in * b / 32, out});
      declare(base + "qzeros", DType::I32, {q.groups, out * b / 32});
      declare(base + "scales", DType::F16, {q.groups, out});
      if (!awq) declare(base + "g_idx", DType::I32, {in});
      if (!lin.bias().empty()) declare(base + "bias", DType::F16, {out});
    }
  }
  declare("model.norm.weight", DType::F16, {d});
  if (!model.tied()) declare("lm_head.weight", DType::F16, {c.n_vocab, d});

  TempDir tmp(out_dir);
  HfQuantExportReport rep;
  {
    SafetensorsWriter w(tmp.path() / "model.safetensors", decls, {{"format", "pt"}});
    w.write("model.embed_tokens.weight",
            fp16_bytes(model.tied() ? model.output().weight_f32() : std::span<const float>(model.token_embd_untied())));
    for (int il = 0; il < c.n_layer; ++il) {
      const std::string pre = "model.layers." + std::to_string(il) + ".";
      const DecoderLayer& L = model.layer(il);
      w.write(pre + "input_layernorm.weight", fp16_bytes(L.attn_norm));
      w.write(pre + "post_attention_layernorm.weight", fp16_bytes(L.ffn_norm));
      const auto lins = L.linears();
      for (std::size_t k = 0; k < lins.size(); ++k) {
        const Linear& lin = *lins[k];
        const std::vector<std::int64_t>* perm = !unpermute ? nullptr : k == 0 ? &perm_q : k == 1 ? &perm_k : nullptr;
        const GptqResult q = perm ? permute_rows(r.weights.at(lin.name()), *perm) : r.weights.at(lin.name());
        const std::string base = pre + kHfRoles[k] + ".";
        const hfq::PackedLinear p = hfq::pack_linear(q, opt.bits, opt.group_size, eo.layout, lin.name());
        rep.v1_wrapped_zeros += p.v1_wrapped_zeros;
        rep.quantized_params += static_cast<std::uint64_t>(q.rows * q.cols);
        w.write(base + "qweight", raw_bytes(p.qweight));
        w.write(base + "qzeros", raw_bytes(p.qzeros));
        w.write(base + "scales", raw_bytes(p.scales));
        if (!awq) w.write(base + "g_idx", raw_bytes(p.g_idx));
        if (!lin.bias().empty())
          w.write(base + "bias", fp16_bytes(perm ? permute_vector(lin.bias(), *perm) : std::vector<float>(lin.bias().begin(), lin.bias().end())));
      }
    }
    w.write("model.norm.weight", fp16_bytes(model.output_norm()));
    if (!model.tied()) w.write("lm_head.weight", fp16_bytes(model.output().weight_f32()));
    w.commit();
    rep.bytes = fs::file_size(tmp.path() / "model.safetensors");
  }
  write_file_atomic(tmp.path() / "config.json", cfg.dump(2) + "\n");
  if (!model.weights().gguf()) {
    const fs::path src = fs::is_directory(model.weights().path()) ? model.weights().path() : model.weights().path().parent_path();
    for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                             "generation_config.json", "vocab.json", "merges.txt"})
      if (fs::exists(src / name)) {
        fs::copy_file(src / name, tmp.path() / name);
        rep.copied_files.push_back(name);
      }
  }
  install_dir(tmp, out_dir);
  return rep;
}

}  // namespace lowbit
