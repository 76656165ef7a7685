// The layer-wise PTQ driver (include/lowbit/ptq.h): per layer, capture the Linears'
// inputs with the layers before already quantized, quantize (RTN / MSE-RTN / GPTQ here,
// AWQ in ptq_awq_layer.cpp), then run the quantized layer to make the next layer's inputs.
#include <chrono>
#include <cmath>

#include "algo/ggml_grid.h"
#include "algo/ptq_layer.h"
#include "kernels/gemm_f32.h"
#include "lowbit/error.h"
#include "lowbit/hqq.h"
#include "lowbit/layerwise.h"
#include "lowbit/parallel.h"

namespace lowbit {

PtqMethod parse_ptq_method(std::string_view name) {
  if (name == "rtn") return PtqMethod::Rtn;
  if (name == "rtn-mse") return PtqMethod::RtnMse;
  if (name == "gptq") return PtqMethod::Gptq;
  if (name == "awq") return PtqMethod::Awq;
  if (name == "kmeans") return PtqMethod::Kmeans;
  if (name == "hqq") return PtqMethod::Hqq;
  if (name == "smoothquant") return PtqMethod::SmoothQuant;
  fail("unknown method '", name, "' (rtn, rtn-mse, gptq, awq, kmeans, hqq, smoothquant)");
}

const char* ptq_method_name(PtqMethod m) {
  switch (m) {
    case PtqMethod::Rtn: return "rtn";
    case PtqMethod::RtnMse: return "rtn-mse";
    case PtqMethod::Gptq: return "gptq";
    case PtqMethod::Awq: return "awq";
    case PtqMethod::Kmeans: return "kmeans";
    case PtqMethod::Hqq: return "hqq";
    case PtqMethod::SmoothQuant: return "smoothquant";
  }
  return "?";
}

void make_decoder_f32(DecoderModel& model) {
  for (int il = 0; il < model.config().n_layer; ++il)
    for (Linear* lin : model.layer(il).linears()) lin->use_exact_f32();
  model.output().use_exact_f32();
}

namespace algo {

std::vector<double> take_second_moment(LinearInputStats& s) {
  std::vector<double> h = std::move(s.xtx);
  s.xtx = std::vector<double>();
  const double n = s.rows > 0 ? static_cast<double>(s.rows) : 1.0;
  for (double& v : h) v /= n;
  return h;
}

double output_error(std::span<const float> w, std::span<const float> q, std::int64_t rows, std::int64_t cols,
                    std::span<const float> h, int threads) {
  std::vector<float> d(w.size()), dh(w.size());
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = w[i] - q[i];
  kernels::gemm_f32_nt(d.data(), h.data(), dh.data(), rows, cols, cols, threads);  // H is symmetric
  double s = 0;
  for (std::size_t i = 0; i < d.size(); ++i) s += static_cast<double>(d[i]) * dh[i];
  return s;
}

std::optional<GptqResult> round_into_ggml(const std::string& name, std::span<const float> w, std::int64_t rows,
                                          std::int64_t cols, std::span<const double> h, bool gptq,
                                          const PtqOptions& opt, int threads, PtqResult& out) {
  const auto it = opt.ggml_types.find(name);
  if (it == opt.ggml_types.end()) return std::nullopt;
  const ggml::Type t = it->second;
  std::vector<float> importance;
  if (!h.empty())
    for (std::int64_t j = 0; j < cols; ++j) importance.push_back(static_cast<float>(h[static_cast<std::size_t>(j * cols + j)]));
  if (ggml_grid_supported(t)) {
    GgmlGrid grid(t, rows, cols, std::move(importance));
    GptqOptions g = opt.gptq;
    // Blocks are runs of original columns: act-order keeps its order but static groups.
    if (g.act_order) g.static_groups = true;
    g = grid.options(g);
    GptqResult r = gptq ? gptq_quantize(w, rows, cols, h, g, threads) : rtn_gptq_grid(w, rows, cols, g);
    out.ggml_bytes[name] = grid.pack(r);
    return r;
  }
  const auto row_bytes = ggml::row_size(t, cols);
  if (!row_bytes) fail("tensor '", name, "': ", cols, " columns are not whole blocks of ", ggml::traits(t).name);
  std::vector<std::byte> bytes(*row_bytes * static_cast<std::size_t>(rows));
  ggml::quantize_rows(t, w.data(), bytes.data(), rows, cols, importance.empty() ? nullptr : importance.data(), threads);
  GptqResult r;
  r.rows = rows;
  r.cols = cols;
  r.dequantized.resize(w.size());
  ggml::dequantize(t, bytes.data(), r.dequantized.data(), rows * cols, threads);
  out.ggml_bytes[name] = std::move(bytes);
  out.ggml_type[name] = t;
  return r;
}

void finish_linear(Linear& lin, int il, std::span<const float> w, GptqResult r, std::span<const float> hf,
                   double seconds, int threads, PtqResult& out, float awq_alpha) {
  PtqLinearReport rep;
  rep.layer = il;
  rep.name = lin.name();
  rep.rows = lin.rows();
  rep.cols = lin.cols();
  rep.rel_error = hf.empty() ? std::nan("") : relative_output_error(w, r.dequantized, rep.rows, rep.cols, hf, threads);
  std::vector<float> values = std::move(r.dequantized);
  r.dequantized = {};
  auto codes = std::make_shared<const GptqResult>(std::move(r));
  // The Linear keeps the codes (shared with the result), not fp32, once they are shown
  // to decode to the method's values exactly: a quantized layer then costs its code size.
  std::shared_ptr<const WeightRows> form;
  if (const auto k = out.codebooks.find(lin.name()); k != out.codebooks.end())
    form = codebook_weight_rows(codes, k->second);
  else if (!codes->codes.empty())
    form = grid_weight_rows(codes);
  else if (const auto g = out.ggml_bytes.find(lin.name()); g != out.ggml_bytes.end())
    form = ggml_weight_rows(out.ggml_type.at(lin.name()), g->second, lin.rows(), lin.cols());
  rep.compact = form && decodes_to(*form, values);
  if (rep.compact) lin.set_weight_rows(std::move(form));
  else lin.set_weight_f32(std::move(values));
  rep.seconds = seconds;
  rep.awq_alpha = awq_alpha;
  out.linears.push_back(rep);
  out.weights[lin.name()] = std::move(codes);
}

std::vector<float> to_f32(std::span<const double> h) { return {h.begin(), h.end()}; }

double relative_output_error(std::span<const float> w, std::span<const float> q, std::int64_t rows, std::int64_t cols,
                             std::span<const float> hf, int threads) {
  const double num = output_error(w, q, rows, cols, hf, threads);
  const double den = output_error(w, std::vector<float>(w.size(), 0.0f), rows, cols, hf, threads);
  return den > 0 ? num / den : 0.0;
}

}  // namespace algo

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

GptqOptions grid_options(const PtqOptions& opt) {
  GptqOptions g = opt.gptq;
  g.bits = opt.bits;
  g.group_size = opt.group_size;
  g.sym = opt.sym;
  g.mse = opt.method == PtqMethod::RtnMse || (opt.method == PtqMethod::Gptq && opt.gptq.mse);
  return g;
}

}  // namespace

