// y[m][n] = sum_k x[m][k] * w[n][k]: the fp32 matmul behind the runtime's Linear layers
// (activations [M, K] times a weight stored as rows [N, K], the layout of every checkpoint).
// __ref is the oracle (one running sum per output, k in order); __avx2 sums 8 lanes then
// folds them, so the two differ by rounding only: |diff| <= (K/8 + 4) * eps * sum|x*w|.
#pragma once
#include <cstdint>

namespace lowbit::kernels {

// Rows [n0, n1) of the output columns; x, w and y are dense row-major.
using GemmF32NtFn = void (*)(const float* x, const float* w, float* y, std::int64_t m, std::int64_t n,
                             std::int64_t k, std::int64_t n0, std::int64_t n1);

void gemm_f32_nt__ref(const float* x, const float* w, float* y, std::int64_t m, std::int64_t n, std::int64_t k,
                      std::int64_t n0, std::int64_t n1);
void gemm_f32_nt__avx2(const float* x, const float* w, float* y, std::int64_t m, std::int64_t n, std::int64_t k,
                       std::int64_t n0, std::int64_t n1);

// The kernel the library uses: __avx2 when the CPU has it and LOWBIT_KERNELS != ref.
GemmF32NtFn gemm_f32_nt_kernel();

// Whole product on `threads` threads. Columns are split in fixed blocks, and each output
// is summed the same way whichever thread owns it, so results never depend on threads.
void gemm_f32_nt(const float* x, const float* w, float* y, std::int64_t m, std::int64_t n, std::int64_t k,
                 int threads);

// g[i][j] = sum_t a[i][t] * a[j][t] for a [n, k]: the Gram matrix X^T X of calibration
// inputs (a = X^T). Only blocks on and above the diagonal are computed, the rest mirrored:
// each output is the same product gemm_f32_nt(a, a) computes (an FMA's product does not
// depend on its operands' order), bit for bit, at about half its cost (k < 64: the
// whole product, cheaper than the mirror).
void gram_f32(const float* a, float* g, std::int64_t n, std::int64_t k, int threads);

}  // namespace lowbit::kernels
