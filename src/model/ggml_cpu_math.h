// Element functions as llama.cpp's x86 AVX2 CPU build computes them, lane for lane:
// ggml_v_expf (vec.h, the ARM optimized-routines expf with its large-|x| branches) and
// the silu built on it. Scalar code with the same fmas, so results match bit for bit.
#pragma once

namespace lowbit::model {

float ggml_expf_avx2(float x);
// x / (1 + expf(-x)) as ggml_v_silu computes it (the swiglu of llama-family FFNs).
float ggml_silu_avx2(float x);

}  // namespace lowbit::model
