// Row functions of every ggml type lowbit encodes, named after llama.cpp's so a reader
// can put them side by side: quantize_row_<t>_ref (the reference quantizer that defines
// the format), quantize_<t> (with optional importance weights) and dequantize_row_<t>.
// Each must equal llama.cpp byte for byte; the peer tests in tests/formats prove it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lowbit::ggml {

#define LOWBIT_GGML_ROW_FUNCS(t)                                                    \
  void quantize_row_##t##_ref(const float* x, void* y, std::int64_t k);            \
  std::size_t quantize_##t(const float* src, void* dst, std::int64_t nrows,        \
                           std::int64_t n_per_row, const float* imatrix);          \
  void dequantize_row_##t(const void* x, float* y, std::int64_t k);

LOWBIT_GGML_ROW_FUNCS(f32)
LOWBIT_GGML_ROW_FUNCS(f16)
LOWBIT_GGML_ROW_FUNCS(bf16)
LOWBIT_GGML_ROW_FUNCS(q4_0)
LOWBIT_GGML_ROW_FUNCS(q4_1)
LOWBIT_GGML_ROW_FUNCS(q5_0)
LOWBIT_GGML_ROW_FUNCS(q5_1)
LOWBIT_GGML_ROW_FUNCS(q8_0)
LOWBIT_GGML_ROW_FUNCS(q2_K)
LOWBIT_GGML_ROW_FUNCS(q3_K)
LOWBIT_GGML_ROW_FUNCS(q4_K)
LOWBIT_GGML_ROW_FUNCS(q5_K)
LOWBIT_GGML_ROW_FUNCS(q6_K)
LOWBIT_GGML_ROW_FUNCS(q8_K)
LOWBIT_GGML_ROW_FUNCS(iq4_nl)
LOWBIT_GGML_ROW_FUNCS(iq4_xs)

#undef LOWBIT_GGML_ROW_FUNCS

}  // namespace lowbit::ggml
