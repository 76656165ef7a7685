// Where the m <= 16 W4A16 GEMV's time goes at M = 1 (issue 7; bench/cuda/w4a16_notes.md,
// "GEMV probe"): on the same bytes it times the streaming read, the GEMV's loads alone (same
// grid, warps, tiles and groups in flight, no arithmetic), the GEMV, the GEMV with the next
// round's tiles prefetched into L2, with its mma chains split in two, and with one weight
// copy reused (no rotation). Build and run: bash bench/cuda/gemv_probe.sh
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "kernels/cuda/gemv_w4a16_group.cuh"

using namespace lowbit::cuda;
using namespace lowbit::cuda::detail;

#define CHECK(x)                                                                      \
  do {                                                                                \
    const cudaError_t e_ = (x);                                                       \
    if (e_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

namespace {

// gemv_w4a16_group with each accumulator chain split in two (steps s even / odd into
// separate mma accumulators, added at the end): dependent mma chains of 4 instead of 8.
template <class T, int NP>
__device__ __forceinline__ void group_split(float (&acc)[NP][1][4], const uint4 (&wv)[NP][2],
                                            const std::uint16_t (&sc)[NP][2], const std::uint32_t (&zw)[NP][2],
                                            const uint4 (&xv)[1][4], int g) {
  using Ops = HalfOps<T>;
  constexpr std::uint32_t kOnes[4] = {Ops::kOnes, Ops::kOnes, Ops::kOnes, Ops::kOnes};
  float xs[2][4] = {}, d[2][NP][4] = {};
  const std::uint32_t* xw = reinterpret_cast<const std::uint32_t*>(xv[0]);
#pragma unroll
  for (int s = 0; s < 8; ++s) {
    const int sh = 8 * (s % 2), e = s % 2;
    Ops::mma(xs[e], kOnes, xw[2 * s], xw[2 * s + 1]);
#pragma unroll
    for (int p = 0; p < NP; ++p) {
      const std::uint32_t w0 = word_of(wv[p][0], s / 2), w1 = word_of(wv[p][1], s / 2);
      const std::uint32_t a[4] = {w4_pair<T>(w0, sh), w4_pair<T>(w1, sh), w4_pair<T>(w0, sh + 4),
                                  w4_pair<T>(w1, sh + 4)};
      Ops::mma(d[e][p], a, xw[2 * s], xw[2 * s + 1]);
    }
  }
#pragma unroll
  for (int p = 0; p < NP; ++p) {
    const float s0 = __half2float(__ushort_as_half(sc[p][0]));
    const float s1 = __half2float(__ushort_as_half(sc[p][1]));
    const float z0 = Ops::kOffset + static_cast<float>((zw[p][0] >> (4 * g)) & 15u);
    const float z1 = Ops::kOffset + static_cast<float>((zw[p][1] >> (4 * g)) & 15u);
    const float x0 = xs[0][0] + xs[1][0], x1 = xs[0][1] + xs[1][1];
    acc[p][0][0] += s0 * ((d[0][p][0] + d[1][p][0]) - z0 * x0);
    acc[p][0][1] += s0 * ((d[0][p][1] + d[1][p][1]) - z0 * x1);
    acc[p][0][2] += s1 * ((d[0][p][2] + d[1][p][2]) - z1 * x0);
    acc[p][0][3] += s1 * ((d[0][p][3] + d[1][p][3]) - z1 * x1);
  }
}

__device__ __forceinline__ std::size_t tile_at(int c, int kb, int kt) { return static_cast<std::size_t>(c) * kt + kb; }

// The GEMV of gemv_w4a16__cuda.cu at one activation row (no staged activations).
// COMPUTE = false keeps every load and drops the arithmetic (the loaded words are folded
// into one XOR); PF > 0 also requests the tiles D rounds ahead into L2; SPLIT splits the
// mma chains (group_split).
template <int NP, int W, int U, bool COMPUTE, int PF = 0, int D = 1, bool SPLIT = false>
__global__ void __launch_bounds__(W * 32)
    gemv_probe(const __nv_bfloat16* __restrict__ x, const uint4* __restrict__ qw, const std::uint16_t* __restrict__ scales,
               __nv_bfloat16* __restrict__ y, unsigned* sink, int n, int kt) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int nb0 = blockIdx.x * NP * 2;
  const int kb_begin = static_cast<int>(static_cast<long long>(warp) * kt / W);
  const int kb_end = static_cast<int>(static_cast<long long>(warp + 1) * kt / W);
  const std::size_t k = static_cast<std::size_t>(kt) * 128;
  const uint4* xr = reinterpret_cast<const uint4*>(x + 32 * t);
  (void)k;
  float acc[NP][1][4];
  gemv_zero(acc);
  unsigned fold = 0;
  uint4 wv[U][NP][2], xv[U][1][4];
  std::uint16_t sc[U][NP][2];
  std::uint32_t zw[U][NP][2];
  auto request = [&](int kb0) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int kb = kb0 + u;
      if (kb >= kb_end) break;
#pragma unroll
      for (int q = 0; q < 4; ++q) xv[u][0][q] = __ldg(xr + kb * 16 + q);
#pragma unroll
      for (int p = 0; p < NP; ++p)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int c = nb0 + 2 * p + h;
          wv[u][p][h] = load_stream(qw + tile_at(c, kb, kt) * 32 + lane);
          sc[u][p][h] = __ldg(scales + (static_cast<std::size_t>(c) * kt + kb) * 8 + g);
          zw[u][p][h] = 0x88888888u;
        }
    }
  };
  // Requests the weight tiles of groups kb0 .. kb0 + U - 1 into L2 only: no registers held,
  // so the DRAM reads of the next iteration run while this one computes.
  auto prefetch = [&](int kb0) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int kb = kb0 + u;
      if (kb >= kb_end) break;
