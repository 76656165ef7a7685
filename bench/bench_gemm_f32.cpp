// The fp32 matmul behind every fp32 / compact Linear (kernels/gemm_f32.h): GFLOP/s of the
// reference and AVX2 kernels on SmolLM2-135M's Linear shapes (K x N: 576 x 576 q/o,
// 576 x 192 k/v, 576 x 1536 gate/up, 1536 x 576 down) at M = 1, 16, 512 tokens, and
// through gemm_f32_nt on 1 and 2 threads. Counters: flops = 2 M N K per iteration.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/gemm_f32.h"

namespace {

using lowbit::kernels::GemmF32NtFn;

struct Data {
  std::vector<float> x, w, y;
  Data(std::int64_t m, std::int64_t n, std::int64_t k) : x(m * k), w(n * k), y(m * n) {
    std::mt19937 g(7);
    std::normal_distribution<float> d;
    for (auto& v : x) v = d(g);
    for (auto& v : w) v = d(g);
  }
};

void run(benchmark::State& st, GemmF32NtFn fn) {
  const std::int64_t m = st.range(0), n = st.range(1), k = st.range(2);
  Data d(m, n, k);
  for (auto _ : st) {
    fn(d.x.data(), d.w.data(), d.y.data(), m, n, k, 0, n);
    benchmark::DoNotOptimize(d.y.data());
  }
  st.counters["GFLOPS"] = benchmark::Counter(2.0 * double(m * n * k), benchmark::Counter::kIsIterationInvariantRate,
                                             benchmark::Counter::kIs1000);
}

void BM_gemm_f32_nt__ref(benchmark::State& st) { run(st, lowbit::kernels::gemm_f32_nt__ref); }
void BM_gemm_f32_nt__avx2(benchmark::State& st) { run(st, lowbit::kernels::gemm_f32_nt__avx2); }

void BM_gemm_f32_nt_threads(benchmark::State& st) {
  const std::int64_t m = st.range(0), n = st.range(1), k = st.range(2);
  const int threads = static_cast<int>(st.range(3));
  Data d(m, n, k);
  for (auto _ : st) {
    lowbit::kernels::gemm_f32_nt(d.x.data(), d.w.data(), d.y.data(), m, n, k, threads);
    benchmark::DoNotOptimize(d.y.data());
  }
  st.counters["GFLOPS"] = benchmark::Counter(2.0 * double(m * n * k), benchmark::Counter::kIsIterationInvariantRate,
                                             benchmark::Counter::kIs1000);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (std::int64_t m : {1, 16, 512})
    for (auto [n, k] : {std::pair<std::int64_t, std::int64_t>{576, 576}, {192, 576}, {1536, 576}, {576, 1536}})
      b->Args({m, n, k});
}

void thread_shapes(benchmark::internal::Benchmark* b) {
  for (std::int64_t t : {1, 2})
    for (auto [n, k] : {std::pair<std::int64_t, std::int64_t>{1536, 576}, {576, 1536}}) b->Args({512, n, k, t});
}

}  // namespace

BENCHMARK(BM_gemm_f32_nt__ref)->Args({512, 576, 576})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gemm_f32_nt__avx2)->Apply(shapes)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gemm_f32_nt_threads)->Apply(thread_shapes)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
