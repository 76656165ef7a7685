// Error metrics (see include/lowbit/metrics.h). Accumulation is in double in a fixed
// order so reports are reproducible; a tensor of 10^9 fp32 values stays well inside
// double's 53-bit mantissa for the sums.
#include "lowbit/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lowbit/error.h"

namespace lowbit {

void ErrorStats::add(std::span<const float> ref, std::span<const float> out) {
  if (ref.size() != out.size()) fail("error metrics: ", ref.size(), " reference values vs ", out.size(), " outputs");
  double se = 0, rr = 0, oo = 0, ro = 0, mx = max_abs_err;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double x = ref[i], y = out[i], d = x - y;
    se += d * d;
    rr += x * x;
    oo += y * y;
    ro += x * y;
    mx = std::max(mx, std::fabs(d));
  }
  count += ref.size();
  sum_sq_err += se;
  sum_sq_ref += rr;
  sum_sq_out += oo;
  dot += ro;
  max_abs_err = mx;
}

void ErrorStats::merge(const ErrorStats& o) {
  count += o.count;
  sum_sq_err += o.sum_sq_err;
  sum_sq_ref += o.sum_sq_ref;
  sum_sq_out += o.sum_sq_out;
  dot += o.dot;
  max_abs_err = std::max(max_abs_err, o.max_abs_err);
}

double ErrorStats::mse() const { return count ? sum_sq_err / double(count) : 0.0; }
double ErrorStats::rmse() const { return std::sqrt(mse()); }

double ErrorStats::sqnr_db() const {
  if (sum_sq_err == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(sum_sq_ref / sum_sq_err);
}

double ErrorStats::cosine() const {
  if (sum_sq_ref == 0 && sum_sq_out == 0) return 1.0;
  if (sum_sq_ref == 0 || sum_sq_out == 0) return 0.0;
  return dot / std::sqrt(sum_sq_ref * sum_sq_out);
}

ErrorStats error_stats(std::span<const float> ref, std::span<const float> out) {
  ErrorStats s;
  s.add(ref, out);
  return s;
}

}  // namespace lowbit
