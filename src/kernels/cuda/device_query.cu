// CUDA device discovery for builds compiled with nvcc (see include/lowbit/cuda_device.h).
// The runtime's own error string is passed on, so a skipped GPU test says why.
#include <cuda_runtime.h>

#include "lowbit/cuda_device.h"

namespace lowbit::cuda {

bool compiled_with_cuda() { return true; }

int device_count(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (why) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
    return 0;
  }
  if (n == 0 && why) *why = "the CUDA runtime reports no device";
  return n;
}

}  // namespace lowbit::cuda
