// ggml_v_expf on eight lanes, as llama.cpp's x86 AVX2 build computes the softmax of
// attention. __ref is the scalar model::ggml_expf_avx2 lane by lane (the oracle, itself
// checked against std::exp); __avx2 runs the same fmas in AVX2 registers, so the two agree
// bit for bit on every input.
#pragma once

namespace lowbit::kernels {

using GgmlExpf8Fn = void (*)(const float* x, float* y);
void ggml_expf8__ref(const float* x, float* y);
void ggml_expf8__avx2(const float* x, float* y);
// __avx2 when the CPU has it and LOWBIT_KERNELS != ref.
GgmlExpf8Fn ggml_expf8_kernel();

}  // namespace lowbit::kernels
