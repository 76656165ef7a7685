// AWQ on one decoder layer (src/algo/ptq_layer.h), in AutoAWQ's order: every scale group
// is searched on the layer as it came in (attention inputs -> q,k,v inspected through the
// attention block; v -> o when their shapes match; MLP inputs -> gate,up inspected through
// the MLP; up -> down), then all scales are folded in, then clip values are searched for
// every Linear but q and k, then each weight is rounded on AWQ's grid.
#include <chrono>
#include <map>
#include <optional>

#include "algo/ggml_grid.h"
#include "algo/ptq_layer.h"
#include "lowbit/error.h"

namespace lowbit::algo {

using Clock = std::chrono::steady_clock;

void awq_quantize_layer(DecoderModel& model, int il, LayerInputs& in, const PtqOptions& opt, int threads,
                        PtqResult& out) {
  const auto t0 = Clock::now();
  DecoderLayer& L = model.layer(il);
  AwqOptions base = opt.awq;
  base.bits = opt.bits;
  base.group_size = opt.group_size;
  base.zero_point = !opt.sym;
  // Into ggml types, each Linear's search grid is its own type's proxy (a Q4_K_M mix has
  // 4-, 5-, 6- and 8-bit tensors; a 4-bit search would over-clip the wider ones).
  auto grid_for = [&](const Linear& l) {
    AwqOptions a = base;
    if (const auto it = opt.ggml_types.find(l.name()); it != opt.ggml_types.end()) {
      const auto proxy = ggml_awq_proxy(it->second);
      a.bits = proxy.bits;
      a.group_size = proxy.group_size;
      a.zero_point = proxy.zero_point;
    }
    return a;
  };
  const std::int64_t d = model.config().n_embd;

  auto block_outputs = [&](bool attn) {
    const auto& xs = attn ? in.attn_in : in.ffn_in;
    std::vector<std::vector<float>> y(xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) {
      y[i].resize(static_cast<std::size_t>(in.tokens[i] * d));
      if (attn) model.attention_block(il, xs[i].data(), in.tokens[i], y[i].data(), threads);
      else model.ffn_block(il, xs[i].data(), in.tokens[i], y[i].data(), threads);
    }
    return y;
  };
  auto block_mse = [&](bool attn, const std::vector<std::vector<float>>& ref) {
    const auto y = block_outputs(attn);
    double s = 0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      for (std::size_t j = 0; j < y[i].size(); ++j) {
        const double e = static_cast<double>(y[i][j]) - ref[i][j];
        s += e * e;
      }
      n += y[i].size();
    }
    return s / static_cast<double>(n);
  };

  std::map<const Linear*, std::vector<double>> h;
  for (const Linear* l : L.linears()) h[l] = take_second_moment(in.stats.at(l->name()));

  // Search: loss(s) with `layers` replaced by Q(W s)/s; a block or, for a lone Linear,
  // the mean squared output error through H (AutoAWQ's MSE without the tokens).
  struct Found {
    std::vector<Linear*> layers;
    std::vector<float> scales;
    float alpha;
  };
  auto search = [&](std::vector<Linear*> layers, const Linear& input_of, int block /* 0 attn, 1 ffn, -1 none */) {
    const auto x_mean = in.stats.at(input_of.name()).mean_abs();
    const AwqOptions ao = grid_for(*layers.front());
    std::vector<std::vector<float>> orig;
    std::vector<std::span<const float>> spans;
    for (Linear* l : layers) orig.push_back(copy_weight(*l));
    for (const auto& w : orig) spans.emplace_back(w);
    const auto w_mean = awq_weight_mean(spans, input_of.cols(), ao.group_size);
    std::vector<std::vector<float>> ref;
    std::vector<float> hf;
    if (block >= 0) ref = block_outputs(block == 0);
    else hf = to_f32(h[&input_of]);
    const auto r = awq_search_scales(x_mean, w_mean, ao, [&](std::span<const float> s) {
      if (block < 0) {
        const Linear& l = *layers[0];
        const auto q = awq_fake_quantize_scaled(orig[0], l.rows(), l.cols(), s, ao);
        return output_error(orig[0], q, l.rows(), l.cols(), hf, threads) / static_cast<double>(l.rows());
      }
      for (std::size_t i = 0; i < layers.size(); ++i)
        layers[i]->set_weight_f32(awq_fake_quantize_scaled(orig[i], layers[i]->rows(), layers[i]->cols(), s, ao));
      const double loss = block_mse(block == 0, ref);
      for (std::size_t i = 0; i < layers.size(); ++i) layers[i]->set_weight_f32(orig[i]);
      return loss;
    });
    return Found{layers, r.scales, static_cast<float>(r.best) / static_cast<float>(ao.n_grid)};
  };

  const Found attn = search({&L.wq, &L.wk, &L.wv}, L.wq, 0);
  const bool v_to_o = L.wv.rows() == L.wo.rows() && L.wv.cols() == L.wo.cols();
  std::optional<Found> vo;
  if (v_to_o) vo = search({&L.wo}, L.wo, -1);
  const Found mlp = search({&L.w_gate, &L.w_up}, L.w_gate, 1);
  const Found down = search({&L.w_down}, L.w_down, -1);

  // Fold: the feeding op divided by s, the Linears' columns times s, their inputs' H too.
  std::map<const Linear*, float> alpha;
  auto apply = [&](const Found& f) {
    for (Linear* l : f.layers) {
      scale_columns(*l, f.scales);
      unscale_moment(h[l], f.scales);
      alpha[l] = f.alpha;
    }
  };
  divide_norm(L.attn_norm, attn.scales);
  apply(attn);
  if (vo) {
    divide_rows(L.wv, vo->scales);
    apply(*vo);
  }
  divide_norm(L.ffn_norm, mlp.scales);
  apply(mlp);
  divide_rows(L.w_up, down.scales);
  apply(down);
  const std::string blk = "blk." + std::to_string(il) + ".";
  out.changed_f32[blk + "attn_norm.weight"] = L.attn_norm;
  out.changed_f32[blk + "ffn_norm.weight"] = L.ffn_norm;
  const double search_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  for (Linear* l : L.linears()) {
    const auto t1 = Clock::now();
    const auto scaled = copy_weight(*l);
    auto w = scaled;
    // q and k feed a product of two quantized projections; AutoAWQ does not clip them.
    const AwqOptions ao = grid_for(*l);
    if (ao.clip && l != &L.wq && l != &L.wk)
      awq_apply_clip(w, l->rows(), l->cols(), ao.group_size, awq_search_clip(w, l->rows(), l->cols(), h[l], ao, threads));
    auto poured = round_into_ggml(l->name(), w, l->rows(), l->cols(), h[l], false, opt, threads, out);
    GptqResult r = poured ? std::move(*poured) : awq_quantize(w, l->rows(), l->cols(), ao);
    finish_linear(*l, il, scaled, std::move(r), to_f32(h[l]),
                  std::chrono::duration<double>(Clock::now() - t1).count() + search_seconds / 7, threads, out,
                  alpha.count(l) ? alpha[l] : -1.0f);
  }
}

}  // namespace lowbit::algo
