// The int32-packed layouts transformers' quantized checkpoints use for a Linear: AutoAWQ's
// GEMM layout (qweight [in, out*b/32] with outputs interleaved 0,2,4,6,1,3,5,7, zeros as
// stored) and the GPTQ layout (qweight [in*b/32, out] as a little-endian bit stream down
// each column, g_idx; v1 stores zero - 1, v2 the zero itself). docs/formats.md draws both.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/gptq.h"

namespace lowbit::hfq {

enum class Layout { AwqGemm, GptqV1, GptqV2 };

Layout parse_layout(const std::string& name);  // awq, gptq, gptq-v2
const char* layout_name(Layout l);

// One Linear in a layout. Shapes are as transformers' modules declare them.
struct PackedLinear {
  std::vector<std::int32_t> qweight, qzeros, g_idx;  // g_idx: GPTQ only
  std::vector<std::uint16_t> scales;                 // fp16 bits [groups, out]
  std::vector<std::int64_t> qweight_shape, qzeros_shape, scales_shape;
  // GPTQ v1: groups whose zero point is 0 (stored as 2^bits - 1 after the minus-one;
  // GPTQModel and the v2 format read it back as 0, AutoGPTQ's v1 kernels as 2^bits).
  std::int64_t v1_wrapped_zeros = 0;
};

// r is a Linear's result in GPTQ's convention (w ~ scale * (code - zero), integer zeros in
// [0, 2^bits - 1]); `name` labels errors. Throws lowbit::Error when the result has no place
// in the layout: AWQ GEMM needs 4 bits, out % 8 == 0, in % group == 0 and groups of
// consecutive columns; GPTQ needs bits 2/3/4/8, in * bits and out * bits multiples of 32.
// Scales are rounded to fp16, as AutoAWQ and AutoGPTQ store them.
PackedLinear pack_linear(const GptqResult& r, int bits, std::int64_t group_size, Layout layout, const std::string& name);

// The weight the packed Linear stands for, [out, in] row-major: fp16 scale times (code -
// zero) per the layout's conventions; what lowbit computes with after writing the file.
std::vector<float> dequantize_packed_reference(const GptqResult& r);

}  // namespace lowbit::hfq
