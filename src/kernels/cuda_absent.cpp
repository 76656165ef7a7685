// Stand-in for src/kernels/cuda/*.cu in builds without nvcc: reports no CUDA, so
// callers take their CPU path and GPU tests skip with this reason; the matmuls return
// kNoCuda and their host wrappers throw.
#include "lowbit/cuda_device.h"
#include "lowbit/cuda_gemm.h"
#include "lowbit/error.h"

namespace lowbit::cuda {

bool compiled_with_cuda() { return false; }

int device_count(std::string* why) {
  if (why) *why = "lowbit was built without CUDA (no nvcc at configure time, or LOWBIT_CUDA=OFF)";
  return 0;
}

std::size_t gemm_w4a16_workspace_bytes(int, std::int64_t, std::int64_t, W4A16Tuning) { return 0; }

int gemm_w4a16(Half, const void*, const W4A16View&, void*, int, void*, void*, W4A16Tuning) { return kNoCuda; }

int gemm_w8a8(Half, const std::int8_t*, const float*, const std::int32_t*, const std::int8_t*, const float*,
              const std::int32_t*, void*, int, std::int64_t, std::int64_t, void*, W8A8Tuning) {
  return kNoCuda;
}

std::vector<std::uint16_t> gemm_w4a16_host(Half, const std::uint16_t*, const kernels::W4A16Weights&, int, W4A16Tuning) {
  fail("lowbit was built without CUDA: no W4A16 GPU matmul");
}

std::vector<std::uint16_t> gemm_w8a8_host(Half, const std::int8_t*, const float*, const std::int32_t*,
                                          const std::int8_t*, const float*, int, std::int64_t, std::int64_t,
                                          W8A8Tuning) {
  fail("lowbit was built without CUDA: no W8A8 GPU matmul");
}

}  // namespace lowbit::cuda
