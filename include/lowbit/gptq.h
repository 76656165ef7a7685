// GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative
// Pre-trained Transformers", ICLR 2023, Algorithm 1): quantize a Linear weight column by
// column and spread each column's error over the not-yet-quantized columns through the
// Cholesky factor of the inverse Hessian H = 2/n X^T X of the layer's inputs.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace lowbit {

// One group's grid. GPTQ's own: value = scale * (q - zero), q = clamp(round(x / scale) +
// zero). A fitted grid may instead carry an offset (ggml's Q4_1/Q5_1 min): value = scale *
// q + offset, q = clamp(round((x - offset) / scale)). scale 0 maps everything to q = zero.
struct GroupGrid {
  float scale = 1, zero = 0;
  float offset = 0;
  bool has_offset = false;
};

// Fits the grid of the group starting at column first_col of `row`. row_values points at
// the row's column 0 and holds its current values (with GPTQ's updates so far) from
// first_col to the row's end, so a fitter may look at a whole block around the group. Lets
// GPTQ quantize inside another format's groups (ggml block types, src/algo/ggml_grid.h).
using GroupFitter = std::function<GroupGrid(std::int64_t row, std::int64_t first_col, const float* row_values)>;

struct GptqOptions {
  int bits = 4;                    // codes 0 .. 2^bits - 1
  std::int64_t group_size = 128;   // columns per (scale, zero); <= 0: one group per row
  bool sym = false;                // GPTQ's symmetric grid: zero fixed at 2^(bits-1)
  bool act_order = false;          // desc_act: quantize columns by decreasing H_jj
  bool static_groups = false;      // group parameters from the original weight, before updates
  std::int64_t block_size = 128;   // lazy batch updates (Sec. 4, "Lazy Batch-Updates")
  double percdamp = 0.01;          // lambda = percdamp * mean(diag H) added to the diagonal
  // The reference quantizer's mse option (MSE-clipped grids): each group's range shrunk
  // by p = 1 - i/mse_grid, i < mse_maxshrink * mse_grid, minimizing sum |q - w|^mse_norm.
  bool mse = false;
  int mse_grid = 100;
  float mse_maxshrink = 0.8f;
  double mse_norm = 2.4;
  // Replaces the min/max (or MSE) grid; needs act_order off or static_groups on, so that
  // groups are runs of original columns.
  GroupFitter fitter;
};

// The result in the GPTQ checkpoint convention: w ~ scale * (code - zero), codes unsigned,
// zero an integer stored as float; group g_idx[c] of column c (in act-order, groups are
// formed in quantization order, so g_idx is not monotone).
struct GptqResult {
  std::int64_t rows = 0, cols = 0, groups = 0;
  std::vector<std::uint8_t> codes;     // [rows, cols]
  std::vector<float> scales, zeros;    // [rows, groups]
  std::vector<float> offsets;          // [rows, groups] when a fitter's grids have offsets
  std::vector<std::int32_t> g_idx;     // [cols]
  std::vector<float> dequantized;      // [rows, cols] = scale * (code - zero), or scale * code + offset
  double loss = 0;                     // GPTQ's sum (w - q)^2 / [H^-1]_jj^2 / 2
};

// w [rows, cols] row-major (a Linear's [out, in]); hessian [cols, cols] proportional to
// X^T X (any positive factor gives the same result; lowbit's calibration stores X^T X/n).
GptqResult gptq_quantize(std::span<const float> w, std::int64_t rows, std::int64_t cols,
                         std::span<const double> hessian, const GptqOptions& opt, int threads);
// The same, working in the Hessian's own storage (no n x n copy): for callers done with it.
GptqResult gptq_quantize(std::span<const float> w, std::int64_t rows, std::int64_t cols, std::vector<double>&& hessian,
                         const GptqOptions& opt, int threads);

// The same quantizer without error feedback (round-to-nearest on GPTQ's grid): the RTN
// baseline GPTQ is measured against, and GPTQ's result when H is diagonal.
// A result sized for rows x cols in groups of g consecutive columns (ragged last group),
// g_idx filled; codes, grids and dequantized values zero.
GptqResult grouped_result(std::int64_t rows, std::int64_t cols, std::int64_t g);

GptqResult rtn_gptq_grid(std::span<const float> w, std::int64_t rows, std::int64_t cols, const GptqOptions& opt);

// tr((W - Q) H (W - Q)^T): the layer-output error GPTQ minimizes, for comparing results.
double gptq_objective(std::span<const float> w, std::span<const float> q, std::int64_t rows, std::int64_t cols,
                      std::span<const double> hessian);

}  // namespace lowbit
