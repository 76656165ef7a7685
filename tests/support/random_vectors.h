// Normal random test vectors drawn from a caller's generator (so a test's later draws
// continue the same stream).
#pragma once
#include <cstddef>
#include <random>
#include <vector>

namespace lowbit::testing {

inline std::vector<float> randn(std::size_t n, std::mt19937& rng, float sd = 1.0f) {
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace lowbit::testing
