// Host-side wrappers around the CUDA matmuls for tests and tools: copy in, run, copy out,
// with every CUDA error turned into a lowbit::Error that names the call. Per-call
// allocations make them simple, not fast; benchmarks call the device entry points.
#include <cuda_runtime.h>

#include <string>

#include "lowbit/cuda_gemm.h"
#include "lowbit/error.h"

namespace lowbit::cuda {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("CUDA: ", what, ": ", cudaGetErrorString(e));
}

void check_rc(int rc, const char* what) {
  if (rc == kBadShape) fail("CUDA: ", what, ": shape or argument not supported");
  if (rc != 0) check(static_cast<cudaError_t>(rc), what);
}

// Device buffer freed on scope exit.
struct Buffer {
  void* p = nullptr;
  Buffer(std::size_t bytes, const void* host = nullptr) {
    check(cudaMalloc(&p, bytes == 0 ? 1 : bytes), "cudaMalloc");
    if (host) check(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { cudaFree(p); }
  template <class T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

}  // namespace

std::vector<std::uint16_t> gemm_w4a16_host(Half t, const std::uint16_t* x, const kernels::W4A16Weights& w, int m,
                                           W4A16Tuning tune) {
  const std::size_t mk = static_cast<std::size_t>(m) * static_cast<std::size_t>(w.k);
  const std::size_t mn = static_cast<std::size_t>(m) * static_cast<std::size_t>(w.n);
  Buffer dx(mk * 2, x), dq(w.qweight.size() * 4, w.qweight.data()), ds(w.scales.size() * 2, w.scales.data());
  Buffer dz(w.zeros.size() * 4, w.zeros.empty() ? nullptr : w.zeros.data()), dy(mn * 2);
  const std::size_t ws_bytes = gemm_w4a16_workspace_bytes(m, w.n, w.k, tune);
  Buffer ws(ws_bytes);
  check(cudaMemset(ws.p, 0, ws_bytes == 0 ? 1 : ws_bytes), "cudaMemset");
  // NaN bits everywhere, so an output the kernel never wrote cannot pass as a value.
  check(cudaMemset(dy.p, 0xFF, mn * 2), "cudaMemset");
  const W4A16View view{dq.as<std::uint32_t>(), ds.as<std::uint16_t>(), w.symmetric ? nullptr : dz.as<std::uint32_t>(),
                       w.n, w.k};
  check_rc(gemm_w4a16(t, dx.p, view, dy.p, m, ws.p, nullptr, tune), "gemm_w4a16");
  check(cudaDeviceSynchronize(), "gemm_w4a16");
  std::vector<std::uint16_t> y(mn);
  check(cudaMemcpy(y.data(), dy.p, mn * 2, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
  return y;
}

std::vector<std::uint16_t> gemm_w8a8_host(Half t, const std::int8_t* xq, const float* sx, const std::int32_t* zx,
                                          const std::int8_t* wq, const float* sw, int m, std::int64_t n, std::int64_t k,
                                          W8A8Tuning tune) {
  const std::size_t mk = static_cast<std::size_t>(m) * static_cast<std::size_t>(k);
  const std::size_t nk = static_cast<std::size_t>(n) * static_cast<std::size_t>(k);
  const std::size_t mn = static_cast<std::size_t>(m) * static_cast<std::size_t>(n);
  // The offline term of the zero-point correction: each weight row's sum.
  std::vector<std::int32_t> wsum(static_cast<std::size_t>(n), 0);
  for (std::size_t r = 0; r < static_cast<std::size_t>(n); ++r)
    for (std::size_t j = 0; j < static_cast<std::size_t>(k); ++j) wsum[r] += wq[r * static_cast<std::size_t>(k) + j];
  Buffer dx(mk, xq), dsx(static_cast<std::size_t>(m) * 4, sx), dw(nk, wq), dsw(static_cast<std::size_t>(n) * 4, sw);
  Buffer dzx(static_cast<std::size_t>(m) * 4, zx), dws(wsum.size() * 4, wsum.data()), dy(mn * 2);
  check(cudaMemset(dy.p, 0xFF, mn * 2), "cudaMemset");
  check_rc(gemm_w8a8(t, dx.as<std::int8_t>(), dsx.as<float>(), zx ? dzx.as<std::int32_t>() : nullptr, dw.as<std::int8_t>(),
                     dsw.as<float>(), zx ? dws.as<std::int32_t>() : nullptr, dy.p, m, n, k, nullptr, tune),
           "gemm_w8a8");
  check(cudaDeviceSynchronize(), "gemm_w8a8");
  std::vector<std::uint16_t> y(mn);
  check(cudaMemcpy(y.data(), dy.p, mn * 2, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
  return y;
}

}  // namespace lowbit::cuda
