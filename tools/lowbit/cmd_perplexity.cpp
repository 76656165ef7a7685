// `lowbit perplexity MODEL --text FILE [--ctx N] [--chunks N] [--threads N]
//  [--save-logits F | --kld-base F] [--json F]`: llama-perplexity's measurement on lowbit's
// runtime. Prints the running estimate per chunk and the final table; --json writes the
// same numbers for scripts. The saved-logits file is llama-perplexity's format.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "lowbit/decoder.h"
#include "lowbit/error.h"
#include "lowbit/perplexity.h"
#include "lowbit/tokenizer.h"

namespace lowbit::cli {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open the text file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

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

}  // namespace

void register_perplexity(CLI::App& app) {
  static std::string model_path, text, save_logits, kld_base, json_out;
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
  cmd->callback([] {
    if (!save_logits.empty() && !kld_base.empty()) fail("--save-logits and --kld-base cannot be combined");
    if (kld_base.empty() && text.empty()) fail("--text is required (or --kld-base with a saved-logits file)");
    const auto model = DecoderModel::load(model_path);
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
    const PerplexityResult r = kld_base.empty() ? perplexity(model, *tok, read_text(text), opt) : kl_divergence(model, *tok, opt);
    print_result(r);
    if (!json_out.empty()) {
      const std::string tmp = json_out + ".tmp";
      {
        std::ofstream o(tmp);
        o << r.to_json() << "\n";
        if (!o) fail(json_out, ": cannot write");
      }
      std::filesystem::rename(tmp, json_out);
    }
  });
}

}  // namespace lowbit::cli
