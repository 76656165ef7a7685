// Throughput of the AVX2 instructions the Q8_0 and F16 tiles are made of, alone and in
// the tiles' mixes (docs/benchmarks.md, "Q8_0 in eight-row panels by default"): eight
// independent copies of each group in an unrolled asm loop, timed, and given in cycles
// per group with the clock taken from vfmadd231ps's known rate (two per cycle on Zen 3).
// x86-64 with AVX2 + FMA + F16C only; not part of the build:
//   g++ -O2 bench/avx2_port_probe.cpp -o /tmp/avx2_port_probe && /tmp/avx2_port_probe
#include <chrono>
#include <cstdio>

namespace {

#define R8(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7)
#define S(x) #x
// Results go to ymm0-7; sources are ymm14 / ymm15 and memory at %1, never written, so the
// eight copies of a group are independent.
#define FMA(i) "vfmadd231ps %%ymm14,%%ymm15,%%ymm" S(i) "\n"
#define MUBS(i) "vpmaddubsw %%ymm14,%%ymm15,%%ymm" S(i) "\n"
#define MWD(i) "vpmaddwd %%ymm14,%%ymm15,%%ymm" S(i) "\n"
#define SGN(i) "vpsignb %%ymm14,%%ymm15,%%ymm" S(i) "\n"
#define CVT(i) "vcvtdq2ps %%ymm15,%%ymm" S(i) "\n"
#define CVH(i) "vcvtph2ps -64(%1),%%ymm" S(i) "\n"
#define BCS(i) "vbroadcastss (%1),%%ymm" S(i) "\n"
#define LD(i) "vmovdqu -64(%1),%%ymm" S(i) "\n"
#define ADD(i) "vpaddd %%ymm14,%%ymm15,%%ymm" S(i) "\n"

template <class F>
double ns_per_group(F loop) {
  const long n = 20000000;
  loop(n / 10);
  const auto t0 = std::chrono::steady_clock::now();
  loop(n);
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / n / 8;
}

#define LOOP(body)                                                                                          \
  [](long n) {                                                                                              \
    alignas(64) char buf[256] = {};                                                                         \
    char* p = buf + 128;                                                                                    \
    asm volatile("vpxor %%ymm14,%%ymm14,%%ymm14\n vpcmpeqb %%ymm15,%%ymm15,%%ymm15\n 1:\n" body            \
                 "dec %0\n jnz 1b\n"                                                                        \
                 : "+r"(n)                                                                                  \
                 : "r"(p)                                                                                   \
                 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm14", "xmm15", "cc", \
                   "memory");                                                                               \
  }

}  // namespace

int main() {
  const double cycle = 2 * ns_per_group(LOOP(R8(FMA)));  // two FMAs per cycle
  auto show = [&](const char* what, double ns) { std::printf("%-58s %5.2f cycles\n", what, ns / cycle); };
  std::printf("cycle taken as %.3f ns (vfmadd231ps at two per cycle)\n", cycle);
  show("vpaddd", ns_per_group(LOOP(R8(ADD))));
  show("vpsignb", ns_per_group(LOOP(R8(SGN))));
  show("vpmaddubsw", ns_per_group(LOOP(R8(MUBS))));
  show("vpmaddwd", ns_per_group(LOOP(R8(MWD))));
  show("vcvtdq2ps", ns_per_group(LOOP(R8(CVT))));
  show("vpsignb + vfmadd", ns_per_group(LOOP(R8(SGN) R8(FMA))));
  show("vpmaddubsw + vpmaddwd", ns_per_group(LOOP(R8(MUBS) R8(MWD))));
  show("vpsignb + vcvtdq2ps", ns_per_group(LOOP(R8(SGN) R8(CVT))));
  show("vcvtdq2ps + vfmadd", ns_per_group(LOOP(R8(CVT) R8(FMA))));
  show("Q8_0 vec_dot block-pair: sign, maddubs, madd, cvt, fma",
       ns_per_group(LOOP(R8(SGN) R8(MUBS) R8(MWD) R8(CVT) R8(FMA))));
  show("  + the activation load and the scale broadcast",
       ns_per_group(LOOP(R8(SGN) R8(MUBS) R8(MWD) R8(CVT) R8(FMA) R8(LD) R8(BCS))));
  show("F16 4 x 3 tile step: 12 fma", ns_per_group(LOOP(R8(FMA) R8(FMA) R8(FMA) R8(FMA) R8(FMA) R8(FMA) R8(FMA) R8(FMA)
                                                           R8(FMA) R8(FMA) R8(FMA) R8(FMA))));
  show("F16 4 x 3 tile step: 12 fma + 7 vcvtph2ps",
       ns_per_group(LOOP(R8(CVH) R8(CVH) R8(CVH) R8(CVH) R8(CVH) R8(CVH) R8(CVH) R8(FMA) R8(FMA) R8(FMA) R8(FMA)
                             R8(FMA) R8(FMA) R8(FMA) R8(FMA) R8(FMA) R8(FMA) R8(FMA) R8(FMA))));
  return 0;
}
