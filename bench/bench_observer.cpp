// Observer ingest throughput: every calibration method consuming a 4096 x 4096 fp32
// activation-like tensor (Student-t, so histograms have tails) on one thread, as bytes
// per second; bench/observer_throughput.sh runs torch.ao's HistogramObserver on the same
// shape in the same run. "first" is the first batch; "merge" a second batch with a
// wider range (histogram re-binning included).
#include <benchmark/benchmark.h>

#include <random>

#include "lowbit/observer.h"

using namespace lowbit::calib;

namespace {
const std::vector<float>& data(int which) {
  static std::vector<float> d[2];
  if (d[which].empty()) {
    std::mt19937 rng(which + 1);
    std::student_t_distribution<float> t(4.0f);
    d[which].resize(4096 * 4096);
    for (auto& v : d[which]) v = t(rng) * (which ? 1.5f : 1.0f);
  }
  return d[which];
}

void BM_Observe(benchmark::State& st, Method m, bool merge) {
  const auto& a = data(0);
  const auto& b = data(1);
  ObserverOptions o;
  o.method = m;
  for (auto _ : st) {
    st.PauseTiming();
    Observer obs(o, "x");
    if (merge) obs.observe(a);
    st.ResumeTiming();
    obs.observe(merge ? b : a);
    benchmark::DoNotOptimize(obs.batches());
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(a.size() * 4));
}

void BM_Range(benchmark::State& st, Method m) {
  ObserverOptions o;
  o.method = m;
  Observer obs(o, "x");
  obs.observe(data(0));
  obs.observe(data(1));
  const QuantTarget t = quant_target(8, false, false);
  for (auto _ : st) benchmark::DoNotOptimize(obs.ranges(t));
}
}  // namespace

BENCHMARK_CAPTURE(BM_Observe, minmax_first, Method::MinMax, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Observe, hist_l2_first, Method::HistogramL2, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Observe, hist_l2_merge, Method::HistogramL2, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Observe, entropy_first, Method::Entropy, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Observe, entropy_merge, Method::Entropy, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Observe, percentile_first, Method::Percentile, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Observe, entropy_ort_first, Method::EntropyOrt, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Range, hist_l2_search, Method::HistogramL2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Range, entropy_search, Method::Entropy)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
