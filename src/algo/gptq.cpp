// GPTQ (include/lowbit/gptq.h), following Algorithm 1 of Frantar et al. (ICLR 2023) and
// the reference implementation's conventions that its checkpoints encode: dead inputs
// (H_jj = 0) zeroed, lambda = percdamp * mean(diag H), U = chol(H^-1)^T upper, per-column
// q = quant(w_j), err = (w_j - q) / U_jj, w_{j+1..} -= err * U_{j, j+1..} inside a block
// of 128 columns and one lazy update of the columns after it. Rows are independent given
// U, so they are split over threads. The weight path runs in fp32 like the reference; the
// factorization in double.
#include "lowbit/gptq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "algo/cholesky.h"
#include "lowbit/error.h"
#include "lowbit/parallel.h"

namespace lowbit {
namespace {

// GPTQ's min/max grid for one row's group: the range always contains 0; symmetric grids
// put zero at (maxq + 1) / 2; an all-zero group gets [-1, 1].
using Grid = GroupGrid;

float quantize(float x, Grid g, int maxq, std::uint8_t* code) {
  if (g.scale == 0) {
    *code = static_cast<std::uint8_t>(g.zero);
    return g.has_offset ? g.offset : 0.0f;
  }
  if (g.has_offset) {
    const float q = std::clamp(std::nearbyint((x - g.offset) / g.scale), 0.0f, static_cast<float>(maxq));
    *code = static_cast<std::uint8_t>(q);
    return g.scale * q + g.offset;
  }
  const float q = std::clamp(std::nearbyint(x / g.scale) + g.zero, 0.0f, static_cast<float>(maxq));
  *code = static_cast<std::uint8_t>(q);
  return g.scale * (q - g.zero);
}

Grid grid_from_range(float mn, float mx, int maxq, bool sym) {
  const float scale = (mx - mn) / static_cast<float>(maxq);
  const float zero = sym ? static_cast<float>(maxq + 1) / 2 : std::nearbyint(-mn / scale);
  return {scale, zero, 0.0f, false};
}

Grid grid_of(const float* x, std::int64_t n, int maxq, const GptqOptions& opt, std::int64_t row,
             std::int64_t first_col) {
  if (opt.fitter) return opt.fitter(row, first_col, x - first_col);
  float mn = 0, mx = 0;
  for (std::int64_t i = 0; i < n; ++i) mn = std::min(mn, x[i]), mx = std::max(mx, x[i]);
  if (opt.sym) {
    mx = std::max(std::fabs(mn), mx);
    if (mn < 0) mn = -mx;
  }
  if (mn == 0 && mx == 0) mn = -1, mx = 1;
  Grid best = grid_from_range(mn, mx, maxq, opt.sym);
  if (!opt.mse) return best;
  // The reference quantizer's mse mode: shrink the range by p = 1 - i/grid and keep the
  // grid with the least sum |q - x|^norm (the first one on ties).
  double best_err = std::numeric_limits<double>::infinity();
  std::uint8_t code;
  for (int i = 0; i < static_cast<int>(opt.mse_maxshrink * static_cast<float>(opt.mse_grid)); ++i) {
    const auto p = static_cast<float>(1.0 - static_cast<double>(i) / opt.mse_grid);
    Grid g = grid_from_range(p * mn, p * mx, maxq, opt.sym);
    double err = 0;
    for (std::int64_t j = 0; j < n; ++j)
      err += std::pow(static_cast<double>(std::fabs(quantize(x[j], g, maxq, &code) - x[j])), opt.mse_norm);
    if (err < best_err) best_err = err, best = g;
  }
  return best;
}

void check(std::span<const float> w, std::int64_t rows, std::int64_t cols, const GptqOptions& opt) {
  if (rows <= 0 || cols <= 0 || static_cast<std::int64_t>(w.size()) != rows * cols)
    fail("GPTQ: weight of ", w.size(), " values for ", rows, " x ", cols);
  if (opt.bits < 2 || opt.bits > 8) fail("GPTQ: bits must be 2..8, got ", opt.bits);
  if (opt.block_size <= 0) fail("GPTQ: block size must be positive");
  if (opt.percdamp < 0) fail("GPTQ: percdamp must be >= 0");
  if (opt.fitter && opt.act_order && !opt.static_groups)
    fail("GPTQ: a fitted grid (e.g. a ggml block type) needs static groups with act-order");
}

GptqResult empty_result(std::int64_t rows, std::int64_t cols, const GptqOptions& opt) {
  GptqResult r = grouped_result(rows, cols, opt.group_size > 0 ? opt.group_size : cols);
  if (opt.fitter) r.offsets.resize(r.scales.size());
  return r;
}

}  // namespace

GptqResult grouped_result(std::int64_t rows, std::int64_t cols, std::int64_t g) {
  GptqResult r;
  r.rows = rows;
  r.cols = cols;
  r.groups = (cols + g - 1) / g;
  r.codes.resize(static_cast<std::size_t>(rows * cols));
  r.dequantized.resize(r.codes.size());
  r.scales.resize(static_cast<std::size_t>(rows * r.groups));
  r.zeros.resize(r.scales.size());
  r.g_idx.resize(static_cast<std::size_t>(cols));
  for (std::int64_t c = 0; c < cols; ++c) r.g_idx[static_cast<std::size_t>(c)] = static_cast<std::int32_t>(c / g);
  return r;
}

GptqResult rtn_gptq_grid(std::span<const float> w, std::int64_t rows, std::int64_t cols, const GptqOptions& opt) {
  check(w, rows, cols, opt);
  GptqResult r = empty_result(rows, cols, opt);
  const int maxq = (1 << opt.bits) - 1;
  const std::int64_t g = opt.group_size > 0 ? opt.group_size : cols;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t gi = 0; gi < r.groups; ++gi) {
      const std::int64_t c0 = gi * g, n = std::min(g, cols - c0);
      const Grid gr = grid_of(w.data() + i * cols + c0, n, maxq, opt, i, c0);
      r.scales[static_cast<std::size_t>(i * r.groups + gi)] = gr.scale;
      r.zeros[static_cast<std::size_t>(i * r.groups + gi)] = gr.zero;
      if (opt.fitter) r.offsets[static_cast<std::size_t>(i * r.groups + gi)] = gr.offset;
      for (std::int64_t c = c0; c < c0 + n; ++c) {
        const auto k = static_cast<std::size_t>(i * cols + c);
        r.dequantized[k] = quantize(w[k], gr, maxq, &r.codes[k]);
      }
    }
  return r;
}

