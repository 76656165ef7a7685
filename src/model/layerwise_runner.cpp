// LayerwiseRunner (include/lowbit/layerwise.h): the decoder pass of decoder_model.cpp cut
// at layer boundaries, with every calibration sequence's hidden state kept in between.
#include <algorithm>

#include "lowbit/error.h"
#include "lowbit/layerwise.h"

namespace lowbit {

std::vector<std::vector<std::int32_t>> calibration_chunks(const Tokenizer& tok, std::string_view text, int ctx,
                                                          int max_chunks) {
  if (ctx < 2) fail("calibration context of ", ctx, " tokens is too small");
  const auto tokens = tok.encode(text, true, false);
  std::size_t n = tokens.size() / static_cast<std::size_t>(ctx);
  if (max_chunks >= 0) n = std::min(n, static_cast<std::size_t>(max_chunks));
  if (n == 0) fail("the calibration text tokenizes to ", tokens.size(), " tokens, less than one chunk of ", ctx);
  std::vector<std::vector<std::int32_t>> out;
  for (std::size_t c = 0; c < n; ++c) {
    std::vector<std::int32_t> s(tokens.begin() + static_cast<std::ptrdiff_t>(c * static_cast<std::size_t>(ctx)),
                                tokens.begin() + static_cast<std::ptrdiff_t>((c + 1) * static_cast<std::size_t>(ctx)));
    if (tok.special().add_bos && tok.special().bos >= 0) s[0] = tok.special().bos;
    out.push_back(std::move(s));
  }
  return out;
}

LayerwiseRunner::LayerwiseRunner(const DecoderModel& model, std::vector<std::vector<std::int32_t>> seqs, int threads)
    : model_(model), seqs_(std::move(seqs)), threads_(threads) {
  const std::int64_t d = model_.config().n_embd;
  for (const auto& s : seqs_) {
    std::vector<float> h(s.size() * static_cast<std::size_t>(d));
    model_.embed(s, h.data());
    hidden_.push_back(std::move(h));
  }
}

std::int64_t LayerwiseRunner::tokens() const {
  std::int64_t n = 0;
  for (const auto& s : seqs_) n += static_cast<std::int64_t>(s.size());
  return n;
}

namespace {
struct LayerStopped {};  // unwinds a capture pass past the last Linear it needs
}  // namespace

void LayerwiseRunner::run_layer(const LinearInputObserver& observe, bool advance, const Linear* stop_after) {
  if (next_ >= model_.config().n_layer) fail("all ", model_.config().n_layer, " layers have run already");
  if (advance && stop_after) fail("a layer that advances the hidden states must run whole");
  LinearInputObserver watch = observe;
  if (stop_after)
    watch = [&](int il, const Linear& lin, const float* x, std::int64_t rows) {
      if (observe) observe(il, lin, x, rows);
      if (&lin == stop_after) throw LayerStopped{};
    };
  for (std::size_t i = 0; i < seqs_.size(); ++i) {
    std::vector<float> h = hidden_[i];
    try {
      model_.run_layer(next_, h.data(), static_cast<std::int64_t>(seqs_[i].size()), threads_, watch,
                       cache_.empty() ? nullptr : &cache_[i]);
    } catch (const LayerStopped&) {
    }
    if (advance) hidden_[i] = std::move(h);
  }
  if (advance) {
    ++next_;
    cache_ = {};
  }
}

void LayerwiseRunner::keep_attention_context() {
  if (cache_.empty()) cache_.resize(seqs_.size());
  for (auto& c : cache_) c.attention_final = true;
}

void LayerwiseRunner::keep_attention_residual() {
  if (cache_.empty()) cache_.resize(seqs_.size());
  for (auto& c : cache_) c.residual_final = true;
}

void LayerwiseRunner::run_head(const LinearInputObserver& observe) {
  if (next_ != model_.config().n_layer) fail("the head runs after all layers; layer ", next_, " is next");
  std::vector<float> logits;
  for (std::size_t i = 0; i < seqs_.size(); ++i) {
    const auto T = static_cast<std::int64_t>(seqs_[i].size());
    logits.resize(static_cast<std::size_t>(T * model_.config().n_vocab));
    model_.head(hidden_[i].data(), T, 0, logits.data(), threads_, observe);
  }
}

}  // namespace lowbit
