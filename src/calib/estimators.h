// Constructors of the per-method range estimators, one file per method; observer.cpp's
// factory picks among them from ObserverOptions.
#pragma once
#include <memory>
#include <span>
#include <vector>

#include "lowbit/observer.h"

namespace lowbit::calib {

std::unique_ptr<RangeEstimator> make_minmax_estimator(bool fold_each_batch);
std::unique_ptr<RangeEstimator> make_moving_average_estimator(float averaging_constant, bool fold_each_batch);
std::unique_ptr<RangeEstimator> make_percentile_estimator(const ObserverOptions& o);
std::unique_ptr<RangeEstimator> make_entropy_estimator(const ObserverOptions& o);
std::unique_ptr<RangeEstimator> make_entropy_ort_estimator(const ObserverOptions& o);
std::unique_ptr<RangeEstimator> make_distribution_estimator(const ObserverOptions& o);
std::unique_ptr<RangeEstimator> make_histogram_l2_estimator(const ObserverOptions& o);
std::unique_ptr<RangeEstimator> make_mse_estimator(const ObserverOptions& o);

// ORT's (MXNet's) smooth_distribution: zeros become eps, the non-zeros give up
// eps * zeros / nonzeros each. Returns false when every entry is zero (ORT's None).
bool smooth_distribution(std::vector<double>& p, double eps = 1e-4);
// KL(p || q) of the normalised distributions (scipy.stats.entropy); +inf where q is 0
// and p is not.
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q);

// Throws unless the estimator has seen data.
void require_observed(bool seen, const char* method);

}  // namespace lowbit::calib