namespace algo {

void quantize_linear(Linear& lin, int il, LinearInputStats* stats, const PtqOptions& opt, int threads,
                     PtqResult& out) {
  const auto t0 = Clock::now();
  const std::vector<float> w = lin.decoded_weight();
  const GptqOptions g = grid_options(opt);
  std::vector<double> h;
  if (stats) h = algo::take_second_moment(*stats);
  const std::vector<float> hf = algo::to_f32(h);  // for the error report
  const bool gptq = opt.method == PtqMethod::Gptq;
  if (opt.method == PtqMethod::Kmeans) {
    // SqueezeLLM's sensitivity: the calibration's diag(X^T X)/n per input column.
    std::vector<float> sens;
    for (std::int64_t j = 0; j < lin.cols() && !h.empty(); ++j)
      sens.push_back(static_cast<float>(h[static_cast<std::size_t>(j * lin.cols() + j)]));
    SqueezeLlmOptions so;
    so.bits = opt.bits;
    so.outlier_fraction = opt.outlier_fraction;
    SqueezeLlmResult k = squeezellm_quantize(w, lin.rows(), lin.cols(), sens, so, threads);
    GptqResult r;
    r.rows = lin.rows();
    r.cols = lin.cols();
    r.codes = std::move(k.codes);
    r.dequantized = std::move(k.dequantized);
    k.codes.clear();
    k.dequantized.clear();  // both live on in r (codes) and the Linear (values)
    out.codebooks[lin.name()] = std::move(k);
    algo::finish_linear(lin, il, w, std::move(r), hf, since(t0), threads, out);
    return;
  }
  if (opt.method == PtqMethod::Hqq && !opt.ggml_types.count(lin.name())) {
    HqqOptions ho;
    ho.bits = opt.bits;
    ho.group_size = opt.group_size;
    algo::finish_linear(lin, il, w, hqq_quantize(w, lin.rows(), lin.cols(), ho, threads), hf, since(t0), threads, out);
    return;
  }
  auto poured = algo::round_into_ggml(lin.name(), w, lin.rows(), lin.cols(), h, gptq, opt, threads, out);
  GptqResult r = poured ? std::move(*poured)
                 : gptq ? gptq_quantize(w, lin.rows(), lin.cols(), std::move(h), g, threads)
                        : rtn_gptq_grid(w, lin.rows(), lin.cols(), g);
  algo::finish_linear(lin, il, w, std::move(r), hf, since(t0), threads, out);
}

}  // namespace algo

