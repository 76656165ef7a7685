// Dense symmetric positive-definite helpers for the second-order methods (GPTQ's inverse
// Hessian factor): in-place Cholesky, inverse from the factor, all in double.
#pragma once
#include <cstdint>
#include <vector>

namespace lowbit::algo {

// a [n, n] row-major SPD -> its lower factor L (a = L L^T) in the lower triangle, upper
// triangle zeroed. Returns false if a pivot is not positive (a not positive definite).
bool cholesky_lower(std::vector<double>& a, std::int64_t n);

// The inverse of L L^T from the lower factor L, as a full symmetric matrix.
std::vector<double> inverse_from_cholesky(const std::vector<double>& l, std::int64_t n);

}  // namespace lowbit::algo
