// AWQ-GEMM and GPTQ v1/v2 packing checked by an unpacker written here from the formats'
// own descriptions, not from lowbit's packer: AutoAWQ's unpack (nibble k of a word, then
// its reverse order 0,4,1,5,2,6,3,7 puts nibble reverse[j] at output j) and GPTQ's
// qweight as a little-endian bit stream down each column, read 64 bits at a time.
#include <gtest/gtest.h>

#include <random>

#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/hf_quant_layout.h"

using namespace lowbit;
using hfq::Layout;

namespace {

// A result with every code value, zero points 0 and maxq among them, and (act_order)
// g_idx in a shuffled order as GPTQ's desc_act produces.
GptqResult random_result(std::int64_t rows, std::int64_t cols, std::int64_t g, int bits, bool act_order,
                         std::uint32_t seed) {
  std::mt19937 rng(seed);
  const int maxq = (1 << bits) - 1;
  const std::int64_t gs = g > 0 ? g : cols;
  GptqResult r;
  r.rows = rows, r.cols = cols, r.groups = (cols + gs - 1) / gs;
  r.codes.resize(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < r.codes.size(); ++i) r.codes[i] = static_cast<std::uint8_t>((i * 7 + rng()) % (maxq + 1));
  r.scales.resize(static_cast<std::size_t>(rows * r.groups));
  r.zeros.resize(r.scales.size());
  std::uniform_real_distribution<float> s(1e-4f, 0.5f);
  for (std::size_t i = 0; i < r.scales.size(); ++i) {
    r.scales[i] = s(rng);
    r.zeros[i] = static_cast<float>(i % 5 == 0 ? 0 : i % 5 == 1 ? maxq : static_cast<int>(rng() % (maxq + 1)));
  }
  r.g_idx.resize(static_cast<std::size_t>(cols));
  for (std::int64_t c = 0; c < cols; ++c) r.g_idx[static_cast<std::size_t>(c)] = static_cast<std::int32_t>(c / gs);
  if (act_order) std::shuffle(r.g_idx.begin(), r.g_idx.end(), rng);
  return r;
}

std::uint32_t u32(std::int32_t w) { return static_cast<std::uint32_t>(w); }

// Bits [pos, pos + bits) of the stream whose word k is words[k * stride + col], n_words long.
std::uint32_t stream_field(const std::vector<std::int32_t>& words, std::int64_t stride, std::int64_t col,
                           std::int64_t n_words, std::int64_t pos, int bits) {
  const std::int64_t k = pos / 32;
  std::uint64_t two = u32(words[static_cast<std::size_t>(k * stride + col)]);
  if (k + 1 < n_words) two |= static_cast<std::uint64_t>(u32(words[static_cast<std::size_t>((k + 1) * stride + col)])) << 32;
  return static_cast<std::uint32_t>((two >> (pos % 32)) & ((1u << bits) - 1));
}

struct Unpacked {
  std::vector<std::uint32_t> codes, zeros;  // [out, in], [out, groups]
  std::vector<float> scales;                // [out, groups]
};

Unpacked unpack_awq(const hfq::PackedLinear& p, std::int64_t out, std::int64_t in, std::int64_t groups) {
  static constexpr int kReverse[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  Unpacked u;
  u.codes.resize(static_cast<std::size_t>(out * in));
  u.zeros.resize(static_cast<std::size_t>(out * groups));
  u.scales.resize(u.zeros.size());
  const std::int64_t w = out / 8;
  for (std::int64_t o = 0; o < out; ++o) {
    const std::int64_t word = o / 8, nibble = kReverse[o % 8];
    for (std::int64_t i = 0; i < in; ++i)
      u.codes[static_cast<std::size_t>(o * in + i)] = (u32(p.qweight[static_cast<std::size_t>(i * w + word)]) >> (4 * nibble)) & 15u;
    for (std::int64_t g = 0; g < groups; ++g) {
      u.zeros[static_cast<std::size_t>(o * groups + g)] = (u32(p.qzeros[static_cast<std::size_t>(g * w + word)]) >> (4 * nibble)) & 15u;
      u.scales[static_cast<std::size_t>(o * groups + g)] = fp16_to_fp32(p.scales[static_cast<std::size_t>(g * out + o)]);
    }
  }
  return u;
}

Unpacked unpack_gptq(const hfq::PackedLinear& p, std::int64_t out, std::int64_t in, std::int64_t groups, int bits, bool v1) {
  Unpacked u;
  u.codes.resize(static_cast<std::size_t>(out * in));
  u.zeros.resize(static_cast<std::size_t>(out * groups));
  u.scales.resize(u.zeros.size());
  const std::int64_t zw = out * bits / 32;
  for (std::int64_t o = 0; o < out; ++o) {
    for (std::int64_t i = 0; i < in; ++i)
      u.codes[static_cast<std::size_t>(o * in + i)] = stream_field(p.qweight, out, o, in * bits / 32, i * bits, bits);
    for (std::int64_t g = 0; g < groups; ++g) {
      std::uint32_t z = stream_field(p.qzeros, 1, g * zw, zw, o * bits, bits);
      // v1 stores zero - 1; GPTQModel's v1 -> v2 conversion adds 1 back modulo 2^bits.
      if (v1) z = (z + 1) & ((1u << bits) - 1);
      u.zeros[static_cast<std::size_t>(o * groups + g)] = z;
      u.scales[static_cast<std::size_t>(o * groups + g)] = fp16_to_fp32(p.scales[static_cast<std::size_t>(g * out + o)]);
    }
  }
  return u;
}

void expect_same(const GptqResult& r, const Unpacked& u, const std::string& what) {
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < r.codes.size(); ++i) bad += u.codes[i] != r.codes[i];
  EXPECT_EQ(bad, 0) << what << ": codes";
  bad = 0;
  for (std::size_t i = 0; i < r.zeros.size(); ++i) {
    bad += u.zeros[i] != static_cast<std::uint32_t>(r.zeros[i]);
    bad += u.scales[i] != fp16_to_fp32(fp32_to_fp16(r.scales[i]));
  }
  EXPECT_EQ(bad, 0) << what << ": zeros/scales";
  // The weights the layout stands for are lowbit's reference dequantization.
  const auto w = hfq::dequantize_packed_reference(r);
  bad = 0;
  for (std::int64_t o = 0; o < r.rows; ++o)
    for (std::int64_t i = 0; i < r.cols; ++i) {
      const auto gi = static_cast<std::size_t>(o * r.groups + r.g_idx[static_cast<std::size_t>(i)]);
      const float v = u.scales[gi] * (static_cast<float>(u.codes[static_cast<std::size_t>(o * r.cols + i)]) - static_cast<float>(u.zeros[gi]));
      bad += v != w[static_cast<std::size_t>(o * r.cols + i)];
    }
  EXPECT_EQ(bad, 0) << what << ": dequantized weights";
}

}  // namespace

