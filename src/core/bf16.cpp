// Bulk fp32 <-> bf16 over spans (the scalar codec is inline in lowbit/bf16.h). Both
// directions are branch-light integer code that compilers vectorise as written.
#include "lowbit/bf16.h"

#include "lowbit/error.h"

namespace lowbit {

void fp32_to_bf16(std::span<const float> in, std::span<std::uint16_t> out) {
  if (in.size() != out.size()) fail("fp32_to_bf16: ", in.size(), " inputs but ", out.size(), " outputs");
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = fp32_to_bf16(in[i]);
}

void bf16_to_fp32(std::span<const std::uint16_t> in, std::span<float> out) {
  if (in.size() != out.size()) fail("bf16_to_fp32: ", in.size(), " inputs but ", out.size(), " outputs");
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = bf16_to_fp32(in[i]);
}

}  // namespace lowbit
