// AWQ (Lin et al., "AWQ: Activation-aware Weight Quantization for LLM Compression and
// Acceleration", MLSys 2024): scale each input channel by s (Sec. 3.2, Eq. 4-5: s =
// s_X^alpha, alpha by grid search on the block's output error), fold 1/s into the op
// that feeds the layer, then clip each group's range (max shrink) and round to nearest.
// The pieces here are model-free; src/algo/ptq_decoder.cpp runs them on a decoder.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "lowbit/gptq.h"

namespace lowbit {

struct AwqOptions {
  int bits = 4;
  std::int64_t group_size = 128;  // <= 0: one group per row; a last shorter group is allowed
  bool zero_point = true;         // asymmetric (AutoAWQ's default) or symmetric int grid
  int n_grid = 20;                // alpha = i / n_grid, i < n_grid
  bool duo_scaling = true;        // s = x^a / (w^(1-a) + 1e-4), AutoAWQ's default
  bool clip = true;
  int clip_grid = 20;             // max = max0 * (1 - i / clip_grid), i < max_shrink * clip_grid
  double max_shrink = 0.5;
};

// AutoAWQ's pseudo_quantize_tensor on each row's groups, in the common convention
// w ~ scale * (code - zero): asymmetric scale = max(max - min, 1e-5) / (2^b - 1), zero =
// clamp(-round(min / scale)); symmetric scale = max(max|w|, 1e-5) / (2^(b-1) - 1), codes
// -2^(b-1) .. 2^(b-1) - 1 stored with zero = 2^(b-1). Rounding half to even (torch.round).
GptqResult awq_quantize(std::span<const float> w, std::int64_t rows, std::int64_t cols, const AwqOptions& opt);

// Mean over all rows of the weights sharing an input of |w| / (max|w| of its group + 1e-6):
// the "w" of duo scaling. Each span is one Linear's [rows_i, cols] weight.
std::vector<float> awq_weight_mean(const std::vector<std::span<const float>>& weights, std::int64_t cols,
                                   std::int64_t group_size);

// The candidate scales for alpha: (x^a / (w^(1-a) + 1e-4) or x^a) clamped to >= 1e-4,
// divided by sqrt(max * min).
std::vector<float> awq_candidate_scales(std::span<const float> x_mean_abs, std::span<const float> w_mean, float alpha,
                                        bool duo_scaling);

struct AwqScaleSearch {
  int best = -1;                 // index of the chosen alpha = best / n_grid
  std::vector<float> scales;     // the chosen scales
  std::vector<double> losses;    // output MSE for each alpha
};

// Grid search of alpha: loss(scales) must return the inspected block's output MSE with
// its Linears replaced by Q(W diag(s)) diag(s)^-1; the first least loss wins.
AwqScaleSearch awq_search_scales(std::span<const float> x_mean_abs, std::span<const float> w_mean,
                                 const AwqOptions& opt, const std::function<double(std::span<const float>)>& loss);

// Q(W diag(s)) diag(s)^-1: what the block computes with scaled, quantized weights.
std::vector<float> awq_fake_quantize_scaled(std::span<const float> w, std::int64_t rows, std::int64_t cols,
                                            std::span<const float> scales, const AwqOptions& opt);

// Per (row, group) clip value minimizing the group's output error delta^T H_gg delta,
// H = X^T X / n of the inputs (AutoAWQ evaluates the same mean over a 512-token sample;
// give the sample's H to reproduce it). Returns max_val [rows, groups].
std::vector<float> awq_search_clip(std::span<const float> w, std::int64_t rows, std::int64_t cols,
                                   std::span<const double> hessian, const AwqOptions& opt, int threads);

// Clamps each group to [-max_val, max_val] in place.
void awq_apply_clip(std::span<float> w, std::int64_t rows, std::int64_t cols, std::int64_t group_size,
                    std::span<const float> max_val);

}  // namespace lowbit
