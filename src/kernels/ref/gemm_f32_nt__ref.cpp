// Reference fp32 matmul y = x * w^T: one running sum per output in k order, the plainest
// statement of the product, and the oracle tests/kernels compares the AVX2 kernel with.
#include "kernels/gemm_f32.h"

namespace lowbit::kernels {

void gemm_f32_nt__ref(const float* x, const float* w, float* y, std::int64_t m, std::int64_t n, std::int64_t k,
                      std::int64_t n0, std::int64_t n1) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = n0; j < n1; ++j) {
      float s = 0.0f;
      for (std::int64_t t = 0; t < k; ++t) s += x[i * k + t] * w[j * k + t];
      y[i * n + j] = s;
    }
}

}  // namespace lowbit::kernels
