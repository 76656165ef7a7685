// SmoothQuant on one decoder layer (Xiao et al., "SmoothQuant: Accurate and Efficient
// Post-Training Quantization for Large Language Models", ICML 2023, eq. 4), as the
// reference smooth_ln_fcs does it: per input channel j of the Linears behind a norm,
// s_j = max|X_j|^alpha / max_i |W_ij|^(1-alpha) (both clamped to >= 1e-5, W over the
// group's stacked weights), norm /= s, W *= s. Outliers move from activations to weights,
// then weights are rounded per output channel and activations quantized per token.
#include <chrono>
#include <cmath>

#include "algo/ptq_layer.h"
#include "lowbit/error.h"

namespace lowbit::algo {

namespace {

std::vector<float> smooth_scales(const LinearInputStats& x, const std::vector<Linear*>& group, float alpha) {
  const std::int64_t cols = group.front()->cols();
  std::vector<float> s(static_cast<std::size_t>(cols)), wmax(static_cast<std::size_t>(cols), 0.0f);
  for (const Linear* l : group) {
    const auto w = l->decoded_weight();
    for (std::int64_t i = 0; i < l->rows(); ++i)
      for (std::int64_t j = 0; j < cols; ++j)
        wmax[static_cast<std::size_t>(j)] =
            std::max(wmax[static_cast<std::size_t>(j)], std::fabs(w[static_cast<std::size_t>(i * cols + j)]));
  }
  for (std::int64_t j = 0; j < cols; ++j) {
    const auto jj = static_cast<std::size_t>(j);
    const float xmax = std::max({std::fabs(x.min[jj]), std::fabs(x.max[jj]), 1e-5f});
    s[jj] = std::max(std::pow(xmax, alpha) / std::pow(std::max(wmax[jj], 1e-5f), 1.0f - alpha), 1e-5f);
  }
  return s;
}

}  // namespace

void smoothquant_layer(DecoderModel& model, int il, ActivationStats& stats, const PtqOptions& opt, int threads,
                       PtqResult& out) {
  const auto t0 = std::chrono::steady_clock::now();
  DecoderLayer& L = model.layer(il);
  std::map<const Linear*, std::vector<double>> h;
  for (const Linear* l : L.linears()) h[l] = take_second_moment(stats.at(l->name()));
  const std::vector<Linear*> qkv = {&L.wq, &L.wk, &L.wv}, gate_up = {&L.w_gate, &L.w_up};
  const auto s_attn = smooth_scales(stats.at(L.wq.name()), qkv, opt.smooth_alpha);
  const auto s_ffn = smooth_scales(stats.at(L.w_gate.name()), gate_up, opt.smooth_alpha);
  divide_norm(L.attn_norm, s_attn);
  divide_norm(L.ffn_norm, s_ffn);
  for (Linear* l : qkv) scale_columns(*l, s_attn), unscale_moment(h[l], s_attn);
  for (Linear* l : gate_up) scale_columns(*l, s_ffn), unscale_moment(h[l], s_ffn);
  const std::string blk = "blk." + std::to_string(il) + ".";
  out.changed_f32[blk + "attn_norm.weight"] = L.attn_norm;
  out.changed_f32[blk + "ffn_norm.weight"] = L.ffn_norm;
  const double fold_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  GptqOptions g = opt.gptq;
  g.bits = opt.bits;
  g.group_size = opt.group_size;
  g.sym = opt.sym;
  for (Linear* l : L.linears()) {
    const auto t1 = std::chrono::steady_clock::now();
    const auto w = copy_weight(*l);
    GptqResult r = rtn_gptq_grid(w, l->rows(), l->cols(), g);
    finish_linear(*l, il, w, std::move(r), to_f32(h[l]),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count() + fold_seconds / 7,
                  threads, out);
  }
}

}  // namespace lowbit::algo
