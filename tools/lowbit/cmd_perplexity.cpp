// `lowbit perplexity MODEL --text FILE [--ctx N] [--chunks N] [--threads N]
//  [--save-logits F | --kld-base F] [--json F]`: llama-perplexity's measurement on lowbit's
// runtime; the saved-logits file is llama-perplexity's format. For sentence encoders
// (`--base FP32_DIR`), the text's lines are embedded by both models and the cosines of
// the pooled embeddings reported instead. --json writes the numbers for scripts.
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "lowbit/atomic_file.h"
#include "lowbit/bert.h"
#include "lowbit/decoder.h"
#include "lowbit/embedding_fidelity.h"
#include "lowbit/error.h"
#include "lowbit/perplexity.h"
#include "lowbit/ptq.h"
#include "lowbit/tokenizer.h"
#include "encoder_sentences.h"
#include "text_file.h"

namespace lowbit::cli {
namespace {

namespace fs = std::filesystem;

void print_result(const PerplexityResult& r) {
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_uncertainty);
  std::printf("%d chunks of %d tokens, %lld positions scored, %.2f s, %.1f tokens/s\n", r.chunks, r.ctx,
              static_cast<long long>(r.scored), r.seconds, r.tokens_per_second);
  if (!r.kld) return;
  const auto& k = *r.kld;
  std::printf("\n====== KL divergence against the base logits ======\n");
  std::printf("Mean PPL(Q)                   : %10.6f\n", r.ppl);
  std::printf("Mean PPL(base)                : %10.6f\n", k.ppl_base);
  std::printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f\n", k.mean_log_ppl_ratio);
  std::printf("Mean    KLD: %10.6f +/- %10.6f\n", k.mean, k.uncertainty);
  std::printf("Maximum KLD: %10.6f\n99.9%%   KLD: %10.6f\n99.0%%   KLD: %10.6f\n95.0%%   KLD: %10.6f\n", k.max, k.p999,
              k.p99, k.p95);
  std::printf("90.0%%   KLD: %10.6f\nMedian  KLD: %10.6f\nMinimum KLD: %10.6f\n", k.p90, k.median, k.min);
  std::printf("RMS Δp     : %8.3f %%\nSame top p : %8.3f %%\n", 100.0 * k.rms_delta_p, 100.0 * k.same_top1);
}

void write_json_atomic(const std::string& path, const std::string& text) { write_file_atomic(path, text + "\n"); }

// Encoder mode: cosine between the pooled embeddings of the reference (fp32) encoder and
// the candidate, over the text's non-empty lines, each cut to the reference's positions.
void run_encoder(const std::string& candidate, const std::string& base, const std::string& text, int max_sentences,
                 int threads, const std::string& json_out) {
  const auto ref = BertEncoder::load(base);
  const fs::path base_dir = fs::is_directory(base) ? fs::path(base) : fs::path(base).parent_path();
  const auto cand = fs::is_directory(candidate) ? BertEncoder::load(candidate)
                                                : BertEncoder::load(candidate, base_dir / "config.json");
  const auto tok = load_tokenizer(base_dir);
  const auto sentences = encoder_sentences(*tok, read_text_file(text), static_cast<std::size_t>(ref.config().max_positions),
                                          max_sentences);
  if (sentences.empty()) fail(text, ": no non-empty lines to embed");
  const auto f = embedding_fidelity(ref, cand, sentences, threads);
  std::printf("encoder fidelity over %zu sentences: mean cosine %.6f, min cosine %.6f (sentence %zu)\n",
              sentences.size(), f.mean_cosine, f.min_cosine, f.worst);
  if (!json_out.empty()) {
    const nlohmann::json j = {{"sentences", sentences.size()}, {"mean_cosine", f.mean_cosine},
                              {"min_cosine", f.min_cosine}, {"worst", f.worst}};
    write_json_atomic(json_out, j.dump(2));
  }
}

}  // namespace

void register_perplexity(CLI::App& app) {
  static std::string model_path, text, save_logits, kld_base, json_out, base;
  static int sentences = 256;
  static bool f32 = false;
  static PerplexityOptions opt;
  auto* cmd = app.add_subcommand("perplexity", "Perplexity / KL divergence of a model over a text (llama-perplexity's method)");
  cmd->add_option("model", model_path, "a .gguf file or a HF model directory")->required();
  cmd->add_option("--text", text, "UTF-8 text file (not needed with --kld-base)");
  cmd->add_option("--ctx", opt.ctx, "tokens per chunk (llama-perplexity's -c)")->check(CLI::Range(4, 1 << 20));
  cmd->add_option("--chunks", opt.chunks, "evaluate at most this many chunks (-1 = all)");
  cmd->add_option("--threads", opt.threads, "worker threads (0 = all cores)");
  cmd->add_option("--save-logits", save_logits, "write the base log-probs (llama-perplexity --kl-divergence-base format)");
  cmd->add_option("--kld-base", kld_base, "compare with a saved-logits file: KL divergence and top-1 agreement");
  cmd->add_option("--json", json_out, "also write the result as JSON");
  cmd->add_option("--base", base, "encoders: the reference (fp32) model to compare sentence embeddings with");
  cmd->add_flag("--f32", f32, "decoders: run every Linear on its fp32 decode (the PTQ baseline of lowbit quantize --method)");
  cmd->add_option("--sentences", sentences, "encoders: embed at most this many lines of --text");
  cmd->callback([] {
    if (!base.empty()) {
      if (text.empty()) fail("--text is required with --base");
      run_encoder(model_path, base, text, sentences, opt.threads, json_out);
      return;
    }
    if (!save_logits.empty() && !kld_base.empty()) fail("--save-logits and --kld-base cannot be combined");
    if (kld_base.empty() && text.empty()) fail("--text is required (or --kld-base with a saved-logits file)");
    auto model = DecoderModel::load(model_path);
    if (f32) make_decoder_f32(model);
    const auto tok = load_tokenizer(model_path);
    const auto& c = model.config();
    std::printf("model: %s (%s, %d layers, n_embd %d, vocab %d)\n", model_path.c_str(), c.arch.c_str(), c.n_layer,
                c.n_embd, c.n_vocab);
    opt.save_logits = save_logits;
    opt.kld_base = kld_base;
    opt.on_chunk = [](int i, int n, double ppl) {
      std::printf("[%d/%d] %.4f\n", i, n, ppl);
      std::fflush(stdout);
    };
    const PerplexityResult r = kld_base.empty() ? perplexity(model, *tok, read_text_file(text), opt) : kl_divergence(model, *tok, opt);
    print_result(r);
    if (!json_out.empty()) write_json_atomic(json_out, r.to_json());
  });
}

}  // namespace lowbit::cli
