// Error metrics between a reference tensor x and its reconstruction y: MSE, RMSE, max
// abs error, SQNR (dB) and cosine similarity. Sums are kept in double and merge exactly
// (in order), so a whole-model figure is the metric of all tensors concatenated.
#pragma once
#include <cstdint>
#include <span>

namespace lowbit {

struct ErrorStats {
  std::uint64_t count = 0;
  double sum_sq_err = 0;  // sum (x - y)^2
  double sum_sq_ref = 0;  // sum x^2
  double sum_sq_out = 0;  // sum y^2
  double dot = 0;         // sum x * y
  double max_abs_err = 0;

  void add(std::span<const float> ref, std::span<const float> out);
  void merge(const ErrorStats& other);

  double mse() const;
  double rmse() const;
  // 10 log10(sum x^2 / sum (x-y)^2); +inf when the reconstruction is exact.
  double sqnr_db() const;
  // x.y / (|x| |y|); 1 when both are all-zero, 0 when exactly one is.
  double cosine() const;
};

ErrorStats error_stats(std::span<const float> ref, std::span<const float> out);

}  // namespace lowbit
