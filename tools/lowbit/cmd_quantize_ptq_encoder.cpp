// `lowbit quantize ENCODER_DIR [OUT] --method M --scheme S --calib TEXT [--eval-text TEXT]`:
// layer-wise PTQ of a BERT sentence encoder (all-MiniLM-L6-v2), calibrated on the text's
// lines, with a per-layer error table and the cosine of the quantized model's sentence
// embeddings against the fp32 model's; OUT (--format safetensors) is lowbit's layout.
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "encoder_sentences.h"
#include "lowbit/atomic_file.h"
#include "lowbit/bert.h"
#include "lowbit/embedding_fidelity.h"
#include "lowbit/error.h"
#include "lowbit/hf_quant_export.h"
#include "lowbit/ptq.h"
#include "lowbit/tokenizer.h"
#include "progress.h"
#include "text_file.h"

namespace lowbit::cli {

namespace fs = std::filesystem;

bool is_encoder_checkpoint(const std::string& path) {
  const fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  std::ifstream f(dir / "config.json");
  if (!f) return false;
  try {
    const auto j = nlohmann::json::parse(f);
    return j.value("model_type", "") == "bert";
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

void run_quantize_ptq_encoder(const PtqArgs& a, PtqOptions o) {
  if (!a.format.empty() && a.format != "safetensors")
    fail("--format ", a.format, " is a decoder checkpoint layout; an encoder's PTQ output is --format safetensors");
  if (!a.out.empty() && a.format.empty()) fail("OUT for an encoder needs --format safetensors (or leave OUT out and use --report)");
  if (a.format == "safetensors" && a.out.empty()) fail("--format safetensors needs OUT, the checkpoint directory to write");
  if (o.act_quant) fail("int8 activations (--act8, smoothquant) are evaluated on decoders only");
  if (!a.kld_base.empty()) fail("--kld-base is for decoders; an encoder is measured with --eval-text");
  set_ptq_grid(a.scheme, o);
  if (a.format == "safetensors") check_lowbit_format(o);

  auto enc = BertEncoder::load(a.in);
  const fs::path dir = fs::is_directory(a.in) ? fs::path(a.in) : fs::path(a.in).parent_path();
  const auto tok = load_tokenizer(dir);
  const auto max_len = static_cast<std::size_t>(enc.config().max_positions);
  std::vector<std::vector<std::int32_t>> calib;
  if (!a.calib.empty()) {
    calib = encoder_sentences(*tok, read_text_file(a.calib), max_len, a.calib_sentences);
    if (calib.empty()) fail(a.calib, ": no non-empty lines to calibrate with");
  }
  const int n_layer = enc.config().num_layers;
  Progress progress(static_cast<std::size_t>(n_layer), a.quiet);
  o.on_layer = [&](int il, int) { progress.step("layer " + std::to_string(il)); };
  PtqResult r = quantize_encoder(enc, std::move(calib), o);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);

  nlohmann::json j = ptq_report_json(r, a, o);
  j["memory"] = {{"peak_rss", double(ru.ru_maxrss) * 1024.0}};
  const auto params = j["quantized_params"].get<std::uint64_t>();
  if (a.per_tensor) {
    std::printf("%-5s %11s %11s %11s %11s %11s %11s\n", "layer", "query", "key", "value", "attn_out", "intermediate", "output");
    for (int il = 0; il < n_layer; ++il) {
      std::printf("%-5d", il);
      for (const auto& l : r.linears)
        if (l.layer == il) std::printf(" %11.3e", l.rel_error);
      std::printf("\n");
    }
    std::printf("(relative output error tr(dW H dW^T) / tr(W H W^T) per Linear on its captured inputs)\n");
  }
  if (!a.quiet)
    std::printf("%s %s: %d layers, %llu weights at %.3f bits per weight, %lld calibration tokens, %.1f s\n",
                ptq_method_name(o.method), a.scheme.c_str(), n_layer, static_cast<unsigned long long>(params),
                j["bits_per_weight"].get<double>(), static_cast<long long>(r.calibration_tokens), r.seconds);
  if (!a.eval_text.empty()) {
    const auto ref = BertEncoder::load(a.in);
    const auto sentences = encoder_sentences(*tok, read_text_file(a.eval_text), max_len, a.eval_sentences);
    if (sentences.empty()) fail(a.eval_text, ": no non-empty lines to embed");
    const auto f = embedding_fidelity(ref, enc, sentences, a.threads);
    std::printf("sentence embeddings vs the fp32 model over %zu lines of %s: mean cosine %.6f, min %.6f (line %zu)\n",
                sentences.size(), a.eval_text.c_str(), f.mean_cosine, f.min_cosine, f.worst);
    j["eval"] = {{"sentences", sentences.size()}, {"mean_cosine", f.mean_cosine}, {"min_cosine", f.min_cosine},
                 {"worst", f.worst}};
  }
  if (a.format == "safetensors") {
    const std::uint64_t bytes = write_lowbit_quantized_encoder(enc, r, o, a.out);
    if (!a.quiet) std::printf("wrote %s/ (lowbit safetensors): model.safetensors %.2f MB\n", a.out.c_str(), double(bytes) / 1e6);
    j["file_bytes"] = bytes;
  }
  if (!a.report.empty()) write_file_atomic(a.report, j.dump(1) + "\n");
}

}  // namespace lowbit::cli
