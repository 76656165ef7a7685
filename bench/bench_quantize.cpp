// Quantize / dequantize throughput of lowbit::quantize_tensor / dequantize_tensor, in GB/s
// of fp32 input (4 bytes per weight), on a 4096 x 14336 fp32 matrix (an FFN weight of a
// 7-8B LLM) for every scheme, 1 and 2 threads. Results go to docs/benchmarks.md.
// Run: build/release/bench/bench_quantize --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "lowbit/quantize.h"

namespace {

constexpr std::int64_t kRows = 4096, kCols = 14336;

const std::vector<float>& weights() {
  static const std::vector<float> w = [] {
    std::vector<float> v(std::size_t(kRows * kCols));
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 0.02f);
    for (auto& x : v) x = d(rng);
    return v;
  }();
  return w;
}

const char* const kSchemes[] = {"int8:channel:sym", "int8:g32:sym", "int8:g128:sym", "int4:g32:sym", "int4:g128:asym", "int4:g128:sym",
                                "int4:g32:sb256:asym", "uint4:g64:asym", "int3:g128:asym", "int2:g64:asym",
                                "nf4:g64", "fp8e4m3:tensor", "fp16", "bf16", "int16:channel:sym",
                                "kmeans4:channel"};

// k-means is per channel and far slower; it runs on the first 256 rows so a run stays
// short, and reports GB/s of the rows it processed.
std::int64_t rows_for(const char* spec) { return std::string(spec).rfind("kmeans", 0) == 0 ? 256 : kRows; }

void BM_Quantize(benchmark::State& state, const char* spec) {
  const auto& w = weights();
  const int threads = int(state.range(0));
  const std::int64_t rows = rows_for(spec);
  const std::vector<std::int64_t> shape{rows, kCols};
  const std::span<const float> x(w.data(), std::size_t(rows * kCols));
  const auto s = lowbit::parse_scheme(spec);
  for (auto _ : state) {
    auto q = lowbit::quantize_tensor(x, shape, s, threads);
    benchmark::DoNotOptimize(q.codes.data());
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * rows * kCols * 4);
  state.counters["bpw"] = lowbit::quantize_tensor(x.first(std::size_t(kCols * 16)), std::vector<std::int64_t>{16, kCols}, s, 1).bits_per_weight();
}

void BM_Dequantize(benchmark::State& state, const char* spec) {
  const auto& w = weights();
  const int threads = int(state.range(0));
  const std::int64_t rows = rows_for(spec);
  const std::vector<std::int64_t> shape{rows, kCols};
  const std::span<const float> x(w.data(), std::size_t(rows * kCols));
  const auto q = lowbit::quantize_tensor(x, shape, lowbit::parse_scheme(spec), 2);
  std::vector<float> out(x.size());
  for (auto _ : state) {
    lowbit::dequantize_tensor(q, out, threads);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * rows * kCols * 4);
}

int register_all() {
  for (const char* spec : kSchemes) {
    benchmark::RegisterBenchmark((std::string("quantize/") + spec).c_str(), BM_Quantize, spec)
        ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark((std::string("dequantize/") + spec).c_str(), BM_Dequantize, spec)
        ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
