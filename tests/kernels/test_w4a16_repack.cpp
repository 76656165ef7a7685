// The W4A16 tile layout is a bijection of the checkpoint's codes: tiles decode to exactly
// scale * (code - zero) at every position, and AutoAWQ / GPTQ v1 / v2 Linears packed by
// lowbit's writer come back through w4a16_from_packed to the packed reference weight.
#include <gtest/gtest.h>

#include <random>

#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/gptq.h"
#include "lowbit/hf_quant_layout.h"
#include "lowbit/w4a16.h"
#include "lowbit/w4a16_from_hf.h"

namespace {

using lowbit::kernels::kW4A16Group;

struct Codes {
  std::int64_t n, k;
  std::vector<std::uint8_t> codes, zeros;
  std::vector<std::uint16_t> scales;
};

Codes random_codes(std::int64_t n, std::int64_t k, bool symmetric, std::mt19937& rng) {
  Codes c{n, k, {}, {}, {}};
  std::uniform_int_distribution<int> code(0, 15);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  c.codes.resize(static_cast<std::size_t>(n * k));
  for (auto& q : c.codes) q = static_cast<std::uint8_t>(code(rng));
  c.scales.resize(static_cast<std::size_t>(n * k / kW4A16Group));
  for (auto& s : c.scales) s = lowbit::fp32_to_fp16(scale(rng));
  if (!symmetric) {
    c.zeros.resize(c.scales.size());
    for (auto& z : c.zeros) z = static_cast<std::uint8_t>(code(rng));
  }
  return c;
}

TEST(W4A16Repack, TilesDecodeToScaleTimesCodeMinusZeroEverywhere) {
  std::mt19937 rng(7);
  for (const bool symmetric : {true, false}) {
    const Codes c = random_codes(24, 3 * kW4A16Group, symmetric, rng);
    const auto w = lowbit::kernels::repack_w4a16(c.codes.data(), c.scales.data(),
                                                 symmetric ? nullptr : c.zeros.data(), c.n, c.k);
    EXPECT_EQ(w.symmetric, symmetric);
    const std::vector<float> d = lowbit::kernels::dequantize_w4a16(w);
    const std::int64_t groups = c.k / kW4A16Group;
    for (std::int64_t o = 0; o < c.n; ++o)
      for (std::int64_t i = 0; i < c.k; ++i) {
        const std::size_t gi = static_cast<std::size_t>(o * groups + i / kW4A16Group);
        const int z = symmetric ? 8 : c.zeros[gi];
        const float want = lowbit::fp16_to_fp32(c.scales[gi]) *
                           static_cast<float>(c.codes[static_cast<std::size_t>(o * c.k + i)] - z);
        ASSERT_EQ(d[static_cast<std::size_t>(o * c.k + i)], want) << "row " << o << " input " << i;
      }
  }
}

TEST(W4A16Repack, RejectsShapesAndValuesOutsideTheLayout) {
  std::mt19937 rng(3);
  Codes c = random_codes(16, kW4A16Group, false, rng);
  EXPECT_THROW(lowbit::kernels::repack_w4a16(c.codes.data(), c.scales.data(), nullptr, 12, kW4A16Group), lowbit::Error);
  EXPECT_THROW(lowbit::kernels::repack_w4a16(c.codes.data(), c.scales.data(), nullptr, 8, 64), lowbit::Error);
  c.codes[37] = 16;
  EXPECT_THROW(lowbit::kernels::repack_w4a16(c.codes.data(), c.scales.data(), nullptr, 16, kW4A16Group), lowbit::Error);
  c.codes[37] = 0;
  c.zeros[5] = 200;
  EXPECT_THROW(lowbit::kernels::repack_w4a16(c.codes.data(), c.scales.data(), c.zeros.data(), 16, kW4A16Group),
               lowbit::Error);
}

// A GPTQ-convention result with random codes, fp16-exact scales and integer zeros
// (zero 0 included, which GPTQ v1 stores wrapped to 15).
lowbit::GptqResult random_result(std::int64_t out, std::int64_t in, bool symmetric, std::mt19937& rng) {
  lowbit::GptqResult r = lowbit::grouped_result(out, in, kW4A16Group);
  std::uniform_int_distribution<int> code(0, 15);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (auto& q : r.codes) q = static_cast<std::uint8_t>(code(rng));
  for (std::size_t i = 0; i < r.scales.size(); ++i) {
    r.scales[i] = lowbit::fp16_to_fp32(lowbit::fp32_to_fp16(scale(rng)));
    r.zeros[i] = symmetric ? 8.0f : static_cast<float>(i == 0 ? 0 : code(rng));
  }
  return r;
}

TEST(W4A16FromHf, AwqAndGptqCheckpointsRepackToThePackedReferenceWeight) {
  std::mt19937 rng(11);
  for (const auto layout : {lowbit::hfq::Layout::AwqGemm, lowbit::hfq::Layout::GptqV1, lowbit::hfq::Layout::GptqV2})
    for (const bool symmetric : {false, true}) {
      const lowbit::GptqResult r = random_result(32, 2 * kW4A16Group, symmetric, rng);
      const auto packed = lowbit::hfq::pack_linear(r, 4, kW4A16Group, layout, "layer.q_proj");
      const auto w = lowbit::kernels::w4a16_from_packed(packed, layout, "layer.q_proj");
      EXPECT_EQ(w.symmetric, symmetric) << lowbit::hfq::layout_name(layout);
      EXPECT_EQ(lowbit::kernels::dequantize_w4a16(w), lowbit::hfq::dequantize_packed_reference(r))
          << lowbit::hfq::layout_name(layout) << (symmetric ? " sym" : " asym");
    }
}

TEST(W4A16FromHf, RefusesActOrderAndOtherGroupSizes) {
  std::mt19937 rng(5);
  lowbit::GptqResult r = random_result(16, 2 * kW4A16Group, false, rng);
  std::swap(r.g_idx[0], r.g_idx[kW4A16Group]);
  const auto act_order = lowbit::hfq::pack_linear(r, 4, kW4A16Group, lowbit::hfq::Layout::GptqV2, "mlp.up_proj");
  EXPECT_THROW(lowbit::kernels::w4a16_from_packed(act_order, lowbit::hfq::Layout::GptqV2, "mlp.up_proj"), lowbit::Error);
  lowbit::GptqResult g64 = lowbit::grouped_result(16, 2 * kW4A16Group, 64);
  const auto packed64 = lowbit::hfq::pack_linear(g64, 4, 64, lowbit::hfq::Layout::AwqGemm, "mlp.down_proj");
  EXPECT_THROW(lowbit::kernels::w4a16_from_packed(packed64, lowbit::hfq::Layout::AwqGemm, "mlp.down_proj"), lowbit::Error);
}

}  // namespace
