// The documented one-time repack from transformers' 4-bit checkpoints (AutoAWQ GEMM,
// GPTQ v1/v2; lowbit/hf_quant_layout.h) to lowbit's W4A16 GPU tiles (lowbit/w4a16.h).
#pragma once
#include <string>

#include "lowbit/hf_quant_layout.h"
#include "lowbit/w4a16.h"

namespace lowbit::kernels {

// `p` holds one Linear as its checkpoint stores it; `name` labels errors. Needs 4-bit
// codes in groups of 128 consecutive inputs (GPTQ's g_idx must be i / 128: act-order
// checkpoints permute inputs, which these tiles do not), out % 8 == 0. GPTQ v1's stored
// zero - 1 is read back as (stored + 1) mod 16, as GPTQModel and the v2 format do. All
// zero points 8 give the symmetric tiles.
W4A16Weights w4a16_from_packed(const hfq::PackedLinear& p, hfq::Layout layout, const std::string& name);

}  // namespace lowbit::kernels
