// Activation conversion of llama.cpp's CPU matmul (see ggml_cpu_activations.h). The q8_0
// and q8_1 rules follow ggml-cpu/arch/x86/quants.c (the AVX2 build llama-cpp-python
// ships): d = amax/127 stored as fp16, codes = nearest-even(x * (127/amax)). q8_K is
// ggml's reference quantizer, which x86 uses unchanged.
#include "model/ggml_cpu_activations.h"

#include <algorithm>
#include <vector>

#include "formats/ggml_blocks.h"
#include "formats/ggml_rows.h"
#include "kernels/ggml_dot.h"
#include "kernels/quant_rows.h"
#include "lowbit/bf16.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/parallel.h"

namespace lowbit::model {

ggml::Type ggml_vec_dot_type(ggml::Type t) {
  using ggml::Type;
  switch (t) {
    case Type::F32: return Type::F32;
    case Type::F16: return Type::F16;
    case Type::BF16: return Type::BF16;
    case Type::Q4_0: case Type::Q5_0: case Type::Q8_0: case Type::IQ4_NL: return Type::Q8_0;
    case Type::Q4_1: case Type::Q5_1: return Type::Q8_1;
    case Type::Q2_K: case Type::Q3_K: case Type::Q4_K: case Type::Q5_K: case Type::Q6_K: case Type::IQ4_XS:
      return Type::Q8_K;
    default: fail("ggml type ", ggml::traits(t).name, " has no CPU matmul in lowbit's runtime");
  }
}

namespace {

// Codes of nb 32-blocks (block b's at codes + b * stride), their unrounded d and code
// sums, in pieces small enough to stay in L1.
template <class Each>
void q8_blocks(const float* x, std::int64_t nb, std::int8_t* codes, std::size_t stride, const Each& each) {
  const kernels::GgmlQ8CodesFn fn = kernels::ggml_q8_codes_kernel();
  constexpr std::int64_t kPiece = 64;
  float d[kPiece];
  std::int32_t sums[kPiece];
  for (std::int64_t b0 = 0; b0 < nb; b0 += kPiece) {
    const std::int64_t n = std::min(kPiece, nb - b0);
    fn(x + b0 * 32, n, codes + static_cast<std::size_t>(b0) * stride, stride, d, sums);
    for (std::int64_t b = 0; b < n; ++b) each(b0 + b, d[b], sums[b]);
  }
}

}  // namespace

void ggml_round_activations(ggml::Type weight_type, const float* x, std::int64_t m, std::int64_t k, float* out,
                            float* block_sums) {
  const ggml::Type vt = ggml_vec_dot_type(weight_type);
  const std::int64_t n = m * k;
  switch (vt) {
    case ggml::Type::F32:
      for (std::int64_t i = 0; i < n; ++i) out[i] = x[i];
      return;
    case ggml::Type::F16: {
      // Through the vector casts (bit for bit the scalar codec) in L1-sized pieces.
      const auto& casts = kernels::quant_rows();
      std::uint16_t h[1024];
      for (std::int64_t i = 0; i < n; i += 1024) {
        const std::int64_t len = std::min<std::int64_t>(1024, n - i);
        casts.fp32_to_fp16(x + i, len, h);
        casts.fp16_to_fp32(h, len, out + i);
      }
      return;
    }
    case ggml::Type::BF16:
      for (std::int64_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
      return;
    case ggml::Type::Q8_0:
    case ggml::Type::Q8_1: {
      if (k % 32) fail("activation rows of ", k, " values are not whole 32-blocks");
      std::vector<std::int8_t> codes(static_cast<std::size_t>(n));
      q8_blocks(x, n / 32, codes.data(), 32, [&](std::int64_t b, float d, std::int32_t sum) {
        const float dh = fp16_to_fp32(fp32_to_fp16(d));
        for (std::int64_t j = b * 32; j < b * 32 + 32; ++j) out[j] = dh * codes[static_cast<std::size_t>(j)];
        if (vt == ggml::Type::Q8_1) block_sums[b] = fp16_to_fp32(fp32_to_fp16(d * static_cast<float>(sum)));
      });
      return;
    }
    case ggml::Type::Q8_K: {
      if (k % ggml::QK_K) fail("activation rows of ", k, " values are not whole 256-blocks");
      std::vector<ggml::block_q8_K> blocks(static_cast<std::size_t>(k / ggml::QK_K));
      for (std::int64_t r = 0; r < m; ++r) {
        ggml::quantize_row_q8_K_ref(x + r * k, blocks.data(), k);
        ggml::dequantize_row_q8_K(blocks.data(), out + r * k, k);
      }
      return;
    }
    default: fail("unreachable vec_dot type");
  }
}

std::vector<std::byte> ggml_quantize_activations(ggml::Type vec_dot_type, const float* x, std::int64_t m,
                                                 std::int64_t k, int threads) {
  if (k % 32) fail("activation rows of ", k, " values are not whole 32-blocks");
  const bool q8_k = vec_dot_type == ggml::Type::Q8_K;
  if (q8_k && k % ggml::QK_K) fail("activation rows of ", k, " values are not whole 256-blocks");
  if (vec_dot_type != ggml::Type::Q8_0 && vec_dot_type != ggml::Type::Q8_1 && !q8_k)
    fail("no block quantizer for activation type ", ggml::traits(vec_dot_type).name);
  const std::int64_t row_blocks = k / (q8_k ? ggml::QK_K : 32);
  const std::size_t row_bytes = ggml::row_size(vec_dot_type, k).value();
  std::vector<std::byte> out(row_bytes * static_cast<std::size_t>(m));
  // A thread's rows quantize as one run of blocks.
  const auto rows = [&](std::size_t r0, std::size_t r1) {
    const float* xr = x + static_cast<std::int64_t>(r0) * k;
    std::byte* o = out.data() + r0 * row_bytes;
    const std::int64_t nb = static_cast<std::int64_t>(r1 - r0) * row_blocks;
    if (vec_dot_type == ggml::Type::Q8_0) {
      auto* b = reinterpret_cast<ggml::block_q8_0*>(o);
      q8_blocks(xr, nb, b[0].qs, sizeof(ggml::block_q8_0),
                [&](std::int64_t i, float d, std::int32_t) { b[i].d = fp32_to_fp16(d); });
    } else if (vec_dot_type == ggml::Type::Q8_1) {
      auto* b = reinterpret_cast<ggml::block_q8_1*>(o);
      q8_blocks(xr, nb, b[0].qs, sizeof(ggml::block_q8_1), [&](std::int64_t i, float d, std::int32_t sum) {
        b[i].d = fp32_to_fp16(d);
        b[i].s = fp32_to_fp16(d * static_cast<float>(sum));
      });
    } else {
      kernels::ggml_q8_K_row_kernel()(xr, o, static_cast<std::int64_t>(r1 - r0) * k);
    }
  };
  // Below a few thousand blocks the pool's hand-off costs more than the work.
  parallel_for(static_cast<std::size_t>(m), m * row_blocks >= 2048 ? threads : 1, 1, rows);
  return out;
}

}  // namespace lowbit::model
