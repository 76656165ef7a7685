// `lowbit quantize MODEL [OUT] --method rtn|rtn-mse|gptq|awq|kmeans|hqq|smoothquant --scheme intB:gG:asym|gguf:FTYPE|kmeansB:channel
// --calib TEXT`: layer-wise PTQ of a decoder (from its fp32 decode, the baseline), with a
// progress bar per layer, a per-layer error table, and with --kld-base the quantized
// model's perplexity, KL divergence and top-1 agreement against the baseline's logits.
// BERT encoder checkpoints go to run_quantize_ptq_encoder.
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "lowbit/atomic_file.h"
#include "lowbit/error.h"
#include "lowbit/gguf_model.h"
#include "lowbit/hf_quant_export.h"
#include "lowbit/layerwise.h"
#include "lowbit/perplexity.h"
#include "lowbit/ptq.h"
#include "lowbit/scheme.h"
#include "lowbit/tokenizer.h"
#include "progress.h"
#include "text_file.h"

namespace lowbit::cli {
void set_ptq_grid(const std::string& spec, PtqOptions& o) {
  const Scheme s = parse_scheme(spec);
  if (o.method == PtqMethod::Kmeans) {
    if (s.kind != SchemeKind::KMeans || s.granularity != GranularityKind::Channel || s.axis != 0)
      fail("--method kmeans takes a per-output-channel codebook scheme such as kmeans4:channel, not '", spec, "'");
    o.bits = s.bits;
    return;
  }
  if (s.kind != SchemeKind::Affine)
    fail("--method ", ptq_method_name(o.method), " needs an integer scheme such as int4:g128:asym, not '", spec, "'");
  if (s.bits < 2 || s.bits > 8) fail("--scheme ", spec, ": PTQ methods take 2 to 8 bits");
  if (s.granularity == GranularityKind::Group) o.group_size = s.group_size;
  else if (s.granularity == GranularityKind::Channel && s.axis == 0) o.group_size = -1;
  else fail("--scheme ", spec, ": PTQ methods quantize per output channel (:channel) or in groups (:gN)");
  if (s.super_block) fail("--scheme ", spec, ": super-blocks are not a PTQ grid; use gguf:TYPE for k-quants");
  o.bits = s.bits;
  o.sym = s.symmetric;
}

namespace {

// A gguf:FTYPE target: Linears go into the types llama.cpp's mix gives them; AWQ's search
// uses the main type's width on groups of 32 (the legacy/k-quant sub-block) as its proxy.
void set_gguf_grid(const std::string& spec, PtqOptions& o) {
  const std::string ft = spec.substr(5);
  if (!ggml::parse_file_type(ft)) fail("--scheme ", spec, ": unknown llama.cpp file type '", ft, "'");
  const auto digit = ft.find_first_of("2345678");
  o.bits = digit == std::string::npos ? 8 : ft[digit] - '0';
  o.group_size = 32;
  o.sym = ft.find("_1") == std::string::npos && ft.find("_K") == std::string::npos;
}

}  // namespace

nlohmann::json ptq_report_json(const PtqResult& r, const PtqArgs& a, const PtqOptions& o) {
  nlohmann::json j;
  j["model"] = a.in;
  j["method"] = ptq_method_name(o.method);
  j["scheme"] = a.scheme;
  j["calibration_tokens"] = r.calibration_tokens;
  j["activations"] = o.act_quant ? std::string(calib::activation_mode_name(*o.act_quant)) + " int8" : "fp32";
  j["seconds"] = r.seconds;
  std::uint64_t params = 0;
  for (const auto& l : r.linears) {
    params += static_cast<std::uint64_t>(l.rows * l.cols);
    nlohmann::json e{{"layer", l.layer}, {"name", l.name}, {"rows", l.rows}, {"cols", l.cols}, {"seconds", l.seconds}};
    e["rel_error"] = std::isfinite(l.rel_error) ? nlohmann::json(l.rel_error) : nlohmann::json(nullptr);
    if (l.awq_alpha >= 0) e["awq_alpha"] = l.awq_alpha;
    e["compact"] = l.compact;
    j["linears"].push_back(e);
  }
  j["quantized_params"] = params;
  // Codes plus one fp16 scale (and fp16 zero when asymmetric) per group, as the GPTQ and
  // AWQ checkpoints store them.
  // In ggml types: the bytes themselves.
  double bits = 0;
  for (const auto& [name, w] : r.weights)
    bits += r.codebooks.count(name) ? r.codebooks.at(name).bits_per_weight() * double(w->rows * w->cols)
            : r.ggml_bytes.count(name) ? 8.0 * double(r.ggml_bytes.at(name).size())
                                     : double(w->rows * w->cols) * o.bits + double(w->rows * w->groups) * (o.sym ? 16.0 : 32.0);
  j["bits_per_weight"] = params ? bits / double(params) : 0.0;
  return j;
}

namespace {

// Peak RSS so far (the quantization; evaluation and writing come after) beside issue 6's
// bound: the model file (mapped), the largest layer's weights in fp32, and that layer's
// statistics: X^T X in double per distinct Linear input plus the calibration hidden
// states between layers (and, for true-sequential GPTQ, attention's output kept between
// its capture passes).
nlohmann::json memory_report(const std::string& in, const DecoderModel& model, std::uint64_t calib_tokens,
                             bool attention_kept) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  double layer = 0, stats = 0;
  for (int il = 0; il < model.config().n_layer; ++il) {
    double w = 0, s = 0;
    for (const Linear* l : model.layer(il).linears()) {
      w += 4.0 * double(l->rows()) * double(l->cols());
      s += 8.0 * double(l->cols()) * double(l->cols());
    }
    layer = std::max(layer, w);
    stats = std::max(stats, s);
  }
  stats += 4.0 * double(calib_tokens) * double(model.config().n_embd);
  if (attention_kept)
    stats += 4.0 * double(calib_tokens) *
             double(std::max<std::int64_t>(std::int64_t{model.config().n_head} * model.config().head_dim, model.config().n_embd));
  double file = 0;
  if (std::filesystem::is_directory(in)) {
    for (const auto& e : std::filesystem::directory_iterator(in))
      if (e.path().extension() == ".safetensors") file += double(e.file_size());
  } else {
    file = double(std::filesystem::file_size(in));
  }
  return {{"peak_rss", double(ru.ru_maxrss) * 1024.0}, {"model_file", file}, {"layer_fp32", layer},
          {"layer_statistics", stats}, {"bound", file + layer + stats}};
}

void print_layer_table(const PtqResult& r, int n_layer) {
  std::printf("%-5s", "layer");
  const char* cols[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
  for (const char* c : cols) std::printf(" %11.11s", c);
  std::printf(" %8s\n", "seconds");
  for (int il = 0; il < n_layer; ++il) {
    std::printf("%-5d", il);
    double secs = 0;
    for (const auto& l : r.linears)
      if (l.layer == il) {
        std::printf(" %11.3e", l.rel_error);
        secs += l.seconds;
      }
    std::printf(" %8.2f\n", secs);
  }
  std::printf("(relative output error tr(dW H dW^T) / tr(W H W^T) per Linear on its captured inputs)\n");
}

}  // namespace

void add_ptq_options(CLI::App* cmd, PtqArgs& a) {
  cmd->add_option("--calib", a.calib, "calibration text (UTF-8) for --method gptq/awq (and the error report)");
  cmd->add_option("--calib-chunks", a.calib_chunks, "calibration chunks of --calib-ctx tokens (-1 = all)");
  cmd->add_option("--calib-ctx", a.calib_ctx, "tokens per calibration chunk")->check(CLI::Range(2, 1 << 20));
  cmd->add_flag("--act-order", a.act_order, "gptq: quantize columns by decreasing Hessian diagonal (desc_act)");
  cmd->add_flag("--static-groups", a.static_groups, "gptq: group parameters from the weights before updates");
  cmd->add_flag("--mse", a.mse, "gptq: MSE-clipped group grids (rtn-mse always uses them)");
  cmd->add_option("--percdamp", a.percdamp, "gptq: damping as a fraction of the mean Hessian diagonal");
  cmd->add_option("--awq-search-seqs", a.awq_search_seqs, "awq: calibration sequences the block search runs on");
  cmd->add_flag("--awq-no-clip", a.awq_no_clip, "awq: skip the clip search");
  cmd->add_flag("--awq-no-duo", a.awq_no_duo, "awq: scales from activations only (s = x^alpha)");
  cmd->add_option("--outliers", a.outliers, "kmeans: share of weights kept exact (SqueezeLLM's sparse part, e.g. 0.0045)");
  cmd->add_option("--sq-alpha", a.sq_alpha, "smoothquant: migration strength alpha (0.5)");
  cmd->add_option("--act8", a.act8, "quantize every Linear's inputs to int8 per token or per tensor (W8A8; smoothquant: token)")
      ->check(CLI::IsMember({"token", "tensor"}));
  cmd->add_option("--format", a.format,
                  "OUT's format: gguf (with --scheme gguf:TYPE); awq (AutoAWQ GEMM), gptq (v1, AutoGPTQ), gptq-v2 "
                  "(GPTQModel) or safetensors (lowbit's own layout, any bit width, k-means): a checkpoint directory")
      ->check(CLI::IsMember({"gguf", "awq", "gptq", "gptq-v2", "safetensors"}));
  cmd->add_option("--kld-base", a.kld_base,
                  "after quantizing, compare with these baseline logits (lowbit perplexity --f32 --save-logits)");
  cmd->add_option("--eval-chunks", a.eval_chunks, "chunks of the --kld-base file to evaluate (-1 = all)");
  cmd->add_option("--calib-sentences", a.calib_sentences, "encoders: calibrate on at most this many lines of --calib");
  cmd->add_option("--eval-text", a.eval_text,
                  "encoders: after quantizing, the cosine of sentence embeddings vs the fp32 model over this text's lines");
  cmd->add_option("--eval-sentences", a.eval_sentences, "encoders: embed at most this many lines of --eval-text");
}

void run_quantize_ptq(const PtqArgs& a) {
  PtqOptions o;
  o.method = parse_ptq_method(a.method);
  o.threads = a.threads;
  o.gptq.act_order = a.act_order;
  o.gptq.static_groups = a.static_groups;
  o.gptq.mse = a.mse;
  o.gptq.percdamp = a.percdamp;
  o.awq.clip = !a.awq_no_clip;
  o.awq.duo_scaling = !a.awq_no_duo;
  o.awq_search_sequences = a.awq_search_seqs;
  o.outlier_fraction = a.outliers;
  o.smooth_alpha = static_cast<float>(a.sq_alpha);
  if (!a.act8.empty() || o.method == PtqMethod::SmoothQuant)
    o.act_quant = a.act8 == "tensor" ? calib::ActivationMode::DynamicPerTensor : calib::ActivationMode::DynamicPerToken;
  if (is_encoder_checkpoint(a.in)) {
    run_quantize_ptq_encoder(a, o);
    return;
  }
  const bool to_gguf = a.scheme.rfind("gguf:", 0) == 0;
  if (to_gguf && !a.format.empty() && a.format != "gguf")
    fail("--scheme ", a.scheme, " writes GGUF; --format ", a.format, " needs an integer scheme such as int4:g128:asym");
  if (!to_gguf && a.format == "gguf") fail("--format gguf needs --scheme gguf:TYPE (e.g. gguf:Q4_K_M)");
  const bool to_lowbit = a.format == "safetensors";
  const bool to_hf = !to_gguf && !a.format.empty() && !to_lowbit;
  GgufQuantizeOptions go;
  std::map<std::string, ggml::Type> plan;
  if (to_gguf) {
    if (o.method == PtqMethod::Kmeans) fail("--method kmeans has no ggml block type to go into; use kmeansB:channel");
    if (o.act_quant) fail("int8 activations (--act8, smoothquant) have no GGUF form; leave OUT out and measure");
    if (o.method == PtqMethod::Hqq) fail("--method hqq's fractional zero points have no ggml block type; use intB:gG:asym");
    set_gguf_grid(a.scheme, o);
    if (!is_gguf_file(a.in)) fail("--scheme ", a.scheme, " needs a GGUF input; ", a.in, " is not one");
    go.ftype = *ggml::parse_file_type(a.scheme.substr(5));
    go.mix.has_imatrix = !a.calib.empty();
    go.threads = a.threads;
    plan = plan_gguf(a.in, go);
    o.ggml_types = plan;
  } else {
    set_ptq_grid(a.scheme, o);
    if (!a.out.empty() && !to_hf && !to_lowbit)
      fail("OUT for ", a.scheme, " needs --format awq|gptq|gptq-v2|safetensors (or --scheme gguf:TYPE for GGUF); "
           "without OUT, use --report");
    if ((to_hf || to_lowbit) && a.out.empty()) fail("--format ", a.format, " needs OUT, the checkpoint directory to write");
  }

  // Layers stay in the mapped file until each is quantized (docs/numerics.md).
  auto model = DecoderModel::load(a.in, true);
  if (to_hf) check_hf_layout(model, o, hfq::parse_layout(a.format));
  if (to_lowbit) check_lowbit_format(o);
  const auto tok = load_tokenizer(a.in);
  make_decoder_f32(model);
  std::vector<std::vector<std::int32_t>> calib;
  if (!a.calib.empty()) calib = calibration_chunks(*tok, read_text_file(a.calib), a.calib_ctx, a.calib_chunks);
  const int n_layer = model.config().n_layer;
  Progress progress(static_cast<std::size_t>(n_layer), a.quiet);
  o.on_layer = [&](int il, int) { progress.step("layer " + std::to_string(il)); };
  const auto calib_tokens = static_cast<std::uint64_t>(calib.size()) * static_cast<std::uint64_t>(a.calib_ctx);
  PtqResult r = quantize_decoder(model, std::move(calib), o);
  const nlohmann::json memory = memory_report(a.in, model, calib_tokens,
                                               o.method == PtqMethod::Gptq && o.true_sequential && !o.act_quant);
  if (to_gguf) {
    // The head and embedding go into their planned types by llama.cpp's quantizer (no
    // importance: lowbit captures no head inputs), so the in-process model is the file.
    auto round_trip = [&](const std::string& name, std::vector<float> x, std::int64_t cols) {
      const ggml::Type t = plan.at(name);
      const auto rb = ggml::row_size(t, cols);
      if (!ggml::traits(t).quantized || !rb) return x;
      const std::int64_t rows = static_cast<std::int64_t>(x.size()) / cols;
      std::vector<std::byte> bytes(*rb * static_cast<std::size_t>(rows));
      ggml::quantize_rows(t, x.data(), bytes.data(), rows, cols, nullptr, a.threads);
      ggml::dequantize(t, bytes.data(), x.data(), rows * cols, a.threads);
      return x;
    };
    Linear& head = model.output();
    head.set_weight_f32(round_trip(head.name(), head.decoded_weight(), head.cols()));
    if (auto& e = model.token_embd_untied(); !e.empty()) e = round_trip("token_embd.weight", e, head.cols());
  }
  if (to_hf) round_decoder_to_hf_checkpoint(model, r);
  auto j = ptq_report_json(r, a, o);
  j["memory"] = memory;
  if (!a.quiet)
    std::printf("peak RSS while quantizing %.1f MB; bound: the mapped model %.1f MB + one layer in fp32 %.1f MB + its "
                "statistics %.1f MB = %.1f MB\n", memory["peak_rss"].get<double>() / 1e6,
                memory["model_file"].get<double>() / 1e6, memory["layer_fp32"].get<double>() / 1e6,
                memory["layer_statistics"].get<double>() / 1e6, memory["bound"].get<double>() / 1e6);
  if (a.per_tensor) print_layer_table(r, n_layer);
  if (!a.quiet)
    std::printf("%s %s: %d layers, %llu weights at %.3f bits per weight, %lld calibration tokens, %.1f s\n",
                ptq_method_name(o.method), a.scheme.c_str(), n_layer,
                static_cast<unsigned long long>(j["quantized_params"].get<std::uint64_t>()),
                j["bits_per_weight"].get<double>(), static_cast<long long>(r.calibration_tokens), r.seconds);
  if (!a.kld_base.empty()) {
    PerplexityOptions po;
    po.kld_base = a.kld_base;
    po.chunks = a.eval_chunks;
    po.threads = a.threads;
    const PerplexityResult pr = kl_divergence(model, *tok, po);
    const auto& k = *pr.kld;
    std::printf("vs %s: PPL %.4f (base %.4f), mean KLD %.6f +/- %.6f, same top-1 %.3f %%\n", a.kld_base.c_str(),
                pr.ppl, k.ppl_base, k.mean, k.uncertainty, 100.0 * k.same_top1);
    j["eval"] = nlohmann::json::parse(pr.to_json());
  }
  if (to_gguf && !a.out.empty()) {
    go.replace = std::move(r.ggml_bytes);
    for (auto& [name, v] : r.changed_f32) {
      if (plan.at(name) != ggml::Type::F32) fail("tensor '", name, "' is ", ggml::traits(plan.at(name)).name, "; AWQ's rescaled norms are written as F32");
      const auto b = std::as_bytes(std::span<const float>(v));
      go.replace[name].assign(b.begin(), b.end());
    }
    const GgufQuantizeReport gr = quantize_gguf(a.in, a.out, go);
    if (!a.quiet)
      std::printf("wrote %s: %.2f MB, %.3f bits per weight over all tensors\n", a.out.c_str(), double(gr.bytes_out) / 1e6,
                  gr.bits_per_weight());
    j["file_bytes"] = gr.bytes_out;
    j["file_bits_per_weight"] = gr.bits_per_weight();
  }
  if (to_hf) {
    HfQuantExportOptions eo;
    eo.layout = hfq::parse_layout(a.format);
    eo.method = a.method;
    const HfQuantExportReport hr = write_hf_quantized(model, r, o, eo, a.out);
    if (!a.quiet) {
      std::printf("wrote %s/ (%s layout): model.safetensors %.2f MB, %.3f bits per weight over all %llu weights\n",
                  a.out.c_str(), a.format.c_str(), double(hr.bytes) / 1e6, 8.0 * double(hr.bytes) / double(hr.params),
                  static_cast<unsigned long long>(hr.params));
      if (hr.copied_files.empty()) std::printf("no tokenizer files written (GGUF source): add the model's own\n");
    }
    if (hr.v1_wrapped_zeros)
      std::fprintf(stderr,
                   "warning: %lld groups have zero point 0, stored as %d by GPTQ v1's minus-one: GPTQModel reads it "
                   "back as 0, AutoGPTQ's qlinear_cuda as %d. --format gptq-v2 stores zero points as they are.\n",
                   static_cast<long long>(hr.v1_wrapped_zeros), (1 << o.bits) - 1, 1 << o.bits);
    j["file_bytes"] = hr.bytes;
  }
  if (to_lowbit) {
    const std::uint64_t bytes = write_lowbit_quantized(model, r, o, a.out);
    if (!a.quiet) std::printf("wrote %s/ (lowbit safetensors): model.safetensors %.2f MB\n", a.out.c_str(), double(bytes) / 1e6);
    j["file_bytes"] = bytes;
  }
  if (!a.report.empty()) write_file_atomic(a.report, j.dump(1) + "\n");
}

}  // namespace lowbit::cli
