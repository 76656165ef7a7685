// Whether this build has CUDA and how many devices the machine offers. GPU tests and
// tools ask here first and skip with a printed reason when the answer is "none", so the
// same binaries run on CI machines without a GPU.
#pragma once
#include <string>

namespace lowbit::cuda {

// True when lowbit was compiled with nvcc (LOWBIT_CUDA and a CUDA toolkit found).
bool compiled_with_cuda();
// Number of usable CUDA devices; 0 without CUDA, driver or device. `why` (optional)
// receives the reason when the count is 0.
int device_count(std::string* why = nullptr);

}  // namespace lowbit::cuda