GptqResult gptq_quantize(std::span<const float> w, std::int64_t rows, std::int64_t cols,
                         std::span<const double> hessian, const GptqOptions& opt, int threads) {
  return gptq_quantize(w, rows, cols, std::vector<double>(hessian.begin(), hessian.end()), opt, threads);
}

GptqResult gptq_quantize(std::span<const float> w, std::int64_t rows, std::int64_t cols, std::vector<double>&& hessian,
                         const GptqOptions& opt, int threads) {
  check(w, rows, cols, opt);
  if (static_cast<std::int64_t>(hessian.size()) != cols * cols)
    fail("GPTQ: Hessian of ", hessian.size(), " values for ", cols, " input columns");
  const int maxq = (1 << opt.bits) - 1;
  const std::int64_t gs = opt.group_size > 0 ? opt.group_size : cols;
  GptqResult r = empty_result(rows, cols, opt);

  std::vector<double> h = std::move(hessian);
  std::vector<char> dead(static_cast<std::size_t>(cols));
  for (std::int64_t j = 0; j < cols; ++j)
    if (h[static_cast<std::size_t>(j * cols + j)] == 0) {
      dead[static_cast<std::size_t>(j)] = 1;
      h[static_cast<std::size_t>(j * cols + j)] = 1;
    }
  // perm[k] = original column quantized k-th.
  std::vector<std::int64_t> perm(static_cast<std::size_t>(cols));
  std::iota(perm.begin(), perm.end(), 0);
  if (opt.act_order)
    std::stable_sort(perm.begin(), perm.end(), [&](std::int64_t a, std::int64_t b) {
      return h[static_cast<std::size_t>(a * cols + a)] > h[static_cast<std::size_t>(b * cols + b)];
    });
  // n x n doubles each: hold as few as possible at once (no copy in the natural order).
  std::vector<double> hp;
  if (opt.act_order) {
    hp.resize(static_cast<std::size_t>(cols * cols));
    for (std::int64_t i = 0; i < cols; ++i)
      for (std::int64_t j = 0; j < cols; ++j)
        hp[static_cast<std::size_t>(i * cols + j)] = h[static_cast<std::size_t>(perm[static_cast<std::size_t>(i)] * cols + perm[static_cast<std::size_t>(j)])];
    std::vector<double>().swap(h);
  } else {
    hp = std::move(h);
  }
  double mean_diag = 0;
  for (std::int64_t j = 0; j < cols; ++j) mean_diag += hp[static_cast<std::size_t>(j * cols + j)];
  mean_diag /= static_cast<double>(cols);
  for (std::int64_t j = 0; j < cols; ++j) hp[static_cast<std::size_t>(j * cols + j)] += opt.percdamp * mean_diag;
  // U = chol(H^-1) upper, kept in fp32 like the reference.
  auto ud = algo::upper_cholesky_of_inverse(std::move(hp), cols, threads);
  if (!ud) fail("GPTQ: the damped Hessian is not positive definite (percdamp ", opt.percdamp, "); raise percdamp");
  std::vector<float> u(static_cast<std::size_t>(cols * cols));
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = static_cast<float>((*ud)[i]);
  ud.reset();

  // Groups in quantization order (act-order without static groups) or by original column.
  for (std::int64_t k = 0; k < cols; ++k) {
    const std::int64_t c = perm[static_cast<std::size_t>(k)];
    r.g_idx[static_cast<std::size_t>(c)] = static_cast<std::int32_t>((opt.static_groups ? c : k) / gs);
  }

  std::vector<double> row_loss(static_cast<std::size_t>(rows));
  parallel_for(static_cast<std::size_t>(rows), threads, 4, [&](std::size_t r0, std::size_t r1) {
    std::vector<float> wr(static_cast<std::size_t>(cols)), orig(wr.size()), at_block_start(wr.size());
    std::vector<float> err(static_cast<std::size_t>(opt.block_size));
    std::vector<Grid> static_grids;
    for (std::size_t row = r0; row < r1; ++row) {
      const auto ri = static_cast<std::int64_t>(row);
      for (std::int64_t k = 0; k < cols; ++k) {
        const std::int64_t c = perm[static_cast<std::size_t>(k)];
        orig[static_cast<std::size_t>(c)] = dead[static_cast<std::size_t>(c)] ? 0.0f : w[static_cast<std::size_t>(ri * cols + c)];
        wr[static_cast<std::size_t>(k)] = orig[static_cast<std::size_t>(c)];
      }
      if (opt.static_groups) {
        static_grids.clear();
        for (std::int64_t c0 = 0; c0 < cols; c0 += gs)
          static_grids.push_back(grid_of(orig.data() + c0, std::min(gs, cols - c0), maxq, opt, ri, c0));
      }
      Grid cur{};
      double loss = 0;
      for (std::int64_t i1 = 0; i1 < cols; i1 += opt.block_size) {
        const std::int64_t i2 = std::min(i1 + opt.block_size, cols);
        if (!opt.static_groups) std::copy(wr.begin() + i1, wr.end(), at_block_start.begin() + i1);
        for (std::int64_t k = i1; k < i2; ++k) {
          const std::int64_t c = perm[static_cast<std::size_t>(k)];
          Grid g;
          if (opt.static_groups) {
            g = static_grids[static_cast<std::size_t>(c / gs)];
          } else {
            // One group per row: the reference fits it before zeroing dead columns. A group
            // that starts inside a block is fitted, as in the reference, to the weights as
            // they were when the block began (its in-block updates are not yet written back).
            if (k == 0 && opt.group_size <= 0) cur = grid_of(w.data() + ri * cols, cols, maxq, opt, ri, 0);
            else if (k % gs == 0) cur = grid_of(at_block_start.data() + k, std::min(gs, cols - k), maxq, opt, ri, k);
            g = cur;
          }
          const std::size_t gi = static_cast<std::size_t>(ri * r.groups + r.g_idx[static_cast<std::size_t>(c)]);
          r.scales[gi] = g.scale;
          r.zeros[gi] = g.zero;
          if (opt.fitter) r.offsets[gi] = g.offset;
          const float x = wr[static_cast<std::size_t>(k)];
          const auto out = static_cast<std::size_t>(ri * cols + c);
          const float q = quantize(x, g, maxq, &r.codes[out]);
          r.dequantized[out] = q;
          const float d = u[static_cast<std::size_t>(k * cols + k)];
          const float e = (x - q) / d;
          loss += static_cast<double>((x - q) * (x - q) / (d * d)) / 2;
          err[static_cast<std::size_t>(k - i1)] = e;
          const float* uk = u.data() + k * cols;
          for (std::int64_t j = k + 1; j < i2; ++j) wr[static_cast<std::size_t>(j)] -= e * uk[j];
        }
        // Lazy batch update of the columns after the block.
        for (std::int64_t k = i1; k < i2; ++k) {
          const float e = err[static_cast<std::size_t>(k - i1)];
          const float* uk = u.data() + k * cols;
          for (std::int64_t j = i2; j < cols; ++j) wr[static_cast<std::size_t>(j)] -= e * uk[j];
        }
      }
      row_loss[row] = loss;
    }
  });
  r.loss = std::accumulate(row_loss.begin(), row_loss.end(), 0.0);
  return r;
}

double gptq_objective(std::span<const float> w, std::span<const float> q, std::int64_t rows, std::int64_t cols,
                      std::span<const double> hessian) {
  double total = 0;
  std::vector<double> d(static_cast<std::size_t>(cols));
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < cols; ++j)
      d[static_cast<std::size_t>(j)] = static_cast<double>(w[static_cast<std::size_t>(i * cols + j)]) - q[static_cast<std::size_t>(i * cols + j)];
    for (std::int64_t a = 0; a < cols; ++a) {
      double s = 0;
      for (std::int64_t b = 0; b < cols; ++b) s += hessian[static_cast<std::size_t>(a * cols + b)] * d[static_cast<std::size_t>(b)];
      total += d[static_cast<std::size_t>(a)] * s;
    }
  }
  return total;
}

}  // namespace lowbit
