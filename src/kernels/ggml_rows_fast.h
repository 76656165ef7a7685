// Fast twins of the ggml reference row functions (formats/ggml_rows.h): AVX2 versions
// that must equal the reference bit for bit (tests/kernels/test_ggml_rows__avx2.cpp),
// and the per-type choice quantize_rows/dequantize make by cpuid. A type without a
// twin simply keeps its reference function.
#pragma once
#include "lowbit/ggml_types.h"

namespace lowbit::kernels {

struct GgmlRowTwins {
  ggml::ToFloatFn to_float = nullptr;
  ggml::FromFloatRefFn from_float_ref = nullptr;
};

// AVX2 twins (null fields where none exists). Only call into them when cpu_has_avx2().
GgmlRowTwins ggml_rows_avx2(ggml::Type t);

// What the library uses to decode: the twin when the CPU has AVX2 and LOWBIT_KERNELS
// is not "ref", else the traits table's reference (nullptr if the type has none).
ggml::ToFloatFn ggml_to_float(ggml::Type t);
// The encoder twin under the same rule, or nullptr. Twins exist only for types whose
// unweighted quantize_<t> is their reference quantizer (not IQ4_NL, which still searches).
ggml::FromFloatRefFn ggml_from_float_twin(ggml::Type t);

}  // namespace lowbit::kernels
