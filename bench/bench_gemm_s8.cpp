// Quantized Linears on a 4096 x 4096 weight: W8A8 gemm_s8 (uint8 per-token activations, int8
// per-channel symmetric weights) and weight-only gemm_wo (W4 asym and W8 sym, groups of 128),
// ref and AVX2, M = 1, 8, 64, 512, 1 and 2 threads (columns split as the dispatchers split
// them). Counter: GFLOPS = 2 M N K per iteration over wall time.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/gemm_s8.h"
#include "kernels/gemm_wo.h"
#include "kernels/quant_rows.h"
#include "lowbit/parallel.h"

namespace {

using namespace lowbit::kernels;

constexpr std::int64_t kN = 4096, kK = 4096;

void set_counters(benchmark::State& st, std::int64_t m) {
  st.counters["GFLOPS"] = benchmark::Counter(2.0 * double(m * kN * kK), benchmark::Counter::kIsIterationInvariantRate,
                                             benchmark::Counter::kIs1000);
}

void BM_gemm_s8(benchmark::State& st, GemmS8Fn fn) {
  if (fn == gemm_s8__avx2 && !cpu_has_avx2()) return st.SkipWithError("no AVX2+FMA+F16C");
  const std::int64_t m = st.range(0);
  const int threads = static_cast<int>(st.range(1));
  std::mt19937 g(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::uint8_t> a(static_cast<std::size_t>(m * kK));
  for (auto& v : a) v = static_cast<std::uint8_t>(byte(g));
  std::vector<std::int8_t> w(static_cast<std::size_t>(kN * kK));
  for (auto& v : w) v = static_cast<std::int8_t>(byte(g) - 128);
  std::vector<float> sw(kN, 0.01f), sa(static_cast<std::size_t>(m), 0.02f);
  std::vector<std::int32_t> za(static_cast<std::size_t>(m), 128);
  const S8Weights packed = pack_s8_weights(w.data(), kN, kK, sw.data(), kN, nullptr, 0);
  S8Activations act;
  act.data = a.data();
  act.m = m;
  act.k = kK;
  act.zero_points = za.data();
  act.scales = sa.data();
  act.per_token = true;
  std::vector<float> y(static_cast<std::size_t>(m * kN));
  for (auto _ : st) {
    lowbit::parallel_for(kN, threads, 16, [&](std::size_t b, std::size_t e) {
      fn(act, packed, nullptr, y.data(), static_cast<std::int64_t>(b), static_cast<std::int64_t>(e));
    });
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(st, m);
}

void BM_gemm_wo(benchmark::State& st, GemmWoFn fn, int bits) {
  if (fn == gemm_wo__avx2 && !cpu_has_avx2()) return st.SkipWithError("no AVX2+FMA+F16C");
  const std::int64_t m = st.range(0), group = 128;
  const int threads = static_cast<int>(st.range(1));
  std::mt19937 g(7);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> code(0, bits == 4 ? 15 : 255);
  std::vector<float> x(static_cast<std::size_t>(m * kK));
  for (auto& v : x) v = normal(g);
  std::vector<std::uint8_t> q(static_cast<std::size_t>(kN * kK)), z(static_cast<std::size_t>(kN * kK / group));
  for (auto& v : q) v = static_cast<std::uint8_t>(code(g));
  for (auto& v : z) v = static_cast<std::uint8_t>(code(g));
  std::vector<float> s(z.size(), 0.01f);
  const WoWeights packed = bits == 4 ? pack_wo_u4(q.data(), s.data(), z.data(), kN, kK, group)
                                     : pack_wo_s8(reinterpret_cast<const std::int8_t*>(q.data()), s.data(), kN, kK, group);
  std::vector<float> y(static_cast<std::size_t>(m * kN));
  for (auto _ : st) {
    lowbit::parallel_for(kN, threads, 16, [&](std::size_t b, std::size_t e) {
      fn(x.data(), packed, y.data(), m, static_cast<std::int64_t>(b), static_cast<std::int64_t>(e));
    });
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(st, m);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"m", "threads"})->ArgsProduct({{1, 8, 64, 512}, {1, 2}})->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(BM_gemm_s8, ref, gemm_s8__ref)->Apply(shapes)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_gemm_s8, avx2, gemm_s8__avx2)->Apply(shapes)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_gemm_wo, w4_asym_g128_ref, gemm_wo__ref, 4)->Apply(shapes)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_gemm_wo, w4_asym_g128_avx2, gemm_wo__avx2, 4)->Apply(shapes)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_gemm_wo, w8_sym_g128_ref, gemm_wo__ref, 8)->Apply(shapes)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_gemm_wo, w8_sym_g128_avx2, gemm_wo__avx2, 8)->Apply(shapes)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
