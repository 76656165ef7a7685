// Statistics of every Linear layer's input, accumulated over calibration text in
// streaming form: mean |x| per channel (AWQ's activation scale), mean x^2 per channel
// (llama.cpp's imatrix), the Hessian X^T X (GPTQ), per-channel min/max and an optional
// observer's range (static activation quantization). Memory: one entry per Linear.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lowbit/imatrix.h"
#include "lowbit/observer.h"

namespace lowbit {

struct ActivationStatsOptions {
  bool hessian = true;                     // X^T X, cols x cols per Linear
  std::optional<calib::ObserverOptions> observer;  // per-tensor range of the inputs
};

struct LinearInputStats {
  std::int64_t cols = 0;
  std::int64_t rows = 0;                   // input rows (tokens) seen
  std::vector<double> sum_abs, sum_sq;     // per channel
  std::vector<float> min, max;             // per channel
  std::vector<double> xtx;                 // cols x cols, empty unless options.hessian
  std::shared_ptr<calib::Observer> observer;
  // GPTQ's H = 2/n X^T X uses the mean; lowbit stores (1/n) X^T X and says so.
  std::vector<float> mean_abs() const;
  std::vector<float> mean_sq() const;
  std::vector<float> hessian_mean() const;  // (1/rows) X^T X
};

class ActivationStats {
 public:
  explicit ActivationStats(ActivationStatsOptions o = {});
  // Adds rows x cols inputs of weight `name`. Consecutive calls with the same input
  // (q, k and v read one normed input) reuse the X^T X product.
  void add(const std::string& name, const float* x, std::int64_t rows, std::int64_t cols, int threads);
  const std::map<std::string, LinearInputStats>& entries() const { return entries_; }
  const LinearInputStats& at(const std::string& name) const;
  LinearInputStats& at(const std::string& name);
  // Moves the entry out (a consumer done with the statistics frees them as it goes).
  LinearInputStats take(const std::string& name);
  // Frees the copy of the last input and its X^T X kept to serve Linears that share it
  // (q, k, v): once a capture pass is over they only cost memory.
  void drop_input_cache();
  void erase(const std::string& name) { entries_.erase(name); }
  // llama.cpp's imatrix of the entries: in_sum2 = sum x^2, counts = rows.
  void fill_imatrix(Imatrix& m) const;

 private:
  ActivationStatsOptions opt_;
  std::map<std::string, LinearInputStats> entries_;
  std::vector<float> last_x_;
  std::int64_t last_rows_ = 0, last_cols_ = 0;
  std::vector<float> last_xtx_;
};

}  // namespace lowbit