namespace {

// W8A8: int8 symmetric activations from here on (the layers after see their effect).
void set_activation_quant(DecoderLayer& L, const PtqOptions& opt) {
  if (!opt.act_quant) return;
  const auto q = calib::ActivationQuantizer::dynamic(*opt.act_quant, calib::quant_target(8, true, true));
  for (Linear* lin : L.linears()) lin->set_activation_quant(q);
}

}  // namespace

PtqResult quantize_decoder(DecoderModel& model, std::vector<std::vector<std::int32_t>> calib, const PtqOptions& opt) {
  const auto t0 = Clock::now();
  if ((opt.method == PtqMethod::Gptq || opt.method == PtqMethod::Awq || opt.method == PtqMethod::SmoothQuant) &&
      calib.empty())
    fail(ptq_method_name(opt.method), " needs calibration text");
  const int threads = opt.threads > 0 ? opt.threads : hardware_threads();
  PtqResult res;
  const int n_layer = model.config().n_layer;
  if (calib.empty()) {
    for (int il = 0; il < n_layer; ++il) {
      if (opt.on_layer) opt.on_layer(il, n_layer);
      for (Linear* lin : model.layer(il).linears()) algo::quantize_linear(*lin, il, nullptr, opt, threads, res);
      set_activation_quant(model.layer(il), opt);
    }
    res.seconds = since(t0);
    return res;
  }
  const std::size_t keep = opt.awq_search_sequences > 0
                               ? std::min(calib.size(), static_cast<std::size_t>(opt.awq_search_sequences))
                               : calib.size();
  LayerwiseRunner runner(model, std::move(calib), threads);
  res.calibration_tokens = runner.tokens();
  for (int il = 0; il < n_layer; ++il) {
    if (opt.on_layer) opt.on_layer(il, n_layer);
    DecoderLayer& L = model.layer(il);
    if (opt.method == PtqMethod::SmoothQuant) {
      ActivationStats stats(ActivationStatsOptions{true, {}});
      runner.run_layer([&](int, const Linear& lin, const float* x,
                           std::int64_t rows) { stats.add(lin.name(), x, rows, lin.cols(), threads); },
                       false, &L.w_down);
      stats.drop_input_cache();
      algo::smoothquant_layer(model, il, stats, opt, threads, res);
    } else if (opt.method == PtqMethod::Awq) {
      algo::LayerInputs in;
      std::size_t seen_attn = 0, seen_ffn = 0;
      runner.run_layer(
          [&](int, const Linear& lin, const float* x, std::int64_t rows) {
            in.stats.add(lin.name(), x, rows, lin.cols(), threads);
            if (&lin == &L.wq && seen_attn++ < keep) {
              in.attn_in.emplace_back(x, x + rows * lin.cols());
              in.tokens.push_back(rows);
            }
            if (&lin == &L.w_gate && seen_ffn++ < keep) in.ffn_in.emplace_back(x, x + rows * lin.cols());
          },
          false, &L.w_down);
      in.stats.drop_input_cache();
      algo::awq_quantize_layer(model, il, in, opt, threads, res);
    } else {
      // Groups in the order they run; without true-sequential, one capture for all.
      std::vector<std::vector<Linear*>> groups = {{&L.wq, &L.wk, &L.wv}, {&L.wo}, {&L.w_gate, &L.w_up}, {&L.w_down}};
      if (!(opt.method == PtqMethod::Gptq && opt.true_sequential)) groups = {L.linears()};
      // True-sequential groups share one input: it is captured once, at the first Linear.
      const bool shared = groups.size() > 1;
      for (const auto& group : groups) {
        ActivationStats stats(ActivationStatsOptions{true, {}});
        runner.run_layer(
            [&](int, const Linear& lin, const float* x, std::int64_t rows) {
              for (const Linear* g : group)
                if (g == &lin) stats.add(lin.name(), x, rows, lin.cols(), threads);
            },
            false, shared ? group.front() : group.back());
        stats.drop_input_cache();
        for (Linear* lin : group) {
          const std::string& from = shared ? group.front()->name() : lin->name();
          // Only a shared input outlives its Linear; anything else moves out and is freed.
          LinearInputStats s = shared && lin != group.back() ? stats.at(from) : stats.take(from);
          algo::quantize_linear(*lin, il, &s, opt, threads, res);
        }
        // Once q, k, v (then o) are final, later passes over this layer reuse attention's
        // output (then the residual after it). Not with int8 activations: those change
        // the outputs of a finished layer's Linears before it advances.
        if (shared && !opt.act_quant) {
          if (group.back() == &L.wv) runner.keep_attention_context();
          if (group.back() == &L.wo) runner.keep_attention_residual();
        }
      }
    }
    set_activation_quant(L, opt);
    runner.run_layer({}, true);
  }
  res.seconds = since(t0);
  return res;
}

}  // namespace lowbit