#pragma unroll
      for (int p = 0; p < NP; ++p)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const uint4* a = qw + tile_at(nb0 + 2 * p + h, kb, kt) * 32;
          if constexpr (PF == 1) asm volatile("prefetch.global.L2 [%0];\n" ::"l"(a + lane));
          if constexpr (PF == 2)
            if (lane == 0) asm volatile("cp.async.bulk.prefetch.L2.global [%0], 512;\n" ::"l"(a) : "memory");
          if constexpr (PF == 3)
            if (lane % 8 == 0) asm volatile("prefetch.global.L2::evict_normal [%0];\n" ::"l"(a + lane));
        }
    }
  };
  request(kb_begin);
  if constexpr (PF != 0)
#pragma unroll
    for (int d = 1; d <= D; ++d) prefetch(kb_begin + d * U);
  for (int kb0 = kb_begin; kb0 < kb_end; kb0 += U) {
    if (kb0 != kb_begin) {
      request(kb0);
      if constexpr (PF != 0) prefetch(kb0 + D * U);
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (kb0 + u >= kb_end) break;
      if constexpr (COMPUTE && SPLIT) {
        group_split<__nv_bfloat16, NP>(acc, wv[u], sc[u], zw[u], xv[u], g);
      } else if constexpr (COMPUTE) {
        gemv_w4a16_group<__nv_bfloat16, NP, 1>(acc, wv[u], sc[u], zw[u], xv[u], g);
      } else {
#pragma unroll
        for (int p = 0; p < NP; ++p)
#pragma unroll
          for (int h = 0; h < 2; ++h)
            fold ^= wv[u][p][h].x ^ wv[u][p][h].y ^ wv[u][p][h].z ^ wv[u][p][h].w ^ sc[u][p][h];
        fold ^= xv[u][0][0].x ^ xv[u][0][3].w;
      }
    }
  }
  if constexpr (COMPUTE) {
    __shared__ float red[kGemvPartials<NP, 1, W>];
    gemv_store_partials<NP, 1>(red, acc, warp, lane);
    __syncthreads();
    gemv_sum_partials<__nv_bfloat16, NP, 1, W>(red, threadIdx.x, W * 32, y, 1, n, nb0);
  } else if (fold == 0x9E3779B9u) {
    *sink = fold;
  }
}

