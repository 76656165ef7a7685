// Packs a GPTQ-convention result into AutoAWQ's GEMM layout or the GPTQ v1/v2 layout
// (include/lowbit/hf_quant_layout.h). Both are int32 words holding 32/bits codes; GPTQ's
// 3-bit words are one little-endian bit stream, which the generic bit writer covers.
#include <cmath>

#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/hf_quant_layout.h"

namespace lowbit::hfq {
namespace {

// AutoAWQ packs outputs 0..7 of a word in the order its GEMM kernel dequantizes them.
constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

// Writes `bits` of v at bit offset `pos` of the stream whose word w lives at
// words[w * stride + col]; a field may straddle two words (3 bits).
void put_bits(std::vector<std::int32_t>& words, std::int64_t stride, std::int64_t col, std::int64_t pos, int bits,
              std::uint32_t v) {
  for (int b = 0; b < bits; ++b, ++pos) {
    if (!((v >> b) & 1u)) continue;
    auto& w = words[static_cast<std::size_t>((pos / 32) * stride + col)];
    w = static_cast<std::int32_t>(static_cast<std::uint32_t>(w) | (1u << (pos % 32)));
  }
}

std::uint32_t integer_zero(const GptqResult& r, std::size_t i, std::uint32_t maxq, const std::string& name) {
  const float z = r.zeros[i];
  if (!(z >= 0 && z <= static_cast<float>(maxq)) || z != std::nearbyint(z))
    fail("tensor '", name, "': zero point ", z, " of row ", static_cast<std::int64_t>(i) / r.groups, " group ",
         static_cast<std::int64_t>(i) % r.groups, " is not an integer in [0, ", maxq,
         "]; AWQ/GPTQ layouts store integer zero points (HQQ's fractional ones need lowbit's own format)");
  return static_cast<std::uint32_t>(z);
}

std::vector<std::uint16_t> fp16_scales(const GptqResult& r, const std::string& name) {
  // transposed to [groups, out]
  std::vector<std::uint16_t> s(static_cast<std::size_t>(r.groups * r.rows));
  for (std::int64_t o = 0; o < r.rows; ++o)
    for (std::int64_t g = 0; g < r.groups; ++g) {
      const float v = r.scales[static_cast<std::size_t>(o * r.groups + g)];
      if (!std::isfinite(v) || std::fabs(v) > 65504.0f)
        fail("tensor '", name, "': scale ", v, " of row ", o, " group ", g, " does not fit fp16");
      s[static_cast<std::size_t>(g * r.rows + o)] = fp32_to_fp16(v);
    }
  return s;
}

}  // namespace

Layout parse_layout(const std::string& name) {
  if (name == "awq") return Layout::AwqGemm;
  if (name == "gptq") return Layout::GptqV1;
  if (name == "gptq-v2") return Layout::GptqV2;
  fail("unknown layout '", name, "' (awq, gptq, gptq-v2)");
}

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::AwqGemm: return "awq";
    case Layout::GptqV1: return "gptq";
    case Layout::GptqV2: return "gptq-v2";
  }
  return "?";
}

