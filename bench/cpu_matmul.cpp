// lowbit's CPU matmul as the runtime runs it (Linear::forward on ggml blocks with ggml's
// activation rounding: activations quantized to the vec_dot_type inside the timed call),
// and two probes of the machine's ceilings: streaming-read bandwidth and the fp32 FMA peak.
// bench/cpu_matmul.sh runs it beside llama.cpp.
// Usage: cpu_matmul TYPE N K M THREADS REPS | cpu_matmul stream MIB THREADS REPS |
//        cpu_matmul fma THREADS REPS
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/ggml_types.h"
#include "lowbit/linear.h"
#include "lowbit/parallel.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Sums 32-byte lines over `threads` so the compiler cannot drop the reads; the machine's
// read bandwidth for the M = 1 bound.
int stream(std::size_t mib, int threads, int reps) {
  const std::size_t n = (mib << 20) / sizeof(std::uint64_t);
  std::vector<std::uint64_t> buf(n);
  for (std::size_t i = 0; i < n; ++i) buf[i] = i * 0x9E3779B97F4A7C15ull;
  std::vector<double> t;
  std::uint64_t sink = 0;
  for (int r = 0; r <= reps; ++r) {
    std::vector<std::uint64_t> part(static_cast<std::size_t>(threads), 0);
    const auto t0 = std::chrono::steady_clock::now();
    lowbit::parallel_for(n, threads, n / static_cast<std::size_t>(threads) + 1, [&](std::size_t b, std::size_t e) {
      std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      std::size_t i = b;
      for (; i + 4 <= e; i += 4) {
        a0 ^= buf[i];
        a1 ^= buf[i + 1];
        a2 ^= buf[i + 2];
        a3 ^= buf[i + 3];
      }
      for (; i < e; ++i) a0 ^= buf[i];
      part[b * static_cast<std::size_t>(threads) / n] = a0 ^ a1 ^ a2 ^ a3;
    });
    if (r > 0) t.push_back(seconds_since(t0));
    for (const auto p : part) sink ^= p;
  }
  const double s = median(t);
  std::printf("{\"peer\": \"stream\", \"mib\": %zu, \"threads\": %d, \"seconds\": %.9f, \"GBps\": %.3f, \"sink\": %llu}\n",
              mib, threads, s, static_cast<double>(mib << 20) / s / 1e9, static_cast<unsigned long long>(sink & 1));
  return 0;
}

// Twelve independent 8-wide fp32 FMA chains (more than the FMA latency times the pipes),
// nothing else in the loop: the ceiling for a matmul that does its multiply-adds in fp32,
// as F16 does at large M.
__attribute__((target("avx2,fma"))) float fma_chains(long iters) {
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  // Distinct starting values, or the compiler merges identical chains into one.
  __m256 a0 = _mm256_set1_ps(1.f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f);
  __m256 a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f);
  __m256 a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f);
  __m256 a9 = _mm256_set1_ps(1.09f), a10 = _mm256_set1_ps(1.1f), a11 = _mm256_set1_ps(1.11f);
  for (long i = 0; i < iters; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c), a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c), a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c), a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c), a10 = _mm256_fmadd_ps(a10, m, c), a11 = _mm256_fmadd_ps(a11, m, c);
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                 _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)),
                                               _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
  return _mm256_cvtss_f32(s);
}

int fma_peak(int threads, int reps) {
  constexpr long kIters = 50'000'000;
  std::vector<double> t;
  float sink = 0.f;
  for (int r = 0; r <= reps; ++r) {
    std::vector<float> part(static_cast<std::size_t>(threads), 0.f);
    const auto t0 = std::chrono::steady_clock::now();
    lowbit::parallel_for(static_cast<std::size_t>(threads), threads, 1,
                         [&](std::size_t b, std::size_t) { part[b] = fma_chains(kIters); });
    if (r > 0) t.push_back(seconds_since(t0));
    for (const float p : part) sink += p;
  }
  const double s = median(t);
  std::printf("{\"peer\": \"fma\", \"threads\": %d, \"seconds\": %.9f, \"GFLOPS\": %.3f, \"sink\": %d}\n", threads, s,
              12.0 * 16.0 * static_cast<double>(kIters) * threads / s / 1e9, sink > 0.f ? 1 : 0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 5 && std::string(argv[1]) == "stream")
    return stream(std::strtoull(argv[2], nullptr, 10), std::atoi(argv[3]), std::atoi(argv[4]));
  if (argc == 4 && std::string(argv[1]) == "fma") return fma_peak(std::atoi(argv[2]), std::atoi(argv[3]));
  if (argc != 7) {
    std::fprintf(stderr, "usage: cpu_matmul TYPE N K M THREADS REPS | cpu_matmul stream MIB THREADS REPS | "
                         "cpu_matmul fma THREADS REPS\n");
    return 2;
  }
  const std::string tname = argv[1];
  const std::int64_t n = std::atoll(argv[2]), k = std::atoll(argv[3]), m = std::atoll(argv[4]);
  const int threads = std::atoi(argv[5]), reps = std::atoi(argv[6]);
  const lowbit::ggml::TypeTraits* tr = lowbit::ggml::traits_by_name(tname);
  if (!tr) lowbit::fail("unknown ggml type '", tname, "'");
  const lowbit::ggml::Type type = tr->type;
  std::mt19937 rng(0);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> w(static_cast<std::size_t>(n * k)), x(static_cast<std::size_t>(m * k));
  for (auto& v : w) v = 0.02f * nd(rng);
  for (auto& v : x) v = nd(rng);
  const std::size_t row_bytes = lowbit::ggml::row_size(type, k).value();
  std::vector<std::byte> blocks(row_bytes * static_cast<std::size_t>(n));
  lowbit::ggml::quantize_rows(type, w.data(), blocks.data(), n, k, nullptr, 0);
  const lowbit::Linear lin =
      lowbit::Linear::from_ggml("bench", type, blocks, n, k, lowbit::ActivationRounding::GgmlCpu);
  std::vector<float> y(static_cast<std::size_t>(m * n));
  std::vector<double> t;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    lin.forward(x.data(), m, y.data(), threads);
    if (r > 0) t.push_back(seconds_since(t0));
  }
  std::printf("{\"peer\": \"lowbit\", \"type\": \"%s\", \"n\": %lld, \"k\": %lld, \"m\": %lld, \"threads\": %d, "
              "\"seconds\": %.9f, \"weight_bytes\": %zu}\n",
              tname.c_str(), static_cast<long long>(n), static_cast<long long>(k), static_cast<long long>(m), threads,
              median(t), blocks.size());
  return 0;
} catch (const lowbit::Error& e) {
  std::fprintf(stderr, "cpu_matmul: %s\n", e.what());
  return 1;
}
