// AWQ's model-free pieces (include/lowbit/awq.h) in AutoAWQ 0.2's arithmetic: fp32
// weights and scales, torch.round's half-to-even, the same epsilons and clamps, the same
// first-minimum tie rule. The clip search evaluates AutoAWQ's mean squared group output
// error through the inputs' second moment H, which is the same number without the tokens.
#include "lowbit/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lowbit/error.h"
#include "lowbit/parallel.h"

namespace lowbit {
namespace {

std::int64_t group_of(const AwqOptions& opt, std::int64_t cols) { return opt.group_size > 0 ? opt.group_size : cols; }

void check(std::span<const float> w, std::int64_t rows, std::int64_t cols, const AwqOptions& opt) {
  if (rows <= 0 || cols <= 0 || static_cast<std::int64_t>(w.size()) != rows * cols)
    fail("AWQ: weight of ", w.size(), " values for ", rows, " x ", cols);
  if (opt.bits < 2 || opt.bits > 8) fail("AWQ: bits must be 2..8, got ", opt.bits);
  if (opt.n_grid < 1 || opt.clip_grid < 1) fail("AWQ: grids need at least one point");
}

// One group of pseudo_quantize_tensor: out = dequantized values, returns (scale, zero).
std::pair<float, float> quantize_group(const float* x, std::int64_t n, const AwqOptions& opt, float* out,
                                       std::uint8_t* codes) {
  float scale, zero, lo, hi;
  if (opt.zero_point) {
    float mn = x[0], mx = x[0];
    for (std::int64_t i = 1; i < n; ++i) mn = std::min(mn, x[i]), mx = std::max(mx, x[i]);
    hi = static_cast<float>((1 << opt.bits) - 1);
    lo = 0;
    scale = std::max(mx - mn, 1e-5f) / hi;
    zero = std::clamp(-std::nearbyint(mn / scale), lo, hi);
  } else {
    float amax = 0;
    for (std::int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
    hi = static_cast<float>((1 << (opt.bits - 1)) - 1);
    lo = -static_cast<float>(1 << (opt.bits - 1));
    scale = std::max(amax, 1e-5f) / hi;
    zero = 0;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const float q = std::clamp(std::nearbyint(x[i] / scale) + zero, lo, hi);
    out[i] = (q - zero) * scale;
    if (codes) codes[i] = static_cast<std::uint8_t>(q - lo);
  }
  // In the common convention scale * (code - zero'), code = q - lo, zero' = zero - lo.
  return {scale, zero - lo};
}

}  // namespace

GptqResult awq_quantize(std::span<const float> w, std::int64_t rows, std::int64_t cols, const AwqOptions& opt) {
  check(w, rows, cols, opt);
  const std::int64_t g = group_of(opt, cols);
  GptqResult r = grouped_result(rows, cols, g);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t gi = 0; gi < r.groups; ++gi) {
      const std::int64_t c0 = gi * g, n = std::min(g, cols - c0);
      const auto k = static_cast<std::size_t>(i * cols + c0);
      const auto [s, z] = quantize_group(w.data() + k, n, opt, r.dequantized.data() + k, r.codes.data() + k);
      r.scales[static_cast<std::size_t>(i * r.groups + gi)] = s;
      r.zeros[static_cast<std::size_t>(i * r.groups + gi)] = z;
    }
  return r;
}

std::vector<float> awq_weight_mean(const std::vector<std::span<const float>>& weights, std::int64_t cols,
                                   std::int64_t group_size) {
  const std::int64_t g = group_size > 0 ? group_size : cols;
  std::vector<double> sum(static_cast<std::size_t>(cols), 0.0);
  std::int64_t total_rows = 0;
  for (const auto& w : weights) {
    if (static_cast<std::int64_t>(w.size()) % cols != 0) fail("AWQ: a weight of ", w.size(), " values is not ", cols, " wide");
    const std::int64_t rows = static_cast<std::int64_t>(w.size()) / cols;
    total_rows += rows;
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t c0 = 0; c0 < cols; c0 += g) {
        const float* x = w.data() + i * cols + c0;
        const std::int64_t n = std::min(g, cols - c0);
        float amax = 0;
        for (std::int64_t j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
        for (std::int64_t j = 0; j < n; ++j) sum[static_cast<std::size_t>(c0 + j)] += std::fabs(x[j]) / (amax + 1e-6f);
      }
  }
  std::vector<float> mean(sum.size());
  for (std::size_t c = 0; c < sum.size(); ++c) mean[c] = static_cast<float>(sum[c] / static_cast<double>(total_rows));
  return mean;
}

std::vector<float> awq_candidate_scales(std::span<const float> x_mean_abs, std::span<const float> w_mean, float alpha,
                                        bool duo_scaling) {
  if (duo_scaling && w_mean.size() != x_mean_abs.size()) fail("AWQ: ", x_mean_abs.size(), " activation means for ", w_mean.size(), " weight means");
  std::vector<float> s(x_mean_abs.size());
  for (std::size_t c = 0; c < s.size(); ++c) {
    float v = std::pow(x_mean_abs[c], alpha);
    if (duo_scaling) v = v / (std::pow(w_mean[c], 1.0f - alpha) + 1e-4f);
    s[c] = std::max(v, 1e-4f);
  }
  const auto [mn, mx] = std::minmax_element(s.begin(), s.end());
  const float norm = std::sqrt(*mx * *mn);
  for (auto& v : s) {
    v /= norm;
    if (!std::isfinite(v)) v = 1;  // AutoAWQ resets inf/nan scales to 1
  }
  return s;
}

AwqScaleSearch awq_search_scales(std::span<const float> x_mean_abs, std::span<const float> w_mean,
                                 const AwqOptions& opt, const std::function<double(std::span<const float>)>& loss) {
  AwqScaleSearch r;
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < opt.n_grid; ++i) {
    const float alpha = static_cast<float>(static_cast<double>(i) / opt.n_grid);
    auto s = awq_candidate_scales(x_mean_abs, w_mean, alpha, opt.duo_scaling);
    const double l = loss(s);
    r.losses.push_back(l);
    if (l < best) best = l, r.best = i, r.scales = std::move(s);
  }
  if (r.best < 0) fail("AWQ: no scale candidate gave a finite output error");
  return r;
}

