// Perplexity and KL divergence, ported in method (not code) from llama.cpp's
// tools/perplexity/perplexity.cpp: same chunking, BOS substitution, scored half, the
// same log-softmax arithmetic (double sums of expf), the same uncertainty estimates and
// the same KLD statistics, so lowbit's numbers line up with llama-perplexity's.
#include "lowbit/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "eval/llama_logits_file.h"
#include "lowbit/atomic_file.h"
#include "lowbit/error.h"
#include "lowbit/parallel.h"

namespace lowbit {
namespace {

// llama.cpp's log_softmax of the plain perplexity path: returns -log p(tok).
double nll_of(const float* logits, std::int64_t n_vocab, std::int32_t tok) {
  float max_logit = logits[0];
  for (std::int64_t i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum_exp = 0.0;
  for (std::int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
  return -(static_cast<double>(logits[tok] - max_logit) - std::log(sum_exp));
}

struct KldAccum {
  double sum_nll = 0, sum_nll2 = 0, sum_nll_base = 0, sum_nll_base2 = 0, sum_nll_nll_base = 0;
  double sum_kld = 0, sum_kld2 = 0, sum_p_diff = 0, sum_p_diff2 = 0;
  std::int64_t count = 0, same_top = 0;
  std::vector<float> kld_values;
};

// llama.cpp's log_softmax of the KL path: one position of the model against the base.
void kld_position(const float* logits, std::int64_t n_vocab, const std::uint16_t* base, std::int32_t tok,
                  KldAccum& k) {
  float max_logit = logits[0];
  std::int64_t imax = 0;
  for (std::int64_t i = 1; i < n_vocab; ++i)
    if (logits[i] > max_logit) {
      max_logit = logits[i];
      imax = i;
    }
  double sum_exp = 0.0;
  for (std::int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
  const float log_sum_exp = static_cast<float>(std::log(sum_exp));
  float scale, min_log_prob;
  std::memcpy(&scale, base, 4);
  std::memcpy(&min_log_prob, base + 2, 4);
  const std::uint16_t* q = base + 4;
  const float nll = max_logit + log_sum_exp - logits[tok];
  k.sum_nll += nll;
  k.sum_nll2 += static_cast<double>(nll) * nll;
  const float nll_base = -(scale * q[tok] + min_log_prob);
  k.sum_nll_base += nll_base;
  k.sum_nll_base2 += static_cast<double>(nll_base) * nll_base;
  k.sum_nll_nll_base += static_cast<double>(nll) * nll_base;
  const float lse = max_logit + log_sum_exp;
  double sum = 0;
  std::int64_t imax_base = -1;
  float p_log_base_max = 0;
  for (std::int64_t i = 0; i < n_vocab; ++i) {
    const float p_log_base = scale * q[i] + min_log_prob;
    if (i == 0 || p_log_base > p_log_base_max) {
      p_log_base_max = p_log_base;
      imax_base = i;
    }
    if (p_log_base > -16.f) sum += std::exp(p_log_base) * (p_log_base - logits[i] + lse);
  }
  k.sum_kld += sum;
  k.sum_kld2 += sum * sum;
  k.count++;
  k.same_top += imax == imax_base;
  const float p_diff = std::exp(-nll) - std::exp(-nll_base);
  k.sum_p_diff += p_diff;
  k.sum_p_diff2 += static_cast<double>(p_diff) * p_diff;
  k.kld_values.push_back(static_cast<float>(sum));
}

// llama.cpp's percentile: linear interpolation between sorted neighbours.
double percentile(const std::vector<float>& v, double fraction) {
  if (fraction <= 0) return v.front();
  if (fraction >= 1) return v.back();
  double p = fraction * static_cast<double>(v.size() - 1);
  const auto ip = static_cast<std::size_t>(p);
  p -= static_cast<double>(ip);
  return (1 - p) * v[ip] + p * v[std::min(ip + 1, v.size() - 1)];
}

KldStats finish_kld(KldAccum& k) {
  KldStats s;
  const double n = static_cast<double>(k.count);
  s.positions = k.count;
  s.mean = k.sum_kld / n;
  s.uncertainty = k.count > 1 ? std::sqrt(std::max(0.0, k.sum_kld2 / n - s.mean * s.mean) / (n - 1)) : 0;
  s.same_top1 = static_cast<double>(k.same_top) / n;
  s.ppl_base = std::exp(k.sum_nll_base / n);
  s.mean_log_ppl_ratio = k.sum_nll / n - k.sum_nll_base / n;
  s.rms_delta_p = std::sqrt(k.sum_p_diff2 / n);
  std::sort(k.kld_values.begin(), k.kld_values.end());
  const auto& v = k.kld_values;
  s.median = v.size() % 2 == 0 ? 0.5 * (v[v.size() / 2] + v[v.size() / 2 - 1]) : v[v.size() / 2];
  s.p90 = percentile(v, 0.90);
  s.p95 = percentile(v, 0.95);
  s.p99 = percentile(v, 0.99);
  s.p999 = percentile(v, 0.999);
  s.max = v.back();
  s.min = v.front();
  return s;
}

void finish_ppl(PerplexityResult& r, double nll, double nll2) {
  const double n = static_cast<double>(r.scored);
  const double av = nll / n;
  r.ppl = std::exp(av);
  const double var = nll2 / n - av * av;
  r.ppl_uncertainty = var > 0 && r.scored > 1 ? std::sqrt(var / (n - 1)) * r.ppl : 0;
}

// One chunk through the model: logits of positions [first, n_ctx).
std::vector<float> eval_chunk(const DecoderModel& model, const Tokenizer& tok, std::vector<std::int32_t> chunk,
                              int first, int threads) {
  // llama-perplexity puts BOS in place of each chunk's first token when the vocab adds one.
  if (tok.special().add_bos && tok.special().bos >= 0) chunk[0] = tok.special().bos;
  const std::int64_t nv = model.config().n_vocab;
  std::vector<float> logits(static_cast<std::size_t>((static_cast<std::int64_t>(chunk.size()) - first) * nv));
  model.forward(chunk, logits.data(), threads, first);
  return logits;
}

}  // namespace

PerplexityResult perplexity(const DecoderModel& model, const Tokenizer& tok, std::string_view text,
                            const PerplexityOptions& opt) {
  const auto tokens = tok.encode(text, true, false);
  const int n_ctx = opt.ctx;
  if (n_ctx < 4) fail("--ctx ", n_ctx, " is too small");
  if (static_cast<std::int64_t>(tokens.size()) < 2 * static_cast<std::int64_t>(n_ctx))
    fail("the text tokenizes to ", tokens.size(), " tokens; perplexity with a context of ", n_ctx, " needs at least ",
         2 * n_ctx, " (as llama-perplexity requires)");
  PerplexityResult r;
  r.ctx = n_ctx;
  r.text_tokens = static_cast<std::int64_t>(tokens.size());
  int n_chunk = static_cast<int>(tokens.size() / static_cast<std::size_t>(n_ctx));
  if (opt.chunks >= 0) n_chunk = std::min(n_chunk, opt.chunks);
  r.chunks = n_chunk;
  const int first = n_ctx / 2;
  const std::int64_t nv = model.config().n_vocab;
  const int threads = opt.threads > 0 ? opt.threads : hardware_threads();

  std::optional<AtomicFile> save;
  eval::LogitsFileHeader h;
  if (!opt.save_logits.empty()) {
    save.emplace(opt.save_logits);
    h.n_ctx = n_ctx;
    h.n_vocab = static_cast<std::int32_t>(nv);
    h.n_chunk = n_chunk;
    save->write("_logits_", 8);
    save->write(&h.n_ctx, 4);
    save->write(&h.n_vocab, 4);
    save->write(&h.n_chunk, 4);
    save->write(tokens.data(), static_cast<std::size_t>(n_chunk) * static_cast<std::size_t>(n_ctx) * 4);
  }
  double nll = 0, nll2 = 0, forward = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::uint16_t> rows;
  for (int c = 0; c < n_chunk; ++c) {
    const auto begin = tokens.begin() + static_cast<std::ptrdiff_t>(c) * n_ctx;
    const auto tf = std::chrono::steady_clock::now();
    const auto logits = eval_chunk(model, tok, std::vector<std::int32_t>(begin, begin + n_ctx), first, threads);
    forward += std::chrono::duration<double>(std::chrono::steady_clock::now() - tf).count();
    const std::int32_t* next = tokens.data() + static_cast<std::ptrdiff_t>(c) * n_ctx + first + 1;
    const int n_scored = n_ctx - 1 - first;
    if (save) rows.assign(static_cast<std::size_t>(n_scored * h.row_u16()), 0);
    // Each position's NLL on the threads, then summed in position order: the same sums
    // whatever the thread count.
    std::vector<double> v(static_cast<std::size_t>(n_scored));
    parallel_for(v.size(), threads, 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) {
        const float* row = logits.data() + static_cast<std::int64_t>(i) * nv;
        v[i] = save ? eval::compress_log_probs(row, h.n_vocab, rows.data() + i * h.row_u16(), next[i])
                    : nll_of(row, nv, next[i]);
      }
    });
    for (const double x : v) {
      nll += x;
      nll2 += x * x;
    }
    if (save) save->write(rows.data(), rows.size() * 2);
    r.scored += n_scored;
    r.running_ppl.push_back(std::exp(nll / static_cast<double>(r.scored)));
    if (opt.on_chunk) opt.on_chunk(c + 1, n_chunk, r.running_ppl.back());
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.tokens_per_second = r.seconds > 0 ? static_cast<double>(n_chunk) * n_ctx / r.seconds : 0;
  r.forward_seconds = forward;
  r.forward_tokens_per_second = forward > 0 ? static_cast<double>(n_chunk) * n_ctx / forward : 0;
  finish_ppl(r, nll, nll2);
  if (save) save->commit();
  return r;
}

PerplexityResult kl_divergence(const DecoderModel& model, const Tokenizer& tok, const PerplexityOptions& opt) {
  eval::LogitsFileReader base(opt.kld_base);
  const auto& h = base.header();
  const std::int64_t nv = model.config().n_vocab;
  if (h.n_vocab != nv)
    fail(opt.kld_base.string(), ": base logits cover a vocabulary of ", h.n_vocab, ", the model's has ", nv);
  PerplexityResult r;
  r.ctx = h.n_ctx;
  r.text_tokens = static_cast<std::int64_t>(h.tokens.size());
  int n_chunk = h.n_chunk;
  if (opt.chunks >= 0) n_chunk = std::min(n_chunk, opt.chunks);
  r.chunks = n_chunk;
  const int first = h.n_ctx / 2;
  const int threads = opt.threads > 0 ? opt.threads : hardware_threads();
  KldAccum k;
  double nll = 0, nll2 = 0;
  std::vector<std::uint16_t> rows;
  const auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < n_chunk; ++c) {
    const auto begin = h.tokens.begin() + static_cast<std::ptrdiff_t>(c) * h.n_ctx;
    const auto logits = eval_chunk(model, tok, std::vector<std::int32_t>(begin, begin + h.n_ctx), first, threads);
    base.read_chunk(c, rows);
    const std::int32_t* next = h.tokens.data() + static_cast<std::ptrdiff_t>(c) * h.n_ctx + first + 1;
    for (int i = 0; i < h.scored_per_chunk(); ++i)
      kld_position(logits.data() + static_cast<std::int64_t>(i) * nv, nv,
                   rows.data() + static_cast<std::int64_t>(i) * h.row_u16(), next[i], k);
    r.scored += h.scored_per_chunk();
    r.running_ppl.push_back(std::exp(k.sum_nll / static_cast<double>(r.scored)));
    if (opt.on_chunk) opt.on_chunk(c + 1, n_chunk, r.running_ppl.back());
  }
  nll = k.sum_nll;
  nll2 = k.sum_nll2;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.tokens_per_second = r.seconds > 0 ? static_cast<double>(n_chunk) * h.n_ctx / r.seconds : 0;
  finish_ppl(r, nll, nll2);
  r.kld = finish_kld(k);
  return r;
}

std::string PerplexityResult::to_json() const {
  nlohmann::json j = {{"ppl", ppl},       {"ppl_uncertainty", ppl_uncertainty},
                      {"ctx", ctx},       {"chunks", chunks},
                      {"text_tokens", text_tokens}, {"scored", scored},
                      {"seconds", seconds}, {"tokens_per_second", tokens_per_second},
                      {"forward_seconds", forward_seconds}, {"forward_tokens_per_second", forward_tokens_per_second},
                      {"running_ppl", running_ppl}};
  if (kld) {
    j["kld"] = {{"positions", kld->positions}, {"mean", kld->mean}, {"uncertainty", kld->uncertainty},
                {"median", kld->median}, {"p90", kld->p90}, {"p95", kld->p95}, {"p99", kld->p99},
                {"p99_9", kld->p999}, {"max", kld->max}, {"min", kld->min}, {"same_top1", kld->same_top1},
                {"ppl_base", kld->ppl_base}, {"mean_log_ppl_ratio", kld->mean_log_ppl_ratio},
                {"rms_delta_p", kld->rms_delta_p}};
  }
  return j.dump(2);
}

}  // namespace lowbit