PackedLinear pack_linear(const GptqResult& r, int bits, std::int64_t group_size, Layout layout, const std::string& name) {
  const std::int64_t out = r.rows, in = r.cols;
  if (static_cast<std::int64_t>(r.codes.size()) != out * in || static_cast<std::int64_t>(r.g_idx.size()) != in ||
      static_cast<std::int64_t>(r.scales.size()) != out * r.groups || r.zeros.size() != r.scales.size())
    fail("tensor '", name, "': result arrays do not match its ", out, " x ", in, " shape");
  if (!r.offsets.empty()) fail("tensor '", name, "' was fitted to a ggml block grid (min offsets); write it as GGUF");
  const std::uint32_t maxq = (1u << bits) - 1;
  PackedLinear p;
  p.scales = fp16_scales(r, name);
  p.scales_shape = {r.groups, out};
  if (layout == Layout::AwqGemm) {
    if (bits != 4) fail("tensor '", name, "': AutoAWQ's GEMM layout holds 4-bit codes, not ", bits);
    if (out % 8) fail("tensor '", name, "': ", out, " output features are not a multiple of 8 (AWQ GEMM packing)");
    if (group_size <= 0 || in % group_size)
      fail("tensor '", name, "': ", in, " input features are not whole groups of ", group_size,
           " (AutoAWQ's GEMM layout needs in_features % group_size == 0; try a group size dividing ", in, ")");
    for (std::int64_t c = 0; c < in; ++c)
      if (r.g_idx[static_cast<std::size_t>(c)] != c / group_size)
        fail("tensor '", name, "': column ", c, " is in group ", r.g_idx[static_cast<std::size_t>(c)],
             "; AWQ's layout has no g_idx (act-order results need the GPTQ layout)");
    const std::int64_t w = out / 8;
    p.qweight.assign(static_cast<std::size_t>(in * w), 0);
    p.qzeros.assign(static_cast<std::size_t>(r.groups * w), 0);
    p.qweight_shape = {in, w};
    p.qzeros_shape = {r.groups, w};
    for (std::int64_t c = 0; c < w; ++c)
      for (int k = 0; k < 8; ++k) {
        const std::int64_t o = c * 8 + kAwqOrder[k];
        for (std::int64_t i = 0; i < in; ++i) {
          const std::uint32_t q = r.codes[static_cast<std::size_t>(o * in + i)] & maxq;
          auto& word = p.qweight[static_cast<std::size_t>(i * w + c)];
          word = static_cast<std::int32_t>(static_cast<std::uint32_t>(word) | (q << (4 * k)));
        }
        for (std::int64_t g = 0; g < r.groups; ++g) {
          const std::uint32_t z = integer_zero(r, static_cast<std::size_t>(o * r.groups + g), maxq, name);
          auto& word = p.qzeros[static_cast<std::size_t>(g * w + c)];
          word = static_cast<std::int32_t>(static_cast<std::uint32_t>(word) | (z << (4 * k)));
        }
      }
    return p;
  }
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    fail("tensor '", name, "': the GPTQ layout holds 2, 3, 4 or 8-bit codes, not ", bits);
  if ((in * bits) % 32 || (out * bits) % 32)
    fail("tensor '", name, "': ", out, " x ", in, " at ", bits, " bits does not fill whole int32 words (GPTQ packing)");
  p.qweight.assign(static_cast<std::size_t>(in * bits / 32 * out), 0);
  p.qzeros.assign(static_cast<std::size_t>(r.groups * (out * bits / 32)), 0);
  p.qweight_shape = {in * bits / 32, out};
  p.qzeros_shape = {r.groups, out * bits / 32};
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t i = 0; i < in; ++i)
      put_bits(p.qweight, out, o, i * bits, bits, r.codes[static_cast<std::size_t>(o * in + i)] & maxq);
  const std::int64_t zw = out * bits / 32;
  for (std::int64_t g = 0; g < r.groups; ++g)
    for (std::int64_t o = 0; o < out; ++o) {
      std::uint32_t z = integer_zero(r, static_cast<std::size_t>(o * r.groups + g), maxq, name);
      if (layout == Layout::GptqV1) {
        // AutoGPTQ's pack() stores zero - 1 (its kernels add the 1 back).
        if (z == 0) ++p.v1_wrapped_zeros;
        z = (z - 1) & maxq;
      }
      put_bits(p.qzeros, 1, g * zw, o * bits, bits, z);
    }
  p.g_idx.assign(r.g_idx.begin(), r.g_idx.end());
  return p;
}

std::vector<float> dequantize_packed_reference(const GptqResult& r) {
  std::vector<float> w(static_cast<std::size_t>(r.rows * r.cols));
  for (std::int64_t o = 0; o < r.rows; ++o)
    for (std::int64_t i = 0; i < r.cols; ++i) {
      const auto gi = static_cast<std::size_t>(o * r.groups + r.g_idx[static_cast<std::size_t>(i)]);
      const float s = fp16_to_fp32(fp32_to_fp16(r.scales[gi]));
      w[static_cast<std::size_t>(o * r.cols + i)] =
          s * (static_cast<float>(r.codes[static_cast<std::size_t>(o * r.cols + i)]) - r.zeros[gi]);
    }
  return w;
}

}  // namespace lowbit::hfq
