// Dense symmetric positive-definite helpers for the second-order methods (GPTQ's inverse
// Hessian factor): in-place Cholesky, inverse from the factor, all in double.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

namespace lowbit::algo {

// a [n, n] row-major SPD -> its lower factor L (a = L L^T) in the lower triangle, upper
// triangle zeroed. Returns false if a pivot is not positive (a not positive definite).
bool cholesky_lower(std::vector<double>& a, std::int64_t n);

// The inverse of L L^T from the lower factor L, as a full symmetric matrix.
// threads <= 0: all hardware threads. The result does not depend on the thread count.
std::vector<double> inverse_from_cholesky(const std::vector<double>& l, std::int64_t n, int threads = 1);
// L^-1 of a lower factor, lower triangular.
std::vector<double> lower_inverse(const std::vector<double>& l, std::int64_t n, int threads = 1);
// U, upper triangular with U^T U = h^-1 (GPTQ's chol(H^-1, upper)), without forming h^-1;
// nullopt if h is not positive definite. Takes h by value and works in its storage, so
// a caller that moves it in holds two n x n matrices at most.
std::optional<std::vector<double>> upper_cholesky_of_inverse(std::vector<double> h, std::int64_t n, int threads = 1);

}  // namespace lowbit::algo
