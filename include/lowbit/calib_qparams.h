// From a calibrated range [min, max] to scale and zero point, exactly as torch.ao's
// observers compute them (_calculate_qparams: fp32 arithmetic, eps floor, nearest-even
// zero point), for any code width, so ranges from every observer land on one recipe.
#pragma once
#include <optional>
#include <utility>
#include <vector>

#include "lowbit/affine.h"

namespace lowbit::calib {

struct Range {
  float min = 0.0f;
  float max = 0.0f;
};

// The integer grid a range is mapped onto.
struct QuantTarget {
  IntRange range;             // qmin/qmax after reduce_range
  bool symmetric = false;     // Z fixed at 0 / midpoint, S from max|range|
  bool custom_range = false;  // qmin/qmax given by the user (changes torch's unsigned Z)
};

// torch.ao's rules (calculate_qmin_qmax): default ranges are the full b-bit range,
// reduce_range drops one bit (-64..63 / 0..127 for 8 bits); a custom range is halved
// with floor division when reduce_range is set. 2 <= bits <= 16.
QuantTarget quant_target(int bits, bool is_signed, bool symmetric, bool reduce_range = false,
                         std::optional<std::pair<int, int>> custom_range = std::nullopt);

// torch.ao float32 eps (2^-23): the smallest scale any observer returns.
inline constexpr float kScaleEps = 1.1920928955078125e-07f;

// torch.ao _calculate_qparams for one range. The range is first widened to contain 0.
//   symmetric: S = max(-min, max) / ((qmax - qmin) / 2), Z = 0 (signed), 2^(b-1)
//              (unsigned, default range) or floor((qmin + qmax) / 2) (custom range);
//   affine:    S = (max - min) / (qmax - qmin), Z = clamp(qmin - round(min / S)).
// S is floored at kScaleEps; inv_scale = 1/S in fp32 as torch's quantize uses it.
AffineParams qparams_from_range(Range r, const QuantTarget& t);
std::vector<AffineParams> qparams_from_ranges(const std::vector<Range>& rs, const QuantTarget& t);

}  // namespace lowbit::calib
