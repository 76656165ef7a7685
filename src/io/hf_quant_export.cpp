// A PTQ result as a transformers checkpoint in the AWQ/GPTQ layouts
// (include/lowbit/hf_quant_export.h): packed Linears streamed layer by layer into
// model.safetensors, config.json with quantization_config, built in a temporary directory
// that is renamed into place only when every file is complete.
#include "lowbit/hf_quant_export.h"

#include <nlohmann/json.hpp>

#include "io/hf_checkpoint_dir.h"
#include "lowbit/atomic_file.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/safetensors.h"

namespace lowbit {
namespace fs = std::filesystem;
namespace {

std::vector<std::byte> fp16_bytes(std::span<const float> x) {
  std::vector<std::uint16_t> h(x.size());
  fp32_to_fp16(x, h);
  const auto b = std::as_bytes(std::span<const std::uint16_t>(h));
  return {b.begin(), b.end()};
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

}  // namespace

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
      // The checkpoint's fp16 scales, decoded from the shared codes as the loaders do.
      lin->set_weight_rows(grid_weight_rows(r.weights.at(lin->name()), true));
      if (!bias.empty()) {
        round16(bias);
        lin->set_bias(std::move(bias));
      }
    }
  }
  round16(model.output_norm());
  Linear& head = model.output();
  std::vector<float> w = head.decoded_weight();
  round16(w);
  head.set_weight_f32(std::move(w));
  round16(model.token_embd_untied());
}

HfQuantExportReport write_hf_quantized(const DecoderModel& model, const PtqResult& r, const PtqOptions& opt,
                                       const HfQuantExportOptions& eo, const fs::path& out_dir) {
  check_hf_layout(model, opt, eo.layout);
  const DecoderConfig& c = model.config();
  const std::int64_t d = c.n_embd;

  nlohmann::json cfg = hfdir::hf_model_config(model);
  cfg["torch_dtype"] = "float16";
  cfg["quantization_config"] = quantization_config(opt, eo);

  // Declarations first (the writer streams in declared order), then the data.
  std::vector<TensorDecl> decls;
  HfQuantExportReport rep;
  auto declare = [&](std::string name, DType t, std::vector<std::int64_t> shape) {
    if (t == DType::F16) {  // unpacked tensors; the packed ones count their weights below
      std::int64_t n = 1;
      for (const auto e : shape) n *= e;
      rep.params += static_cast<std::uint64_t>(n);
    }
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
      if (it == r.weights.end() || it->second->codes.empty())
        fail("tensor '", lin.name(), "' has no quantized codes in the PTQ result");
      const GptqResult& q = *it->second;
      const std::string base = pre + hfdir::kHfRoles[k] + ".";
      const std::int64_t in = q.cols, out = q.rows, b = opt.bits;
      declare(base + "qweight", DType::I32, awq ? std::vector<std::int64_t>{in, out * b / 32} : std::vector<std::int64_t>{in * b / 32, out});
      declare(base + "qzeros", DType::I32, {q.groups, out * b / 32});
      decls.push_back({base + "scales", DType::F16, {q.groups, out}});
      if (!awq) declare(base + "g_idx", DType::I32, {in});
      if (!lin.bias().empty()) declare(base + "bias", DType::F16, {out});
    }
  }
  declare("model.norm.weight", DType::F16, {d});
  if (!model.tied()) declare("lm_head.weight", DType::F16, {c.n_vocab, d});

  hfdir::TempDir tmp(out_dir);
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
        const auto order = hfdir::hf_row_order(model, k);
        const GptqResult& src = *r.weights.at(lin.name());
        const GptqResult permuted = order.empty() ? GptqResult{} : hfdir::permute_rows(src, order);
        const GptqResult& q = order.empty() ? src : permuted;
        const std::string base = pre + hfdir::kHfRoles[k] + ".";
        const hfq::PackedLinear p = hfq::pack_linear(q, opt.bits, opt.group_size, eo.layout, lin.name());
        rep.v1_wrapped_zeros += p.v1_wrapped_zeros;
        rep.quantized_params += static_cast<std::uint64_t>(q.rows * q.cols);
        rep.params += static_cast<std::uint64_t>(q.rows * q.cols);
        w.write(base + "qweight", hfdir::raw_bytes(p.qweight));
        w.write(base + "qzeros", hfdir::raw_bytes(p.qzeros));
        w.write(base + "scales", hfdir::raw_bytes(p.scales));
        if (!awq) w.write(base + "g_idx", hfdir::raw_bytes(p.g_idx));
        if (!lin.bias().empty())
          w.write(base + "bias", fp16_bytes(order.empty() ? std::vector<float>(lin.bias().begin(), lin.bias().end())
                                                : hfdir::permute_vector(lin.bias(), order)));
      }
    }
    w.write("model.norm.weight", fp16_bytes(model.output_norm()));
    if (!model.tied()) w.write("lm_head.weight", fp16_bytes(model.output().weight_f32()));
    w.commit();
    rep.bytes = fs::file_size(tmp.path() / "model.safetensors");
  }
  write_file_atomic(tmp.path() / "config.json", cfg.dump(2) + "\n");
  rep.copied_files = hfdir::copy_tokenizer_files(model, tmp.path());
  tmp.install(out_dir);
  return rep;
}

}  // namespace lowbit
