// The input side of llama.cpp's CPU matmul: before the dot products, ggml converts the
// fp32 activations to the weight type's vec_dot_type (ggml-cpu.c type_traits_cpu) with
// the x86 build's quantize_row_* (AVX2 rounding: id = 127/amax, nearest-even) or the
// reference q8_K. Decoding the result back to fp32 lets an fp32 matmul reproduce
// ggml's integer dot products up to summation order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lowbit/ggml_types.h"

namespace lowbit::model {

// The activation type llama.cpp's CPU backend pairs with weight type t.
ggml::Type ggml_vec_dot_type(ggml::Type t);

// out[m][k] = the fp32 value ggml's dot product sees for x[m][k] after conversion to
// vec_dot_type(t). For Q8_1 also block_sums[m][k/32] = the block's stored sum s (fp16),
// which ggml uses in place of the exact sum for the weight-minimum term.
void ggml_round_activations(ggml::Type weight_type, const float* x, std::int64_t m, std::int64_t k, float* out,
                            float* block_sums);

// x[m][k] as ggml's x86 quantize_row_q8_0 / quantize_row_q8_1 / quantize_row_q8_K (the
// reference q8_K) store it: the activation blocks its integer dot products read
// (vec_dot_type Q8_0, Q8_1 or Q8_K). Rows go to `threads` in whole rows (blocks never
// straddle rows), so the bytes are the same on any thread count.
std::vector<std::byte> ggml_quantize_activations(ggml::Type vec_dot_type, const float* x, std::int64_t m,
                                                 std::int64_t k, int threads = 1);

}  // namespace lowbit::model