std::vector<float> awq_fake_quantize_scaled(std::span<const float> w, std::int64_t rows, std::int64_t cols,
                                            std::span<const float> scales, const AwqOptions& opt) {
  check(w, rows, cols, opt);
  if (static_cast<std::int64_t>(scales.size()) != cols) fail("AWQ: ", scales.size(), " scales for ", cols, " columns");
  const std::int64_t g = group_of(opt, cols);
  std::vector<float> ws(w.size()), out(w.size());
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t c = 0; c < cols; ++c)
      ws[static_cast<std::size_t>(i * cols + c)] = w[static_cast<std::size_t>(i * cols + c)] * scales[static_cast<std::size_t>(c)];
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t c0 = 0; c0 < cols; c0 += g) {
      const auto k = static_cast<std::size_t>(i * cols + c0);
      quantize_group(ws.data() + k, std::min(g, cols - c0), opt, out.data() + k, nullptr);
    }
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t c = 0; c < cols; ++c) out[static_cast<std::size_t>(i * cols + c)] /= scales[static_cast<std::size_t>(c)];
  return out;
}

std::vector<float> awq_search_clip(std::span<const float> w, std::int64_t rows, std::int64_t cols,
                                   std::span<const double> hessian, const AwqOptions& opt, int threads) {
  check(w, rows, cols, opt);
  if (static_cast<std::int64_t>(hessian.size()) != cols * cols)
    fail("AWQ: second moment of ", hessian.size(), " values for ", cols, " input columns");
  const std::int64_t g = group_of(opt, cols), groups = (cols + g - 1) / g;
  std::vector<float> best_max(static_cast<std::size_t>(rows * groups));
  const int steps = static_cast<int>(opt.max_shrink * opt.clip_grid);
  parallel_for(static_cast<std::size_t>(rows), threads, 8, [&](std::size_t r0, std::size_t r1) {
    std::vector<float> cur(static_cast<std::size_t>(g)), q(cur.size());
    std::vector<double> d(cur.size());
    for (std::size_t row = r0; row < r1; ++row)
      for (std::int64_t gi = 0; gi < groups; ++gi) {
        const std::int64_t c0 = gi * g, n = std::min(g, cols - c0);
        const float* x = w.data() + static_cast<std::int64_t>(row) * cols + c0;
        float org_max = 0;
        for (std::int64_t j = 0; j < n; ++j) org_max = std::max(org_max, std::fabs(x[j]));
        float best_val = org_max;
        double min_err = 1e9;  // AutoAWQ's initial min_errs
        for (int s = 0; s < steps; ++s) {
          const float mv = org_max * static_cast<float>(1.0 - static_cast<double>(s) / opt.clip_grid);
          for (std::int64_t j = 0; j < n; ++j) cur[static_cast<std::size_t>(j)] = std::clamp(x[j], -mv, mv);
          quantize_group(cur.data(), n, opt, q.data(), nullptr);
          for (std::int64_t j = 0; j < n; ++j)
            d[static_cast<std::size_t>(j)] = static_cast<double>(q[static_cast<std::size_t>(j)]) - x[j];
          double err = 0;
          for (std::int64_t a = 0; a < n; ++a) {
            const double* h = hessian.data() + (c0 + a) * cols + c0;
            double t = 0;
            for (std::int64_t b = 0; b < n; ++b) t += h[b] * d[static_cast<std::size_t>(b)];
            err += d[static_cast<std::size_t>(a)] * t;
          }
          if (err < min_err) min_err = err, best_val = mv;
        }
        best_max[row * static_cast<std::size_t>(groups) + static_cast<std::size_t>(gi)] = best_val;
      }
  });
  return best_max;
}

void awq_apply_clip(std::span<float> w, std::int64_t rows, std::int64_t cols, std::int64_t group_size,
                    std::span<const float> max_val) {
  const std::int64_t g = group_size > 0 ? group_size : cols, groups = (cols + g - 1) / g;
  if (static_cast<std::int64_t>(max_val.size()) != rows * groups) fail("AWQ: ", max_val.size(), " clip values for ", rows, " x ", groups, " groups");
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t c = 0; c < cols; ++c) {
      const float m = max_val[static_cast<std::size_t>(i * groups + c / g)];
      float& v = w[static_cast<std::size_t>(i * cols + c)];
      v = std::clamp(v, -m, m);
    }
}

}  // namespace lowbit
