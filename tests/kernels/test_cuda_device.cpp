// GPU presence: with a device the runtime must report it consistently; without one
// (CI, this development machine) the test skips and prints why, as later GPU kernel
// tests will.
#include <gtest/gtest.h>

#include "lowbit/cuda_device.h"

TEST(CudaDevice, CountIsConsistentOrSkipsWithReason) {
  std::string why;
  const int n = lowbit::cuda::device_count(&why);
  if (n == 0) {
    EXPECT_FALSE(why.empty());
    GTEST_SKIP() << "no CUDA device: " << why;
  }
  EXPECT_TRUE(lowbit::cuda::compiled_with_cuda());
  EXPECT_EQ(lowbit::cuda::device_count(), n);
}