TEST(HfQuantPack, AwqGemmUnpacksToTheSameCodesZerosAndScales) {
  for (const std::int64_t g : {32, 64, 128}) {
    const auto r = random_result(64, 256, g, 4, false, static_cast<std::uint32_t>(g));
    const auto p = hfq::pack_linear(r, 4, g, Layout::AwqGemm, "t");
    ASSERT_EQ(p.qweight_shape, (std::vector<std::int64_t>{256, 8}));
    ASSERT_EQ(p.qzeros_shape, (std::vector<std::int64_t>{256 / g, 8}));
    ASSERT_EQ(p.scales_shape, (std::vector<std::int64_t>{256 / g, 64}));
    expect_same(r, unpack_awq(p, 64, 256, r.groups), "awq g" + std::to_string(g));
  }
}

TEST(HfQuantPack, GptqV1AndV2UnpackToTheSameCodesZerosScalesAndGIdx) {
  for (const int bits : {2, 3, 4, 8})
    for (const std::int64_t g : {-1, 32, 128})
      for (const bool act_order : {false, true}) {
        // 96 inputs: 128-groups are ragged (AutoGPTQ's ceil(in / group) groups).
        const std::int64_t out = 64, in = 96;
        const auto r = random_result(out, in, g, bits, act_order, static_cast<std::uint32_t>(bits * 1000 + g));
        const std::string what = std::to_string(bits) + " bits g" + std::to_string(g) + (act_order ? " act-order" : "");
        for (const bool v1 : {true, false}) {
          const auto p = hfq::pack_linear(r, bits, g, v1 ? Layout::GptqV1 : Layout::GptqV2, "t");
          ASSERT_EQ(p.qweight_shape, (std::vector<std::int64_t>{in * bits / 32, out}));
          ASSERT_EQ(p.qzeros_shape, (std::vector<std::int64_t>{r.groups, out * bits / 32}));
          EXPECT_EQ(p.g_idx, r.g_idx) << what;
          std::int64_t zero_groups = 0;
          for (float z : r.zeros) zero_groups += z == 0;
          EXPECT_EQ(p.v1_wrapped_zeros, v1 ? zero_groups : 0) << what;
          expect_same(r, unpack_gptq(p, out, in, r.groups, bits, v1), what + (v1 ? " v1" : " v2"));
        }
      }
}

