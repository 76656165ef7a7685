// The current device's multiprocessor count, which the CUDA launch plans size their grids
// by (132 on an H100 SXM or an H200), read from the device once per device.
#pragma once
#include <cuda_runtime.h>

namespace lowbit::cuda::detail {

inline int multiprocessors() {
  constexpr int kDevices = 64, kFallback = 132;
  static int counts[kDevices] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kDevices) return kFallback;
  if (counts[dev] == 0) {
    int c = 0;
    if (cudaDeviceGetAttribute(&c, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || c <= 0) return kFallback;
    counts[dev] = c;
  }
  return counts[dev];
}

}  // namespace lowbit::cuda::detail
