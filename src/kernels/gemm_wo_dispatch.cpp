// Picks the weight-only GEMM kernel (kernels/gemm_wo.h) by fast_kernels_enabled() and splits
// output columns over threads in blocks fixed by the shape.
#include "kernels/gemm_wo.h"
#include "kernels/quant_rows.h"
#include "lowbit/error.h"
#include "lowbit/parallel.h"

namespace lowbit::kernels {

GemmWoFn gemm_wo_kernel() {
  static const GemmWoFn fn = fast_kernels_enabled() ? gemm_wo__avx2 : gemm_wo__ref;
  return fn;
}

void gemm_wo(const float* x, const WoWeights& w, float* y, std::int64_t m, int threads) {
  if (m < 0) fail("gemm_wo: m = ", m);
  if (m > 0 && (!x || !y)) fail("gemm_wo: x and y are required");
  const GemmWoFn fn = gemm_wo_kernel();
  // Below ~1 M multiply-adds a second thread costs more to start than it saves.
  if (m * w.n * w.k < kParallelMinWork) threads = 1;
  parallel_for(static_cast<std::size_t>(w.n), threads, 16, [&](std::size_t b, std::size_t e) {
    fn(x, w, y, m, static_cast<std::int64_t>(b), static_cast<std::int64_t>(e));
  });
}

}  // namespace lowbit::kernels
