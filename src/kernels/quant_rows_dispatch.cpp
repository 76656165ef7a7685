// Picks the row kernels once per process: AVX2+FMA+F16C when the CPU has them (cpuid),
// the reference otherwise or when LOWBIT_KERNELS=ref asks for it (debugging, A/B runs).
#include <cstdlib>
#include <cstring>

#include "kernels/quant_rows.h"

namespace lowbit::kernels {

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                         __builtin_cpu_supports("f16c");
  return ok;
#else
  return false;
#endif
}

const QuantRowKernels& quant_rows() {
  static const QuantRowKernels* k = [] {
    const char* env = std::getenv("LOWBIT_KERNELS");
    if (env && std::strcmp(env, "ref") == 0) return &quant_rows_ref();
    return cpu_has_avx2() ? &quant_rows_avx2() : &quant_rows_ref();
  }();
  return *k;
}

}  // namespace lowbit::kernels
