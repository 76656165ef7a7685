// Picks the eight-lane ggml_v_expf by cpuid (kernels/ggml_expf.h).
#include "kernels/ggml_expf.h"
#include "kernels/quant_rows.h"

namespace lowbit::kernels {

GgmlExpf8Fn ggml_expf8_kernel() {
  static const GgmlExpf8Fn fn = fast_kernels_enabled() ? ggml_expf8__avx2 : ggml_expf8__ref;
  return fn;
}

}  // namespace lowbit::kernels
