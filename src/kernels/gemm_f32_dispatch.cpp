// Picks the fp32 matmul kernel by cpuid and splits the output columns over threads in
// blocks fixed by the shape, so a result never depends on the thread count.
#include <algorithm>

#include "kernels/gemm_f32.h"
#include "kernels/quant_rows.h"
#include "lowbit/parallel.h"

namespace lowbit::kernels {

GemmF32NtFn gemm_f32_nt_kernel() {
  static const GemmF32NtFn fn = fast_kernels_enabled() ? gemm_f32_nt__avx2 : gemm_f32_nt__ref;
  return fn;
}

void gemm_f32_nt(const float* x, const float* w, float* y, std::int64_t m, std::int64_t n, std::int64_t k,
                 int threads) {
  const GemmF32NtFn fn = gemm_f32_nt_kernel();
  // Below ~1 MFLOP a second thread costs more to start than it saves.
  if (m * n * k < kParallelMinWork) threads = 1;
  parallel_for(static_cast<std::size_t>(n), threads, 16, [&](std::size_t b, std::size_t e) {
    fn(x, w, y, m, n, k, static_cast<std::int64_t>(b), static_cast<std::int64_t>(e));
  });
}

void gram_f32(const float* a, float* g, std::int64_t n, std::int64_t k, int threads) {
  // Mirroring costs about what 64 k-steps of products do (strided copies): below that,
  // the whole product is cheaper than half of it plus the mirror.
  if (k < 64) {
    gemm_f32_nt(a, a, g, n, n, k, threads);
    return;
  }
  const GemmF32NtFn fn = gemm_f32_nt_kernel();
  // Row blocks of 48 (a multiple of the AVX2 kernel's 3-row tile), dealt out round-robin:
  // the block at row i computes columns i..n, so later blocks are cheaper.
  constexpr std::int64_t kBlock = 48;
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  if (n * n * k < 2 * kParallelMinWork) threads = 1;
  const auto lanes = static_cast<std::size_t>(std::max(1, std::min<int>(threads, static_cast<int>(blocks))));
  parallel_for(lanes, static_cast<int>(lanes), 1, [&](std::size_t l0, std::size_t l1) {
    for (std::size_t lane = l0; lane < l1; ++lane)
      for (std::int64_t b = static_cast<std::int64_t>(lane); b < blocks; b += static_cast<std::int64_t>(lanes)) {
        const std::int64_t i0 = b * kBlock, i1 = std::min(n, i0 + kBlock);
        fn(a + i0 * k, a, g + i0 * n, i1 - i0, n, k, i0, n);
      }
  });
  // Blocks compute from their first row's column on: what lies left of that is mirrored.
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < (i / kBlock) * kBlock; ++j) g[i * n + j] = g[j * n + i];
}

}  // namespace lowbit::kernels
