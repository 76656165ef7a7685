// The oracle of kernels/ggml_expf.h: the scalar emulation of ggml_v_expf per lane.
#include "kernels/ggml_expf.h"
#include "model/ggml_cpu_math.h"

namespace lowbit::kernels {

void ggml_expf8__ref(const float* x, float* y) {
  for (int i = 0; i < 8; ++i) y[i] = model::ggml_expf_avx2(x[i]);
}

}  // namespace lowbit::kernels