__global__ void stream_read(const uint4* __restrict__ p, std::size_t words, unsigned* sink) {
  unsigned a = 0;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < words;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const uint4 v = __ldcs(p + i);
    a ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (a == 0x12345678u) *sink = a;
}

__global__ void empty() {}

template <class F>
double median_us(F launch) {
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 20; ++i) launch(i);
  std::vector<double> t;
  for (int r = 0; r < 7; ++r) {
    CHECK(cudaEventRecord(a));
    for (int i = 0; i < 40; ++i) launch(i);
    CHECK(cudaEventRecord(b));
    CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(1000.0 * ms / 40);
  }
  CHECK(cudaGetLastError());
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Bufs {
  std::vector<uint4*> cm;  // weight copies, rotated so that they overflow L2
  std::vector<std::uint16_t*> sc;
  __nv_bfloat16 *x, *y0, *y1;
  unsigned* sink;
};

template <int NP, int W, int U>
void run_plan(const Bufs& b, int n, int kt, std::size_t bytes) {
  const int blocks = n / (16 * NP), copies = static_cast<int>(b.cm.size());
  std::vector<std::uint16_t> h0(n), h1(n);
  auto go = [&](auto compute, auto pf, auto dist, __nv_bfloat16* y) {
    constexpr bool C = decltype(compute)::value;
    constexpr int P = decltype(pf)::value, D = decltype(dist)::value;
    return median_us([&](int i) {
      gemv_probe<NP, W, U, C, P, D><<<blocks, W * 32>>>(b.x, b.cm[i % copies], b.sc[i % copies], y, b.sink, n, kt);
    });
  };
  using T = std::true_type;
  using F = std::false_type;
  const double loads = go(F{}, std::integral_constant<int, 0>{}, std::integral_constant<int, 1>{}, b.y0);
  const double base = go(T{}, std::integral_constant<int, 0>{}, std::integral_constant<int, 1>{}, b.y0);
  CHECK(cudaMemcpy(h0.data(), b.y0, n * 2, cudaMemcpyDeviceToHost));
  std::printf("  np%d/w%d/u%d  loads only %6.2f  gemv %6.2f us (%4.0f GB/s) | prefetched:", NP, W, U, loads, base,
              bytes / base / 1e3);
  auto variant = [&](auto pf, auto dist, const char* name) {
    CHECK(cudaMemset(b.y1, 0xFF, n * 2));
    const double us = go(T{}, pf, dist, b.y1);
    CHECK(cudaMemcpy(h1.data(), b.y1, n * 2, cudaMemcpyDeviceToHost));
    std::printf(" %s %6.2f%s", name, us, std::memcmp(h0.data(), h1.data(), n * 2) ? " DIFFERS" : "");
  };
  variant(std::integral_constant<int, 1>{}, std::integral_constant<int, 1>{}, "lane/d1");
  // One copy every launch: the weights stay in L2 (34.6 MB at most of its 60 MB), so
  // this is the kernel with DRAM's latency and bandwidth mostly out of the way.
  const double l2_loads = median_us([&](int) {
    gemv_probe<NP, W, U, false><<<blocks, W * 32>>>(b.x, b.cm[0], b.sc[0], b.y1, b.sink, n, kt);
  });
  const double l2_gemv = median_us([&](int) {
    gemv_probe<NP, W, U, true><<<blocks, W * 32>>>(b.x, b.cm[0], b.sc[0], b.y1, b.sink, n, kt);
  });
  const double split = median_us([&](int i) {
    gemv_probe<NP, W, U, true, 0, 1, true><<<blocks, W * 32>>>(b.x, b.cm[i % copies], b.sc[i % copies], b.y1,
                                                                       b.sink, n, kt);
  });
  CHECK(cudaMemcpy(h1.data(), b.y1, n * 2, cudaMemcpyDeviceToHost));
  double worst = 0;
  for (int j = 0; j < n; ++j) {
    __nv_bfloat16 a, c;
    std::memcpy(&a, &h0[j], 2);
    std::memcpy(&c, &h1[j], 2);
    const double fa = __bfloat162float(a), fc = __bfloat162float(c);
    worst = std::max(worst, std::fabs(fa - fc) / std::max(1e-3, std::fabs(fa)));
  }
  std::printf(" | L2-resident: loads only %6.2f gemv %6.2f | split chains %6.2f (max rel diff %.1e)\n", l2_loads,
              l2_gemv, split, worst);
}

