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
  if (m * n * k < (std::int64_t{1} << 20)) threads = 1;
  parallel_for(static_cast<std::size_t>(n), threads, 16, [&](std::size_t b, std::size_t e) {
    fn(x, w, y, m, n, k, static_cast<std::int64_t>(b), static_cast<std::int64_t>(e));
  });
}

}  // namespace lowbit::kernels
