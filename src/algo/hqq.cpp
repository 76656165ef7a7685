// HQQ (include/lowbit/hqq.h), in hqq 0.2.8's float32 CPU arithmetic: the inverse scale
// s = min(maxq / (max - min), 2e4) (1 when max - min <= 1e-4), zero = -min * s, codes
// round-half-even(w * s + zero) clamped, decoded as (q - zero) * (1 / s) from the stored
// inverse; the refinement's own error uses (q - zero) / s as hqq does.
#include "lowbit/hqq.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lowbit/error.h"
#include "lowbit/parallel.h"

namespace lowbit {
namespace {

// hqq's shrink_lp_op: sign(x) * max(|x| - |x|^(p-1) / beta, 0); at x = 0 the power is
// +inf and the result 0, as in torch.
float shrink_lp(float x, float inv_beta, float p) {
  const float a = std::fabs(x);
  const float r = std::max(a - inv_beta * std::pow(a, p - 1.0f), 0.0f);
  return x < 0 ? -r : (x > 0 ? r : 0.0f * r);
}

float code_of(float x, float s, float zero, float maxq) { return std::clamp(std::nearbyint(x * s + zero), 0.0f, maxq); }

// One group's step: codes at the current zero, the new zero from the shrunk residual;
// returns the group's sum |w - dequant|.
double refine_group(const float* x, std::int64_t n, float s, float maxq, float inv_beta, float p, float& zero) {
  double abs_err = 0, zsum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float q = code_of(x[i], s, zero, maxq);
    const float r = (q - zero) / s;
    const float e = shrink_lp(x[i] - r, inv_beta, p);
    abs_err += std::fabs(x[i] - r);
    zsum += q - (x[i] - e) * s;
  }
  zero = static_cast<float>(zsum / static_cast<double>(n));
  return abs_err;
}

}  // namespace

GptqResult hqq_quantize(std::span<const float> w, std::int64_t rows, std::int64_t cols, const HqqOptions& opt,
                        int threads) {
  if (rows <= 0 || cols <= 0 || static_cast<std::int64_t>(w.size()) != rows * cols)
    fail("HQQ: weight of ", w.size(), " values for ", rows, " x ", cols);
  if (opt.bits < 1 || opt.bits > 8) fail("HQQ: bits must be 1..8, got ", opt.bits);
  if (opt.iters < 0 || !(opt.beta > 0)) fail("HQQ: iterations must be >= 0 and beta > 0");
  const std::int64_t g = opt.group_size > 0 ? std::min(opt.group_size, cols) : cols;
  GptqResult r = grouped_result(rows, cols, g);
  const auto maxq = static_cast<float>((1 << opt.bits) - 1);
  const auto ng = static_cast<std::size_t>(r.groups);
  auto group = [&](std::size_t row, std::size_t gi) {
    const std::int64_t c0 = static_cast<std::int64_t>(gi) * g;
    return std::pair{row * static_cast<std::size_t>(cols) + static_cast<std::size_t>(c0), std::min(g, cols - c0)};
  };
  // Min/max start: inverse scale s and zero -min * s per group.
  std::vector<float> inv(r.scales.size());
  for (std::size_t row = 0; row < static_cast<std::size_t>(rows); ++row)
    for (std::size_t gi = 0; gi < ng; ++gi) {
      const auto [off, n] = group(row, gi);
      const auto [mn, mx] = std::minmax_element(w.begin() + static_cast<std::ptrdiff_t>(off),
                                                w.begin() + static_cast<std::ptrdiff_t>(off) + n);
      const float denom = *mx - *mn;
      float s = maxq / denom;
      if (std::fabs(denom) <= 1e-4f) s = 1.0f;
      inv[row * ng + gi] = std::min(s, 2e4f);
      r.zeros[row * ng + gi] = -*mn * inv[row * ng + gi];
    }
  // All groups step together: hqq stops when the mean |error| over the whole tensor stops
  // falling, keeping the zeros of that last step.
  if (opt.optimize) {
    const float inv_beta = 1.0f / opt.beta;
    double best = std::numeric_limits<double>::infinity();
    std::vector<double> row_err(static_cast<std::size_t>(rows));
    for (int it = 0; it < opt.iters; ++it) {
      parallel_for(static_cast<std::size_t>(rows), threads, 4, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t row = r0; row < r1; ++row) {
          row_err[row] = 0;
          for (std::size_t gi = 0; gi < ng; ++gi) {
            const auto [off, n] = group(row, gi);
            row_err[row] += refine_group(w.data() + off, n, inv[row * ng + gi], maxq, inv_beta, opt.lp_norm,
                                         r.zeros[row * ng + gi]);
          }
        }
      });
      double err = 0;
      for (const double e : row_err) err += e;
      err /= static_cast<double>(w.size());
      if (err < best) best = err;
      else break;
    }
  }
  for (std::size_t row = 0; row < static_cast<std::size_t>(rows); ++row)
    for (std::size_t gi = 0; gi < ng; ++gi) {
      const auto [off, n] = group(row, gi);
      // Stored, like hqq's meta["scale"], as the inverse; decoded as (q - zero) * scale.
      const float s = inv[row * ng + gi], zero = r.zeros[row * ng + gi], scale = 1.0f / s;
      r.scales[row * ng + gi] = scale;
      for (std::int64_t i = 0; i < n; ++i) {
        const float q = code_of(w[off + static_cast<std::size_t>(i)], s, zero, maxq);
        r.codes[off + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(q);
        r.dequantized[off + static_cast<std::size_t>(i)] = (q - zero) * scale;
      }
    }
  return r;
}

}  // namespace lowbit
