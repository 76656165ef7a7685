// Reads AutoAWQ GEMM / GPTQ v1 / v2 4-bit Linears back to codes, zero points and fp16
// scales, then repacks them into W4A16 tiles. The unpacking follows the formats as
// docs/formats.md draws them; tests check it against lowbit's packer and the packed
// reference dequantization.
#include <cstdint>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/w4a16_from_hf.h"

namespace lowbit::kernels {
namespace {

// AutoAWQ packs outputs 0..7 of a word in nibbles order = 0,2,4,6,1,3,5,7; output j sits
// in nibble kAwqNibble[j] (the inverse permutation).
constexpr int kAwqNibble[8] = {0, 4, 1, 5, 2, 6, 3, 7};

std::uint8_t nibble(std::int32_t word, int k) {
  return static_cast<std::uint8_t>((static_cast<std::uint32_t>(word) >> (4 * k)) & 15u);
}

void expect_size(const std::vector<std::int32_t>& v, std::int64_t n, const char* what, const std::string& name) {
  if (static_cast<std::int64_t>(v.size()) != n)
    fail("tensor '", name, "': ", what, " holds ", v.size(), " words, its shape says ", n);
}

}  // namespace

W4A16Weights w4a16_from_packed(const hfq::PackedLinear& p, hfq::Layout layout, const std::string& name) {
  if (p.qweight_shape.size() != 2 || p.scales_shape.size() != 2 || p.qzeros_shape.size() != 2)
    fail("tensor '", name, "': qweight, qzeros and scales must be 2-D");
  const bool awq = layout == hfq::Layout::AwqGemm;
  const std::int64_t groups = p.scales_shape[0], out = p.scales_shape[1];
  const std::int64_t in = awq ? p.qweight_shape[0] : p.qweight_shape[0] * 8;
  if ((awq ? p.qweight_shape[1] * 8 : p.qweight_shape[1]) != out)
    fail("tensor '", name, "': qweight [", p.qweight_shape[0], ", ", p.qweight_shape[1], "] does not match scales' ",
         out, " outputs at 4 bits");
  if (groups <= 0 || in != groups * kW4A16Group)
    fail("tensor '", name, "': ", in, " inputs in ", groups, " groups; the W4A16 tiles need groups of 128");
  if (p.qzeros_shape[0] != groups || p.qzeros_shape[1] * 8 != out)
    fail("tensor '", name, "': qzeros [", p.qzeros_shape[0], ", ", p.qzeros_shape[1], "] does not match ", groups,
         " groups x ", out, " outputs");
  expect_size(p.qweight, p.qweight_shape[0] * p.qweight_shape[1], "qweight", name);
  expect_size(p.qzeros, groups * out / 8, "qzeros", name);
  if (static_cast<std::int64_t>(p.scales.size()) != groups * out)
    fail("tensor '", name, "': scales hold ", p.scales.size(), " values, their shape says ", groups * out);
  if (!awq) {
    if (static_cast<std::int64_t>(p.g_idx.size()) != in)
      fail("tensor '", name, "': g_idx holds ", p.g_idx.size(), " entries for ", in, " inputs");
    for (std::int64_t i = 0; i < in; ++i)
      if (p.g_idx[static_cast<std::size_t>(i)] != i / kW4A16Group)
        fail("tensor '", name, "': g_idx[", i, "] = ", p.g_idx[static_cast<std::size_t>(i)],
             " (act-order); the W4A16 tiles need input i in group i / 128");
  }
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(out * in)), zeros(static_cast<std::size_t>(out * groups));
  std::vector<std::uint16_t> scales(static_cast<std::size_t>(out * groups));
  const std::int64_t w8 = out / 8;
  for (std::int64_t o = 0; o < out; ++o) {
    for (std::int64_t g = 0; g < groups; ++g) {
      scales[static_cast<std::size_t>(o * groups + g)] = p.scales[static_cast<std::size_t>(g * out + o)];
      std::uint8_t z;
      if (awq) {
        z = nibble(p.qzeros[static_cast<std::size_t>(g * w8 + o / 8)], kAwqNibble[o % 8]);
      } else {
        z = nibble(p.qzeros[static_cast<std::size_t>(g * w8 + o / 8)], static_cast<int>(o % 8));
        if (layout == hfq::Layout::GptqV1) z = static_cast<std::uint8_t>((z + 1) & 15);
      }
      zeros[static_cast<std::size_t>(o * groups + g)] = z;
    }
    for (std::int64_t i = 0; i < in; ++i) {
      std::uint8_t q;
      if (awq) {
        q = nibble(p.qweight[static_cast<std::size_t>(i * w8 + o / 8)], kAwqNibble[o % 8]);
      } else {
        q = nibble(p.qweight[static_cast<std::size_t>((i / 8) * out + o)], static_cast<int>(i % 8));
      }
      codes[static_cast<std::size_t>(o * in + i)] = q;
    }
  }
  bool symmetric = true;
  for (const std::uint8_t z : zeros) symmetric = symmetric && z == 8;
  return repack_w4a16(codes.data(), scales.data(), symmetric ? nullptr : zeros.data(), out, in);
}

}  // namespace lowbit::kernels
