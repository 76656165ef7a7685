// torch.ao-exact scale/zero point from a range (see calib_qparams.h). Every operation is
// the fp32 operation torch performs, in the same order, so scale bits match exactly.
#include <algorithm>
#include <cmath>

#include "lowbit/calib_qparams.h"
#include "lowbit/error.h"

namespace lowbit::calib {

QuantTarget quant_target(int bits, bool is_signed, bool symmetric, bool reduce_range,
                         std::optional<std::pair<int, int>> custom_range) {
  if (bits < 2 || bits > 16) fail("quant target: bits must be in 2..16, got ", bits);
  QuantTarget t;
  t.symmetric = symmetric;
  t.range = int_range(bits, is_signed, false);
  if (custom_range) {
    auto [lo, hi] = *custom_range;
    if (lo >= hi) fail("quant target: custom range [", lo, ", ", hi, "] is empty");
    if (lo < t.range.qmin || hi > t.range.qmax)
      fail("quant target: custom range [", lo, ", ", hi, "] exceeds the ", bits, "-bit ",
           is_signed ? "signed" : "unsigned", " codes [", t.range.qmin, ", ", t.range.qmax, "]");
    t.custom_range = true;
    t.range.qmin = lo;
    t.range.qmax = hi;
    if (reduce_range) {  // python floor division
      t.range.qmin = static_cast<int>(std::floor(lo / 2.0));
      t.range.qmax = static_cast<int>(std::floor(hi / 2.0));
    }
  } else if (reduce_range) {
    // Unsigned symmetric keeps Z = 2^(b-1), which a reduced range no longer contains;
    // torch.ao refuses the combination for the same reason.
    if (symmetric && !is_signed)
      fail("quant target: reduce_range with unsigned symmetric codes would put the zero point ", 1 << (bits - 1),
           " outside [0, ", (1 << (bits - 1)) - 1, "]");
    t.range = int_range(bits - 1, is_signed, false);
    t.range.bits = bits;
  }
  return t;
}

AffineParams qparams_from_range(Range r, const QuantTarget& t) {
  if (!std::isfinite(r.min) || !std::isfinite(r.max))
    fail("qparams: range [", r.min, ", ", r.max, "] is not finite");
  if (r.min > r.max) fail("qparams: range min ", r.min, " > max ", r.max);
  const float min_neg = std::min(r.min, 0.0f);
  const float max_pos = std::max(r.max, 0.0f);
  const int qmin = t.range.qmin, qmax = t.range.qmax;
  float scale;
  std::int32_t zp = 0;
  if (t.symmetric) {
    const float amax = std::max(-min_neg, max_pos);
    scale = amax / static_cast<float>(static_cast<double>(qmax - qmin) / 2.0);
    scale = std::max(scale, kScaleEps);
    if (!t.range.is_signed)
      zp = t.custom_range ? static_cast<std::int32_t>(std::floor((qmin + qmax) / 2.0))
                          : std::int32_t{1} << (t.range.bits - 1);
  } else {
    scale = (max_pos - min_neg) / static_cast<float>(qmax - qmin);
    scale = std::max(scale, kScaleEps);
    const float q = std::nearbyint(min_neg / scale);
    zp = std::clamp(qmin - static_cast<std::int32_t>(q), qmin, qmax);
  }
  if (!std::isfinite(scale)) fail("qparams: range [", r.min, ", ", r.max, "] overflows the fp32 scale");
  AffineParams p;
  p.scale = scale;
  p.inv_scale = 1.0f / scale;
  p.zero_point = zp;
  return p;
}

std::vector<AffineParams> qparams_from_ranges(const std::vector<Range>& rs, const QuantTarget& t) {
  std::vector<AffineParams> out;
  out.reserve(rs.size());
  for (const Range& r : rs) out.push_back(qparams_from_range(r, t));
  return out;
}

}  // namespace lowbit::calib
