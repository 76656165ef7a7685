// Picks the row kernels once per process: AVX2+FMA+F16C when the CPU has them (cpuid),
// the reference otherwise or when LOWBIT_KERNELS=ref asks for it (debugging, A/B runs).
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "kernels/quant_rows.h"

namespace lowbit::kernels {

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  // F16C is read from cpuid leaf 1 (ECX bit 29) directly: clang 14's
  // __builtin_cpu_supports does not know "f16c". avx2/fma imply the OS saves YMM state.
  static const bool ok = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
    return f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok;
#else
  return false;
#endif
}

bool fast_kernels_enabled() {
  static const bool on = [] {
    const char* env = std::getenv("LOWBIT_KERNELS");
    return !(env && std::strcmp(env, "ref") == 0) && cpu_has_avx2();
  }();
  return on;
}

const QuantRowKernels& quant_rows() {
  return fast_kernels_enabled() ? quant_rows_avx2() : quant_rows_ref();
}

}  // namespace lowbit::kernels
