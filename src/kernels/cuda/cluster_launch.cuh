// The launch both split-K W4A16 kernels make: a grid whose blocks along y form one
// thread-block cluster per grid column, so a column's K shares meet in distributed shared
// memory.
#pragma once
#include <cuda_runtime.h>

#include <utility>

namespace lowbit::cuda::detail {

// kernel on `grid` blocks of `threads` with `smem` dynamic bytes on stream s, clusters of
// grid.y blocks; the launch's error, or the first one it left behind.
template <class... Params, class... Args>
cudaError_t launch_clusters_along_y(void (*kernel)(Params...), dim3 grid, unsigned threads, int smem, cudaStream_t s,
                                    Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = dim3(threads, 1, 1);
  cfg.dynamicSmemBytes = static_cast<std::size_t>(smem);
  cfg.stream = s;
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeClusterDimension;
  attr.val.clusterDim.x = 1;
  attr.val.clusterDim.y = grid.y;
  attr.val.clusterDim.z = 1;
  cfg.attrs = &attr;
  cfg.numAttrs = 1;
  const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
  return e != cudaSuccess ? e : cudaGetLastError();
}

}  // namespace lowbit::cuda::detail
