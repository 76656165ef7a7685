// Bulk fp32 <-> fp16 over spans (the scalar codec is inline in lowbit/fp16.h so that
// kernels can inline it). Plain loops over the reference codec: the AVX2 path lives in
// src/kernels/avx2 and is tested against this one.
#include "lowbit/fp16.h"

#include "lowbit/error.h"

namespace lowbit {

void fp32_to_fp16(std::span<const float> in, std::span<std::uint16_t> out) {
  if (in.size() != out.size()) fail("fp32_to_fp16: ", in.size(), " inputs but ", out.size(), " outputs");
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = fp32_to_fp16(in[i]);
}

void fp16_to_fp32(std::span<const std::uint16_t> in, std::span<float> out) {
  if (in.size() != out.size()) fail("fp16_to_fp32: ", in.size(), " inputs but ", out.size(), " outputs");
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = fp16_to_fp32(in[i]);
}

}  // namespace lowbit