__global__ void fill(std::uint32_t* p, std::size_t n, std::uint32_t seed, std::uint32_t mask, std::uint32_t bits) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n; i += std::size_t{gridDim.x} * blockDim.x) {
    std::uint32_t h = static_cast<std::uint32_t>(i) * 0x9E3779B9u ^ seed;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    p[i] = (h & mask) | bits;
  }
}

}  // namespace

int main() {
  const int shapes[3][2] = {{8192, 8192}, {14336, 4096}, {4096, 14336}};
  for (const auto& s : shapes) {
    const int n = s[0], k = s[1], kt = k / 128;
    const std::size_t qbytes = static_cast<std::size_t>(n) * k / 2, sbytes = static_cast<std::size_t>(n) * kt * 2;
    const int copies = static_cast<int>((std::size_t{480} << 20) / (qbytes + sbytes) + 1);
    Bufs b;
    CHECK(cudaMalloc(&b.x, k * 2));
    CHECK(cudaMalloc(&b.y0, n * 2));
    CHECK(cudaMalloc(&b.y1, n * 2));
    CHECK(cudaMalloc(&b.sink, 4));
    // Activations in [-1, 1) as bf16 (0x3F80 | mantissa, sign), scales ~0.002-0.03 as fp16.
    fill<<<64, 256>>>(reinterpret_cast<std::uint32_t*>(b.x), k / 2, 7, 0x807F807Fu, 0x3F003F00u);
    for (int c = 0; c < copies; ++c) {
      uint4* cm;
      std::uint16_t* sc;
      CHECK(cudaMalloc(&cm, qbytes));
      CHECK(cudaMalloc(&sc, sbytes));
      fill<<<1024, 256>>>(reinterpret_cast<std::uint32_t*>(cm), qbytes / 4, 11 + c, 0xFFFFFFFFu, 0);
      fill<<<256, 256>>>(reinterpret_cast<std::uint32_t*>(sc), sbytes / 4, 5 + c, 0x03FF03FFu, 0x18001800u);
      b.cm.push_back(cm);
      b.sc.push_back(sc);
    }
    CHECK(cudaDeviceSynchronize());
    const std::size_t bytes = qbytes + sbytes;
    std::printf("%dx%d, %.1f MB of tiles and scales, %d copies\n", n, k, bytes / 1e6, copies);
    for (const int blocks : {132 * 8, 132 * 16}) {
      const double us = median_us([&](int i) { stream_read<<<blocks, 512>>>(b.cm[i % copies], qbytes / 16, b.sink); });
      const double l2 = median_us([&](int) { stream_read<<<blocks, 512>>>(b.cm[0], qbytes / 16, b.sink); });
      std::printf("  stream read of the tiles, %d x 512: %.2f us (%.0f GB/s of tiles + scales); one copy (L2): %.2f us\n",
                  blocks, us, bytes / us / 1e3, l2);
    }
    std::printf("  empty kernel, 256 x 256: %.2f us\n", median_us([&](int) { empty<<<256, 256>>>(); }));
    run_plan<2, 8, 1>(b, n, kt, bytes);
    run_plan<2, 8, 2>(b, n, kt, bytes);
    run_plan<2, 8, 4>(b, n, kt, bytes);
    run_plan<2, 4, 4>(b, n, kt, bytes);
    run_plan<4, 8, 1>(b, n, kt, bytes);
    run_plan<4, 8, 2>(b, n, kt, bytes);
    for (int c = 0; c < copies; ++c) {
      CHECK(cudaFree(b.cm[c]));
      CHECK(cudaFree(b.sc[c]));
    }
    CHECK(cudaFree(b.x));
    CHECK(cudaFree(b.y0));
    CHECK(cudaFree(b.y1));
    CHECK(cudaFree(b.sink));
  }
  return 0;
}
