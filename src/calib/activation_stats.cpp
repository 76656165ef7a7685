// Streaming Linear-input statistics (include/lowbit/activation_stats.h). X^T X of a batch
// is one fp32 product of the transposed batch with itself (the runtime's matmul kernel),
// added into double accumulators so long calibration runs do not lose small terms.
#include "lowbit/activation_stats.h"

#include <cmath>
#include <cstring>
#include <utility>

#include "kernels/gemm_f32.h"
#include "lowbit/error.h"

namespace lowbit {

ActivationStats::ActivationStats(ActivationStatsOptions o) : opt_(std::move(o)) {}

std::vector<float> LinearInputStats::mean_abs() const {
  std::vector<float> v(sum_abs.size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = rows ? static_cast<float>(sum_abs[i] / rows) : 0.0f;
  return v;
}
std::vector<float> LinearInputStats::mean_sq() const {
  std::vector<float> v(sum_sq.size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = rows ? static_cast<float>(sum_sq[i] / rows) : 0.0f;
  return v;
}
std::vector<float> LinearInputStats::hessian_mean() const {
  std::vector<float> v(xtx.size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = rows ? static_cast<float>(xtx[i] / rows) : 0.0f;
  return v;
}

const LinearInputStats& ActivationStats::at(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail("no calibration statistics for \"", name, "\"");
  return it->second;
}

LinearInputStats& ActivationStats::at(const std::string& name) {
  return const_cast<LinearInputStats&>(std::as_const(*this).at(name));
}

void ActivationStats::drop_input_cache() {
  std::vector<float>().swap(last_x_);
  std::vector<float>().swap(last_xtx_);
  last_rows_ = last_cols_ = 0;
}

LinearInputStats ActivationStats::take(const std::string& name) {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail("no calibration statistics for \"", name, "\"");
  LinearInputStats s = std::move(it->second);
  entries_.erase(it);
  return s;
}

void ActivationStats::add(const std::string& name, const float* x, std::int64_t rows, std::int64_t cols, int threads) {
  auto& e = entries_[name];
  if (e.cols == 0) {
    e.cols = cols;
    e.sum_abs.assign(static_cast<std::size_t>(cols), 0.0);
    e.sum_sq.assign(static_cast<std::size_t>(cols), 0.0);
    e.min.assign(static_cast<std::size_t>(cols), INFINITY);
    e.max.assign(static_cast<std::size_t>(cols), -INFINITY);
    if (opt_.hessian) e.xtx.assign(static_cast<std::size_t>(cols * cols), 0.0);
    if (opt_.observer) e.observer = std::make_shared<calib::Observer>(*opt_.observer, name);
  } else if (e.cols != cols) {
    fail("\"", name, "\": inputs of ", cols, " channels after earlier ones of ", e.cols);
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (std::int64_t j = 0; j < cols; ++j) {
      const float v = xr[j];
      if (!std::isfinite(v)) fail("\"", name, "\": non-finite input ", v, " at row ", e.rows + r, ", channel ", j);
      e.sum_abs[static_cast<std::size_t>(j)] += std::fabs(v);
      e.sum_sq[static_cast<std::size_t>(j)] += static_cast<double>(v) * v;
      e.min[static_cast<std::size_t>(j)] = std::min(e.min[static_cast<std::size_t>(j)], v);
      e.max[static_cast<std::size_t>(j)] = std::max(e.max[static_cast<std::size_t>(j)], v);
    }
  }
  if (e.observer) e.observer->observe(std::span<const float>(x, static_cast<std::size_t>(rows * cols)));
  if (opt_.hessian) {
    // Compared by content, not address: the runtime reuses one buffer for different inputs.
    const bool same = rows == last_rows_ && cols == last_cols_ &&
                      std::memcmp(last_x_.data(), x, static_cast<std::size_t>(rows * cols) * sizeof(float)) == 0;
    if (!same) {
      std::vector<float> xt(static_cast<std::size_t>(rows * cols));
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t j = 0; j < cols; ++j) xt[static_cast<std::size_t>(j * rows + r)] = x[r * cols + j];
      last_xtx_.resize(static_cast<std::size_t>(cols * cols));
      kernels::gram_f32(xt.data(), last_xtx_.data(), cols, rows, threads);
      last_x_.assign(x, x + rows * cols);
      last_rows_ = rows;
      last_cols_ = cols;
    }
    for (std::size_t i = 0; i < e.xtx.size(); ++i) e.xtx[i] += last_xtx_[i];
  }
  e.rows += rows;
}

void ActivationStats::fill_imatrix(Imatrix& m) const {
  for (const auto& [name, e] : entries_) {
    ImatrixEntry ie;
    ie.sums.resize(e.sum_sq.size());
    for (std::size_t i = 0; i < ie.sums.size(); ++i) ie.sums[i] = static_cast<float>(e.sum_sq[i]);
    ie.counts = {e.rows};
    m.entries[name] = std::move(ie);
  }
}

}  // namespace lowbit