TEST(HfQuantPack, GptqV1StoresZeroMinusOne) {
  const auto r = random_result(32, 64, 32, 4, false, 5);
  const auto v1 = hfq::pack_linear(r, 4, 32, Layout::GptqV1, "t");
  const auto v2 = hfq::pack_linear(r, 4, 32, Layout::GptqV2, "t");
  EXPECT_EQ(v1.qweight, v2.qweight);
  for (std::int64_t g = 0; g < r.groups; ++g)
    for (std::int64_t o = 0; o < 32; ++o) {
      const auto a = stream_field(v1.qzeros, 1, g * 4, 4, o * 4, 4), b = stream_field(v2.qzeros, 1, g * 4, 4, o * 4, 4);
      EXPECT_EQ(a, (b + 15) & 15) << "group " << g << " output " << o;
    }
}

TEST(HfQuantPack, RefusesWhatTheLayoutsCannotHold) {
  const auto r = random_result(64, 96, 32, 4, false, 9);
  EXPECT_THROW(hfq::pack_linear(r, 4, 64, Layout::AwqGemm, "t"), Error);  // 96 % 64
  EXPECT_THROW(hfq::pack_linear(random_result(64, 96, 32, 3, false, 9), 3, 32, Layout::AwqGemm, "t"), Error);
  EXPECT_THROW(hfq::pack_linear(random_result(64, 96, 32, 4, true, 9), 4, 32, Layout::AwqGemm, "t"), Error);
  EXPECT_THROW(hfq::pack_linear(random_result(60, 96, 32, 4, false, 9), 4, 32, Layout::AwqGemm, "t"), Error);
  EXPECT_THROW(hfq::pack_linear(random_result(64, 96, 32, 5, false, 9), 5, 32, Layout::GptqV2, "t"), Error);
  EXPECT_THROW(hfq::pack_linear(random_result(64, 20, 32, 3, false, 9), 3, 32, Layout::GptqV2, "t"), Error);
  auto frac = r;
  frac.zeros[3] = 2.5f;  // HQQ's zero points are fractional
  try {
    hfq::pack_linear(frac, 4, 32, Layout::GptqV2, "blk.0.attn_q.weight");
    ADD_FAILURE() << "a fractional zero point was packed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos) << e.what();
  }
  auto big = r;
  big.scales[0] = 1e6f;
  EXPECT_THROW(hfq::pack_linear(big, 4, 32, Layout::GptqV2, "t"), Error);
}
