// Codebook assignment and dequantization (see include/lowbit/codebook.h): the
// nearest-centroid step of Lloyd (1982) and the absmax-scaled grid lookup of QLoRA
// (Dettmers et al. 2023) / bitsandbytes. Decision boundaries are the midpoints of
// neighbouring entries so assignment is a search over k - 1 sorted thresholds.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "lowbit/codebook.h"
#include "lowbit/error.h"

namespace lowbit {
namespace {

void check_codebook(std::span<const float> c, const char* who) {
  if (c.empty() || c.size() > static_cast<std::size_t>(kMaxCodebookSize))
    fail(who, ": codebook has ", c.size(), " entries (1..", kMaxCodebookSize, ")");
  for (std::size_t j = 0; j < c.size(); ++j) {
    if (!std::isfinite(c[j])) fail(who, ": codebook[", j, "] is ", c[j]);
    if (j > 0 && c[j] < c[j - 1])
      fail(who, ": codebook is not sorted: entry ", j, " (", c[j], ") < entry ", j - 1, " (", c[j - 1], ")");
  }
}

// Thresholds between neighbours; x takes index = number of thresholds strictly below it.
std::vector<double> thresholds(std::span<const float> c) {
  std::vector<double> mid(c.size() - 1);
  for (std::size_t j = 0; j + 1 < c.size(); ++j) mid[j] = codebook_midpoint(c[j], c[j + 1]);
  return mid;
}

// For small codebooks a branch-free count (which the compiler vectorises) beats a
// binary search; both return the same index, the first threshold >= x.
inline std::size_t code_of(const std::vector<double>& mid, double x) {
  if (mid.size() <= 32) {
    std::size_t n = 0;
    for (double m : mid) n += (m < x) ? 1 : 0;
    return n;
  }
  return static_cast<std::size_t>(std::lower_bound(mid.begin(), mid.end(), x) - mid.begin());
}

// Maps each slot to the first copy of its value: a point just above a run of equal
// entries lands on the run's last slot by the threshold count, but is equally near to
// the first one, and ties go to the lower index.
std::array<std::uint8_t, kMaxCodebookSize> first_copies(std::span<const float> c) {
  std::array<std::uint8_t, kMaxCodebookSize> first{};
  for (std::size_t j = 0; j < c.size(); ++j)
    first[j] = (j > 0 && c[j] == c[j - 1]) ? first[j - 1] : static_cast<std::uint8_t>(j);
  return first;
}

void assign_checked(std::span<const float> c, std::span<const float> x, float mul, std::span<std::uint8_t> idx,
                    const char* who) {
  const auto mid = thresholds(c);
  const auto first = first_copies(c);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float v = x[i] * mul;
    if (std::isnan(v)) fail(who, ": x[", i, "] is nan");
    idx[i] = first[code_of(mid, v)];
  }
}

}  // namespace

void assign_nearest(std::span<const float> sorted_codebook, std::span<const float> x,
                    std::span<std::uint8_t> idx) {
  check_codebook(sorted_codebook, "assign_nearest");
  if (idx.size() != x.size()) fail("assign_nearest: ", x.size(), " values but ", idx.size(), " codes");
  assign_checked(sorted_codebook, x, 1.0f, idx, "assign_nearest");
}

void dequantize_codebook(std::span<const float> codebook, std::span<const std::uint8_t> idx,
                         std::span<float> out) {
  if (out.size() != idx.size()) fail("dequantize_codebook: ", idx.size(), " codes but ", out.size(), " outputs");
  for (std::size_t i = 0; i < idx.size(); ++i) {
    if (idx[i] >= codebook.size())
      fail("dequantize_codebook: code ", int{idx[i]}, " at index ", i, " is past the ", codebook.size(),
           "-entry codebook");
    out[i] = codebook[idx[i]];
  }
}

double codebook_sse(std::span<const float> sorted_codebook, std::span<const float> x,
                    std::span<const float> weights) {
  check_codebook(sorted_codebook, "codebook_sse");
  if (!weights.empty() && weights.size() != x.size())
    fail("codebook_sse: ", x.size(), " values but ", weights.size(), " weights");
  const auto mid = thresholds(sorted_codebook);
  double sse = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) fail("codebook_sse: x[", i, "] is nan");
    const double d = static_cast<double>(x[i]) - sorted_codebook[code_of(mid, x[i])];
    sse += (weights.empty() ? 1.0 : static_cast<double>(weights[i])) * d * d;
  }
  return sse;
}

float quantize_absmax_grid(std::span<const float> sorted_grid, std::span<const float> x,
                           std::span<std::uint8_t> idx) {
  check_codebook(sorted_grid, "quantize_absmax_grid");
  if (idx.size() != x.size()) fail("quantize_absmax_grid: ", x.size(), " values but ", idx.size(), " codes");
  float absmax = 0.0f;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) fail("quantize_absmax_grid: x[", i, "] is ", x[i]);
    absmax = std::max(absmax, std::fabs(x[i]));
  }
  // bitsandbytes multiplies by the fp32 reciprocal rather than dividing; doing the
  // same keeps codes identical at the thresholds.
  const float inv = absmax > 0.0f ? 1.0f / absmax : 0.0f;
  assign_checked(sorted_grid, x, inv, idx, "quantize_absmax_grid");
  return absmax;
}

void dequantize_absmax_grid(std::span<const float> grid, float absmax, std::span<const std::uint8_t> idx,
                            std::span<float> out) {
  dequantize_codebook(grid, idx, out);
  for (float& v : out) v *= absmax;
}

}  // namespace lowbit
