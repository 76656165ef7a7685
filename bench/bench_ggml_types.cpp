// Quantize / dequantize throughput of every ggml type lowbit encodes, in GB/s of fp32
// (4 bytes per weight), on a 4096 x 14336 fp32 matrix: the reference row functions
// (one thread) and the dispatched path (AVX2 twins where they exist) on 1 and 2 threads.
// The k-quants' reference encoders are ~100x slower, so they run on the first 512 rows.
// Run through bench/ggml_throughput.sh, which measures llama.cpp and gguf-py beside it.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "lowbit/ggml_types.h"

namespace {

using lowbit::ggml::Type;
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

const Type kTypes[] = {Type::F16, Type::BF16, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0,
                       Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::IQ4_NL, Type::IQ4_XS};

std::int64_t quant_rows_for(Type t) { return lowbit::ggml::traits(t).block_size == 256 ? 512 : kRows; }

// mode 0: reference row function on one thread; mode 1/2: quantize_rows on 1/2 threads.
void BM_Quantize(benchmark::State& state, Type t) {
  const auto& tr = lowbit::ggml::traits(t);
  const std::int64_t rows = quant_rows_for(t);
  const int mode = int(state.range(0));
  std::vector<std::uint8_t> q(rows * *lowbit::ggml::row_size(t, kCols));
  for (auto _ : state) {
    if (mode == 0)
      tr.from_float_ref(weights().data(), q.data(), rows * kCols);
    else
      lowbit::ggml::quantize_rows(t, weights().data(), q.data(), rows, kCols, nullptr, mode);
    benchmark::DoNotOptimize(q.data());
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * rows * kCols * 4);
  state.counters["bpw"] = tr.bits_per_weight();
}

void BM_Dequantize(benchmark::State& state, Type t) {
  const auto& tr = lowbit::ggml::traits(t);
  const int mode = int(state.range(0));
  std::vector<std::uint8_t> q(kRows * *lowbit::ggml::row_size(t, kCols));
  lowbit::ggml::quantize_rows(t, weights().data(), q.data(), kRows, kCols, nullptr, 2);
  std::vector<float> out(std::size_t(kRows * kCols));
  for (auto _ : state) {
    if (mode == 0)
      tr.to_float(q.data(), out.data(), kRows * kCols);
    else
      lowbit::ggml::dequantize(t, q.data(), out.data(), kRows * kCols, mode);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * kRows * kCols * 4);
  state.counters["bpw"] = tr.bits_per_weight();
}

const bool registered = [] {
  weights();  // generate the data before any timing starts
  for (Type t : kTypes) {
    const std::string name = lowbit::ggml::traits(t).name;
    benchmark::RegisterBenchmark(("quantize/" + name).c_str(), BM_Quantize, t)->ArgName("mode")->Arg(0)->Arg(1)->Arg(2)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("dequantize/" + name).c_str(), BM_Dequantize, t)->ArgName("mode")->Arg(0)->Arg(1)->Arg(2)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
