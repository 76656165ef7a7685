// Picks, per ggml type, the AVX2 twin of a reference row function when this CPU runs it
// (see quant_rows() for the same cpuid/LOWBIT_KERNELS=ref rule) and the reference else.
#include "kernels/ggml_rows_fast.h"
#include "kernels/quant_rows.h"

namespace lowbit::kernels {

ggml::ToFloatFn ggml_to_float(ggml::Type t) {
  if (fast_kernels_enabled())
    if (auto f = ggml_rows_avx2(t).to_float) return f;
  return ggml::traits(t).to_float;
}

ggml::FromFloatRefFn ggml_from_float_twin(ggml::Type t) {
  return fast_kernels_enabled() ? ggml_rows_avx2(t).from_float_ref : nullptr;
}

}  // namespace lowbit::kernels
