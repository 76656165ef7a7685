// See cholesky.h. Row-oriented Cholesky-Banachiewicz and the inverse via L^-1: O(n^3)
// in double. The dot products run four independent partial sums (a single running sum
// is one dependent add per element; the compiler may not reassociate it), and the
// inverse splits its independent columns / rows over threads.
#include "algo/cholesky.h"

#include <algorithm>
#include <cmath>

#include "lowbit/parallel.h"

namespace lowbit::algo {
namespace {

double dot(const double* a, const double* b, std::int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; ++k) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}

// Column boundaries splitting [0, n) into `parts` ranges of about equal work when column
// c costs (n - c)^2 (forward substitution for column c of L^-1).
std::vector<std::int64_t> balanced_columns(std::int64_t n, int parts) {
  std::vector<std::int64_t> b{0};
  double total = 0;
  for (std::int64_t c = 0; c < n; ++c) total += static_cast<double>(n - c) * static_cast<double>(n - c);
  double acc = 0;
  for (std::int64_t c = 0; c < n && static_cast<int>(b.size()) < parts; ++c) {
    acc += static_cast<double>(n - c) * static_cast<double>(n - c);
    if (acc >= total * static_cast<double>(b.size()) / parts) b.push_back(c + 1);
  }
  b.push_back(n);
  return b;
}

}  // namespace

bool cholesky_lower(std::vector<double>& a, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    double* ai = a.data() + i * n;
    for (std::int64_t j = 0; j <= i; ++j) {
      const double* aj = a.data() + j * n;
      const double s = ai[j] - dot(ai, aj, j);
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

std::vector<double> lower_inverse(const std::vector<double>& l, std::int64_t n, int threads) {
  // m = L^-1 (lower): m[i][c] = (delta_ic - sum_k l[i][k] m[k][c]) / l[i][i]. Columns are
  // independent; each thread takes a column range and sweeps the rows, as axpys over
  // its part of the contiguous rows m[k][0..k].
  std::vector<double> m(static_cast<std::size_t>(n * n), 0.0);
  const int parts = std::max(1, threads <= 0 ? hardware_threads() : threads);
  const auto bounds = balanced_columns(n, parts);
  parallel_for(bounds.size() - 1, parts, 1, [&](std::size_t p0, std::size_t p1) {
    for (std::size_t p = p0; p < p1; ++p) {
      const std::int64_t c0 = bounds[p], c1 = bounds[p + 1];
      for (std::int64_t i = c0; i < n; ++i) {
        double* mi = m.data() + i * n;
        const std::int64_t ce = std::min(c1, i + 1);
        for (std::int64_t k = c0; k < i; ++k) {
          const double lik = l[static_cast<std::size_t>(i * n + k)];
          const double* mk = m.data() + k * n;
          const std::int64_t e = std::min(ce, k + 1);
          for (std::int64_t c = c0; c < e; ++c) mi[c] -= lik * mk[c];
        }
        if (i < c1) mi[i] += 1.0;
        const double inv_d = 1.0 / l[static_cast<std::size_t>(i * n + i)];
        for (std::int64_t c = c0; c < ce; ++c) mi[c] *= inv_d;
      }
    }
  });
  return m;
}

std::vector<double> inverse_from_cholesky(const std::vector<double>& l, std::int64_t n, int threads) {
  const std::vector<double> m = lower_inverse(l, n, threads);
  const int parts = std::max(1, threads <= 0 ? hardware_threads() : threads);
  // (L L^T)^-1 = M^T M: row i's lower part is sum over k >= i of m[k][i] * m[k][0..i].
  std::vector<double> inv(static_cast<std::size_t>(n * n), 0.0);
  parallel_for(static_cast<std::size_t>(n), parts, 1, [&](std::size_t r0, std::size_t r1) {
    for (auto i = static_cast<std::int64_t>(r0); i < static_cast<std::int64_t>(r1); ++i) {
      double* row = inv.data() + i * n;
      for (std::int64_t k = i; k < n; ++k) {
        const double* mk = m.data() + k * n;
        const double a = mk[i];
        for (std::int64_t j = 0; j <= i; ++j) row[j] += a * mk[j];
      }
    }
  });
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < i; ++j) inv[static_cast<std::size_t>(j * n + i)] = inv[static_cast<std::size_t>(i * n + j)];
  return inv;
}

std::optional<std::vector<double>> upper_cholesky_of_inverse(std::vector<double> h, std::int64_t n, int threads) {
  // With P the reversal, P H P = L' L'^T gives H = R R^T for the upper R = P L' P, so
  // H^-1 = R^-T R^-1 and its upper Cholesky factor is R^-1 = P L'^-1 P (unique, since its
  // diagonal is positive): one factorization and one triangular inverse, and H^-1 is
  // never formed. (P X P)[i][j] = X[n-1-i][n-1-j] is the row-major array reversed.
  std::reverse(h.begin(), h.end());
  if (!cholesky_lower(h, n)) return std::nullopt;
  std::vector<double> u = lower_inverse(h, n, threads);
  std::vector<double>().swap(h);
  std::reverse(u.begin(), u.end());
  return u;
}

}  // namespace lowbit::algo
