// Perplexity and KL divergence of a decoder over a text, computed the way llama.cpp's
// llama-perplexity computes them so the numbers are comparable: chunks of ctx tokens,
// BOS in place of each chunk's first token when the vocabulary adds one, only the second
// half of each chunk scored. --save-logits / --kld-base files use llama-perplexity's own
// format (compressed log-probabilities), so either tool can read the other's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/decoder.h"
#include "lowbit/tokenizer.h"

namespace lowbit {

struct KldStats {
  std::int64_t positions = 0;
  double mean = 0, uncertainty = 0;  // KL(base || model) per position, nats
  double median = 0, p90 = 0, p95 = 0, p99 = 0, p999 = 0, max = 0, min = 0;
  double same_top1 = 0;              // fraction of positions whose argmax agrees
  double ppl_base = 0;               // perplexity of the base run on the same tokens
  double mean_log_ppl_ratio = 0;     // mean ln(PPL(model) / PPL(base))
  double rms_delta_p = 0;            // RMS of p(model) - p(base) of the correct token
};

struct PerplexityOptions {
  int ctx = 512;
  int chunks = -1;   // -1: every whole chunk of the text
  int threads = 0;   // 0: all hardware threads
  std::filesystem::path save_logits;  // write llama-perplexity's --kl-divergence-base file
  std::filesystem::path kld_base;     // compare against such a file (its tokens are used)
  std::function<void(int chunk, int n_chunk, double running_ppl)> on_chunk;
};

struct PerplexityResult {
  double ppl = 0, ppl_uncertainty = 0;
  int ctx = 0, chunks = 0;
  std::int64_t text_tokens = 0, scored = 0;
  double seconds = 0;          // model evaluation time (tokenization excluded)
  double tokens_per_second = 0;  // prompt-processing rate over all evaluated tokens
  // The forward passes alone, without scoring the logits: what a timer around llama.cpp's
  // llama_decode measures, so prompt rates compare like with like.
  double forward_seconds = 0, forward_tokens_per_second = 0;
  std::vector<double> running_ppl;  // after each chunk, like llama-perplexity's [i]x.xxxx
  std::optional<KldStats> kld;
  std::string to_json() const;
};

// `text` is tokenized with add_special (BOS per the vocabulary), as llama-perplexity does.
PerplexityResult perplexity(const DecoderModel& model, const Tokenizer& tok, std::string_view text,
                            const PerplexityOptions& opt);
// --kld-base mode: tokens come from the base file, no text is needed.
PerplexityResult kl_divergence(const DecoderModel& model, const Tokenizer& tok, const PerplexityOptions& opt);

}  // namespace lowbit
