// What the layer-wise PTQ drivers (ptq_decoder.cpp, ptq_encoder.cpp) share with the
// per-method layer code (ptq_awq_layer.cpp): the captured inputs of one layer, the one
// Linear quantizer and the error report.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lowbit/activation_stats.h"
#include "lowbit/ptq.h"

namespace lowbit::algo {

// (1/n) X^T X of a Linear's captured inputs, in double, formed in the statistics' own
// storage (s.xtx is left empty): the caller is done with them.
std::vector<double> take_second_moment(LinearInputStats& s);

// tr(dW H dW^T) through an fp32 matmul (a layer's worth in milliseconds; the relative
// rounding, ~cols * 2^-24, is far below the differences these numbers rank).
double output_error(std::span<const float> w, std::span<const float> q, std::int64_t rows, std::int64_t cols,
                    std::span<const float> h, int threads);
std::vector<float> to_f32(std::span<const double> h);
// tr(dW H dW^T) / tr(W H W^T), H in fp32.
double relative_output_error(std::span<const float> w, std::span<const float> q, std::int64_t rows, std::int64_t cols,
                             std::span<const float> h, int threads);

// The Linear computes with r from now on; its report (the relative output error against
// w through hf, H in fp32, when not empty) and its codes go into out.
void finish_linear(Linear& lin, int il, std::span<const float> w, GptqResult r, std::span<const float> hf,
                   double seconds, int threads, PtqResult& out, float awq_alpha = -1);

// RTN, MSE-RTN, GPTQ, HQQ or SqueezeLLM k-means of one Linear given its inputs'
// statistics (null: none captured), which it consumes: H is formed in their storage.
void quantize_linear(Linear& lin, int il, LinearInputStats* stats, const PtqOptions& opt, int threads,
                     PtqResult& out);

// When opt.ggml_types names this Linear: rounds w into that ggml type (GPTQ with H when
// `gptq`, else round-to-nearest in the fitted blocks), stores the bytes in
// out.ggml_bytes[name] and returns the result; otherwise nullopt. h may be empty (no
// importance then; GPTQ needs it).
std::optional<GptqResult> round_into_ggml(const std::string& name, std::span<const float> w, std::int64_t rows,
                                          std::int64_t cols, std::span<const double> h, bool gptq,
                                          const PtqOptions& opt, int threads, PtqResult& out);

// Scale folding (ptq_scale_fold.cpp): W[:, c] *= s[c]; W[r, :] /= s[r] (and bias);
// norm[c] /= s[c]; H of inputs x / s: S^-1 H S^-1.
std::vector<float> copy_weight(const Linear& l);
void scale_columns(Linear& l, std::span<const float> s);
void divide_rows(Linear& l, std::span<const float> s);
void divide_norm(std::vector<float>& norm, std::span<const float> s);
void unscale_moment(std::vector<double>& h, std::span<const float> s);

// One decoder layer's inputs as AWQ needs them: statistics of all seven Linears, and the
// normed inputs of attention and MLP of the first sequences, kept whole (attention mixes
// positions, so its output error needs whole sequences).
struct LayerInputs {
  ActivationStats stats{ActivationStatsOptions{true, {}}};
  std::vector<std::vector<float>> attn_in, ffn_in;  // per sequence, T x n_embd
  std::vector<std::int64_t> tokens;                 // T per kept sequence
};

// AWQ on layer il: scale search per group on the captured inputs, scales folded into the
// norms (and up_proj for down_proj), clip search, round to nearest; the layer's Linears
// get the dequantized weights. Appends the Linears' reports and codes to `out`.
// SmoothQuant (Xiao et al. 2023) on layer il: s = max|x|^alpha / max|w|^(1-alpha) per input
// channel of q,k,v and of gate,up folded into their RMSNorms, then every Linear rounded
// on opt's grid and its inputs fake-quantized as opt.act_quant says.
void smoothquant_layer(DecoderModel& model, int il, ActivationStats& stats, const PtqOptions& opt, int threads,
                       PtqResult& out);

void awq_quantize_layer(DecoderModel& model, int il, LayerInputs& in, const PtqOptions& opt, int threads,
                        PtqResult& out);

}  // namespace lowbit::algo
