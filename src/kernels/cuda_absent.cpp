// Stand-in for src/kernels/cuda/*.cu in builds without nvcc: reports no CUDA, so
// callers take their CPU path and GPU tests skip with this reason.
#include "lowbit/cuda_device.h"

namespace lowbit::cuda {

bool compiled_with_cuda() { return false; }

int device_count(std::string* why) {
  if (why) *why = "lowbit was built without CUDA (no nvcc at configure time, or LOWBIT_CUDA=OFF)";
  return 0;
}

}  // namespace lowbit::cuda
