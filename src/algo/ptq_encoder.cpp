// Layer-wise PTQ of a BERT encoder (all-MiniLM-L6-v2; include/lowbit/ptq.h): the same
// per-Linear methods as the decoder driver, on calibration sentences run through the
// layers already quantized. AWQ folds only v -> o: BERT's LayerNorms come after the
// residual add, so their outputs are the residual stream and cannot carry 1/s.
#include <chrono>
#include <map>

#include "algo/ptq_layer.h"
#include "lowbit/bert.h"
#include "lowbit/error.h"
#include "lowbit/parallel.h"

namespace lowbit {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// AWQ on one encoder layer: the v -> o scale search (o's own output error through its H,
// as AutoAWQ inspects o_proj alone), v's rows and bias divided by s and o's columns times
// s, then clip search on every Linear but query and key, then AWQ's grid.
void awq_encoder_layer(BertLayer& L, int il, ActivationStats& stats, const PtqOptions& opt, int threads,
                       PtqResult& out) {
  const auto t0 = Clock::now();
  AwqOptions ao = opt.awq;
  ao.bits = opt.bits;
  ao.group_size = opt.group_size;
  ao.zero_point = !opt.sym;
  std::map<const Linear*, std::vector<double>> h;
  for (const Linear* l : L.linears()) h[l] = algo::take_second_moment(stats.at(l->name()));
  const auto orig = algo::copy_weight(L.attn_out);
  const std::vector<std::span<const float>> spans = {orig};
  const auto w_mean = awq_weight_mean(spans, L.attn_out.cols(), ao.group_size);
  const std::vector<float> hf = algo::to_f32(h[&L.attn_out]);
  const auto found = awq_search_scales(stats.at(L.attn_out.name()).mean_abs(), w_mean, ao, [&](std::span<const float> s) {
    const auto q = awq_fake_quantize_scaled(orig, L.attn_out.rows(), L.attn_out.cols(), s, ao);
    return algo::output_error(orig, q, L.attn_out.rows(), L.attn_out.cols(), hf, threads) /
           static_cast<double>(L.attn_out.rows());
  });
  algo::divide_rows(L.value, found.scales);
  algo::scale_columns(L.attn_out, found.scales);
  algo::unscale_moment(h[&L.attn_out], found.scales);
  const float alpha = static_cast<float>(found.best) / static_cast<float>(ao.n_grid);
  const double search_seconds = since(t0);
  for (Linear* l : L.linears()) {
    const auto t1 = Clock::now();
    const auto scaled = algo::copy_weight(*l);
    auto w = scaled;
    if (ao.clip && l != &L.query && l != &L.key)
      awq_apply_clip(w, l->rows(), l->cols(), ao.group_size, awq_search_clip(w, l->rows(), l->cols(), h[l], ao, threads));
    algo::finish_linear(*l, il, scaled, awq_quantize(w, l->rows(), l->cols(), ao), algo::to_f32(h[l]),
                        since(t1) + (l == &L.attn_out ? search_seconds : 0.0), threads, out,
                        l == &L.attn_out ? alpha : -1.0f);
  }
}

}  // namespace

PtqResult quantize_encoder(BertEncoder& enc, std::vector<std::vector<std::int32_t>> calib, const PtqOptions& opt) {
  const auto t0 = Clock::now();
  if (opt.method == PtqMethod::SmoothQuant)
    fail("smoothquant: a BERT encoder's LayerNorms feed the residual stream, so there is no norm to fold scales into");
  if (!opt.ggml_types.empty()) fail("ggml block types are for GGUF decoders; an encoder takes intB:gG or kmeansB:channel");
  if ((opt.method == PtqMethod::Gptq || opt.method == PtqMethod::Awq) && calib.empty())
    fail(ptq_method_name(opt.method), " needs calibration text");
  const int threads = opt.threads > 0 ? opt.threads : hardware_threads();
  const int n_layer = enc.config().num_layers;
  for (int il = 0; il < n_layer; ++il)
    for (Linear* lin : enc.layer(il).linears()) lin->use_exact_f32();
  PtqResult res;
  // Hidden states of every calibration sentence between layers (MiniLM: 384 floats a token).
  std::vector<std::vector<float>> hidden;
  std::vector<std::vector<std::int32_t>> masks;
  for (const auto& s : calib) {
    if (s.empty()) continue;
    hidden.push_back(enc.embed(s, 1));
    masks.emplace_back(s.size(), 1);
    res.calibration_tokens += static_cast<std::int64_t>(s.size());
  }
  auto pass = [&](int il, const LinearInputObserver& observe, bool advance) {
    for (std::size_t i = 0; i < hidden.size(); ++i) {
      if (advance) {
        enc.run_layer(il, hidden[i], masks[i], 1, threads, observe);
      } else {
        std::vector<float> h = hidden[i];
        enc.run_layer(il, h, masks[i], 1, threads, observe);
      }
    }
  };
  for (int il = 0; il < n_layer; ++il) {
    if (opt.on_layer) opt.on_layer(il, n_layer);
    BertLayer& L = enc.layer(il);
    if (hidden.empty()) {
      for (Linear* lin : L.linears()) algo::quantize_linear(*lin, il, nullptr, opt, threads, res);
      continue;
    }
    // Groups in the order they run; GPTQ's true-sequential mode captures each group's
    // inputs after the groups before it are quantized, the others capture once.
    std::vector<std::vector<Linear*>> groups = {{&L.query, &L.key, &L.value}, {&L.attn_out}, {&L.intermediate}, {&L.output}};
    if (!(opt.method == PtqMethod::Gptq && opt.true_sequential)) groups = {L.linears()};
    for (const auto& group : groups) {
      ActivationStats stats(ActivationStatsOptions{true, {}});
      pass(il, [&](int, const Linear& lin, const float* x, std::int64_t rows) {
        for (const Linear* g : group)
          if (g == &lin) stats.add(lin.name(), x, rows, lin.cols(), threads);
      }, false);
      stats.drop_input_cache();
      if (opt.method == PtqMethod::Awq) {
        awq_encoder_layer(L, il, stats, opt, threads, res);
        continue;
      }
      for (Linear* lin : group) {
        LinearInputStats s = stats.take(lin->name());
        algo::quantize_linear(*lin, il, &s, opt, threads, res);
      }
    }
    // Calibration sentences are short (tens of tokens), so decoding a compact weight on
    // every call would cost more than its products; the layer runs on its fp32 decode,
    // which computes the same outputs bit for bit.
    for (Linear* lin : L.linears()) lin->set_weight_f32(lin->decoded_weight());
    for (auto& rep : res.linears)
      if (rep.layer == il) rep.compact = false;
    pass(il, {}, true);
  }
  res.seconds = since(t0);
  return res;
}

}  // namespace lowbit
