// See cholesky.h. Row-oriented Cholesky-Banachiewicz and the inverse via L^-1: O(n^3)
// in double, a few seconds for the largest Linear inputs lowbit meets on the CPU.
#include "algo/cholesky.h"

#include <cmath>

namespace lowbit::algo {

bool cholesky_lower(std::vector<double>& a, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    double* ai = a.data() + i * n;
    for (std::int64_t j = 0; j <= i; ++j) {
      const double* aj = a.data() + j * n;
      double s = ai[j];
      for (std::int64_t k = 0; k < j; ++k) s -= ai[k] * aj[k];
      if (i == j) {
        if (!(s > 0)) return false;
        ai[i] = std::sqrt(s);
      } else {
        ai[j] = s / aj[j];
      }
    }
    for (std::int64_t j = i + 1; j < n; ++j) ai[j] = 0;
  }
  return true;
}

std::vector<double> inverse_from_cholesky(const std::vector<double>& l, std::int64_t n) {
  // m = L^-1 (lower), row by row: m[i][c] = (delta_ic - sum_k l[i][k] m[k][c]) / l[i][i],
  // accumulated as axpys over the contiguous rows m[k][0..k].
  std::vector<double> m(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    double* mi = m.data() + i * n;
    for (std::int64_t k = 0; k < i; ++k) {
      const double lik = l[static_cast<std::size_t>(i * n + k)];
      const double* mk = m.data() + k * n;
      for (std::int64_t c = 0; c <= k; ++c) mi[c] -= lik * mk[c];
    }
    mi[i] += 1.0;
    const double inv_d = 1.0 / l[static_cast<std::size_t>(i * n + i)];
    for (std::int64_t c = 0; c <= i; ++c) mi[c] *= inv_d;
  }
  // (L L^T)^-1 = M^T M, summed over the rows of M (outer products of contiguous rows).
  std::vector<double> inv(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t k = 0; k < n; ++k) {
    const double* mk = m.data() + k * n;
    for (std::int64_t i = 0; i <= k; ++i) {
      double* row = inv.data() + i * n;
      const double a = mk[i];
      for (std::int64_t j = 0; j <= i; ++j) row[j] += a * mk[j];
    }
  }
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < i; ++j) inv[static_cast<std::size_t>(j * n + i)] = inv[static_cast<std::size_t>(i * n + j)];
  return inv;
}

}  // namespace lowbit::algo
