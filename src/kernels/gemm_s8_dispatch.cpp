// Picks the integer GEMM kernel (kernels/gemm_s8.h) by fast_kernels_enabled(), checks the
// arguments once, and splits output columns over threads in blocks fixed by the shape.
#include "kernels/gemm_s8.h"
#include "kernels/quant_rows.h"
#include "lowbit/error.h"
#include "lowbit/parallel.h"

namespace lowbit::kernels {
namespace {

void check(const S8Activations& a, const S8Weights& w) {
  if (a.k != w.k) fail("gemm_s8: activations have k = ", a.k, ", weights k = ", w.k);
  if (a.m < 0) fail("gemm_s8: m = ", a.m);
  if (a.m > 0 && !a.data) fail("gemm_s8: activation data is null");
  if (a.row_stride != 0 && a.row_stride < a.k) fail("gemm_s8: row stride ", a.row_stride, " < k = ", a.k);
  if (!a.zero_points) return;
  const std::int32_t lo = a.is_unsigned ? 0 : -128, hi = a.is_unsigned ? 255 : 127;
  const std::int64_t count = a.per_token ? a.m : 1;
  for (std::int64_t i = 0; i < count; ++i)
    if (a.zero_points[i] < lo || a.zero_points[i] > hi)
      fail("gemm_s8: activation zero point ", a.zero_points[i], " (row ", i, ") is outside [", lo, ", ", hi, "]");
}

void run(const S8Activations& a, const S8Weights& w, std::int32_t* y32, float* y, int threads) {
  check(a, w);
  const GemmS8Fn fn = gemm_s8_kernel();
  // Below ~1 M multiply-adds a second thread costs more to start than it saves.
  if (a.m * w.n * w.k < kParallelMinWork) threads = 1;
  // Blocks of 16 columns: whole 4-column panels, so no panel is split between threads.
  parallel_for(static_cast<std::size_t>(w.n), threads, 16, [&](std::size_t b, std::size_t e) {
    fn(a, w, y32, y, static_cast<std::int64_t>(b), static_cast<std::int64_t>(e));
  });
}

}  // namespace

GemmS8Fn gemm_s8_kernel() {
  static const GemmS8Fn fn = fast_kernels_enabled() ? gemm_s8__avx2 : gemm_s8__ref;
  return fn;
}

void gemm_s8(const S8Activations& a, const S8Weights& w, float* y, int threads) { run(a, w, nullptr, y, threads); }

void gemm_s8_s32(const S8Activations& a, const S8Weights& w, std::int32_t* y32, int threads) {
  run(a, w, y32, nullptr, threads);
}

}  // namespace lowbit::kernels
