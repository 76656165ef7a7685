// The compact weight forms a quantized Linear keeps (include/lowbit/weight_rows.h): for
// every quantizer that produces them, the form decodes to exactly the values the
// quantizer returned, and a Linear computing from the form gives bit for bit the output
// of a Linear holding those values in fp32, for any batch size, block tail and threads.
// A mapped form decodes its bytes in place and hands them back once when dropped.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "algo/ggml_grid.h"
#include "lowbit/awq.h"
#include "lowbit/error.h"
#include "lowbit/gptq.h"
#include "lowbit/hf_quant_layout.h"
#include "lowbit/hqq.h"
#include "lowbit/linear.h"
#include "lowbit/squeezellm.h"
#include "lowbit/weight_rows.h"
#include "support/random_vectors.h"

using namespace lowbit;

namespace {

using lowbit::testing::randn;

// X^T X / n of random inputs with uneven channel scales: a Hessian GPTQ can work with.
std::vector<double> hessian(std::int64_t cols, std::mt19937& rng) {
  const std::int64_t n = 4 * cols;
  auto x = randn(static_cast<std::size_t>(n * cols), rng);
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t c = 0; c < cols; ++c) x[static_cast<std::size_t>(t * cols + c)] *= 1.0f + static_cast<float>(c % 7);
  std::vector<double> h(static_cast<std::size_t>(cols * cols));
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t a = 0; a < cols; ++a)
      for (std::int64_t b = 0; b < cols; ++b)
        h[static_cast<std::size_t>(a * cols + b)] +=
            double(x[static_cast<std::size_t>(t * cols + a)]) * x[static_cast<std::size_t>(t * cols + b)] / double(n);
  return h;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The form decodes to `values`, and a Linear on it computes what a Linear on `values` does.
void expect_form_is(const std::shared_ptr<const WeightRows>& form, const std::vector<float>& values,
                    std::int64_t rows, std::int64_t cols, std::mt19937& rng) {
  ASSERT_TRUE(decodes_to(*form, values));
  EXPECT_TRUE(decode_all(*form) == values);
  Linear dense = Linear::from_f32("w", values, rows, cols);
  Linear compact = Linear::from_f32("w", std::vector<float>(values.size()), rows, cols);
  const auto bias = randn(static_cast<std::size_t>(rows), rng);
  dense.set_bias(bias);
  compact.set_bias(bias);
  compact.set_weight_rows(form);
  ASSERT_NE(compact.compact(), nullptr);
  EXPECT_THROW((void)compact.weight_f32(), Error);
  EXPECT_TRUE(compact.decoded_weight() == values);
  for (const std::int64_t m : {1, 2, 7, 40})
    for (const int threads : {1, 2, 3}) {
      const auto x = randn(static_cast<std::size_t>(m * cols), rng);
      std::vector<float> y0(static_cast<std::size_t>(m * rows)), y1(y0.size(), -1.0f);
      dense.forward(x.data(), m, y0.data(), threads);
      compact.forward(x.data(), m, y1.data(), threads);
      EXPECT_TRUE(same_bits(y0, y1)) << "m " << m << " threads " << threads;
    }
}

// Ragged on purpose: 70 rows is not a multiple of the decode block, 200 columns not of
// 8 lanes or of the group size 64.
constexpr std::int64_t kRows = 70, kCols = 200;

TEST(WeightRows, GptqGridsAsymSymActOrderAndMse) {
  std::mt19937 rng(1);
  const auto w = randn(static_cast<std::size_t>(kRows * kCols), rng, 0.05f);
  const auto h = hessian(kCols, rng);
  for (const bool sym : {false, true})
    for (const bool act_order : {false, true})
      for (const int bits : {2, 3, 4, 8}) {
        GptqOptions o;
        o.bits = bits;
        o.group_size = 64;
        o.sym = sym;
        o.act_order = act_order;
        o.mse = bits == 3;
        auto r = std::make_shared<GptqResult>(gptq_quantize(w, kRows, kCols, h, o, 2));
        const auto values = r->dequantized;
        SCOPED_TRACE(::testing::Message() << "bits " << bits << " sym " << sym << " act_order " << act_order);
        expect_form_is(grid_weight_rows(r), values, kRows, kCols, rng);
      }
}

TEST(WeightRows, RtnAwqAndHqqGrids) {
  std::mt19937 rng(2);
  const auto w = randn(static_cast<std::size_t>(kRows * kCols), rng, 0.05f);
  GptqOptions g;
  g.group_size = 64;
  auto rtn = std::make_shared<GptqResult>(rtn_gptq_grid(w, kRows, kCols, g));
  expect_form_is(grid_weight_rows(rtn), rtn->dequantized, kRows, kCols, rng);
  for (const bool zero_point : {true, false}) {
    AwqOptions a;
    a.group_size = 64;
    a.zero_point = zero_point;
    auto r = std::make_shared<GptqResult>(awq_quantize(w, kRows, kCols, a));
    expect_form_is(grid_weight_rows(r), r->dequantized, kRows, kCols, rng);
  }
  HqqOptions q;
  q.bits = 3;
  auto hq = std::make_shared<GptqResult>(hqq_quantize(w, kRows, kCols, q, 2));
  expect_form_is(grid_weight_rows(hq), hq->dequantized, kRows, kCols, rng);
}

TEST(WeightRows, GgmlFittedGridsWithOffsets) {
  // Q4_1's and Q4_K's minimums are the grids' offsets; Q4_0 and Q6_K have none.
  std::mt19937 rng(3);
  const std::int64_t cols = 256;
  const auto w = randn(static_cast<std::size_t>(kRows * cols), rng, 0.05f);
  const auto h = hessian(cols, rng);
  for (const auto t : {ggml::Type::Q4_0, ggml::Type::Q4_1, ggml::Type::Q4_K, ggml::Type::Q6_K}) {
    std::vector<float> imp;
    for (std::int64_t j = 0; j < cols; ++j) imp.push_back(static_cast<float>(h[static_cast<std::size_t>(j * cols + j)]));
    algo::GgmlGrid grid(t, kRows, cols, imp);
    auto r = std::make_shared<GptqResult>(gptq_quantize(w, kRows, cols, h, grid.options(GptqOptions{}), 1));
    SCOPED_TRACE(ggml::traits(t).name);
    expect_form_is(grid_weight_rows(r), r->dequantized, kRows, cols, rng);
    // The same weights as ggml blocks decode alike.
    const auto bytes = grid.pack(*r);
    expect_form_is(ggml_weight_rows(t, bytes, kRows, cols), r->dequantized, kRows, cols, rng);
  }
}

TEST(WeightRows, GgmlBlocksOfTypesWithoutAGrid) {
  std::mt19937 rng(4);
  const std::int64_t cols = 256;
  const auto w = randn(static_cast<std::size_t>(kRows * cols), rng);
  for (const auto t : {ggml::Type::IQ4_XS, ggml::Type::Q2_K, ggml::Type::Q8_0}) {
    std::vector<std::byte> bytes(*ggml::row_size(t, cols) * kRows);
    ggml::quantize_rows(t, w.data(), bytes.data(), kRows, cols, nullptr, 1);
    std::vector<float> values(w.size());
    ggml::dequantize(t, bytes.data(), values.data(), kRows * cols);
    SCOPED_TRACE(ggml::traits(t).name);
    expect_form_is(ggml_weight_rows(t, bytes, kRows, cols), values, kRows, cols, rng);
  }
}

TEST(WeightRows, MappedBlocksDecodeInPlaceAndAreGivenBackOnce) {
  std::mt19937 rng(8);
  const std::int64_t cols = 64;
  const auto w = randn(static_cast<std::size_t>(kRows * cols), rng);
  for (const auto t : {ggml::Type::F32, ggml::Type::Q4_1}) {
    auto bytes = std::make_shared<std::vector<std::byte>>(*ggml::row_size(t, cols) * kRows);
    ggml::quantize_rows(t, w.data(), bytes->data(), kRows, cols, nullptr, 1);
    std::vector<float> values(w.size());
    ggml::dequantize(t, bytes->data(), values.data(), kRows * cols);
    int released = 0;
    std::span<const std::byte> given;
    {
      auto form = mapped_ggml_weight_rows(t, *bytes, kRows, cols, bytes, [&](std::span<const std::byte> b) {
        ++released;
        given = b;
      });
      EXPECT_EQ(form->bytes(), 0u);
      SCOPED_TRACE(ggml::traits(t).name);
      expect_form_is(form, values, kRows, cols, rng);
      EXPECT_EQ(released, 0);
    }
    EXPECT_EQ(released, 1);
    EXPECT_EQ(given.data(), bytes->data());
    EXPECT_EQ(given.size(), bytes->size());
  }
}

TEST(WeightRows, SqueezeLlmCodebooksWithAndWithoutOutliers) {
  std::mt19937 rng(5);
  const auto w = randn(static_cast<std::size_t>(kRows * kCols), rng);
  std::vector<float> sens(static_cast<std::size_t>(kCols));
  for (std::size_t c = 0; c < sens.size(); ++c) sens[c] = 1.0f + static_cast<float>(c % 5);
  for (const double outliers : {0.0, 0.01}) {
    SqueezeLlmOptions o;
    o.bits = 3;
    o.outlier_fraction = outliers;
    SqueezeLlmResult k = squeezellm_quantize(w, kRows, kCols, sens, o, 2);
    auto codes = std::make_shared<GptqResult>();
    codes->rows = kRows;
    codes->cols = kCols;
    codes->codes = k.codes;
    SCOPED_TRACE(::testing::Message() << "outliers " << outliers);
    expect_form_is(codebook_weight_rows(codes, k), k.dequantized, kRows, kCols, rng);
  }
}

TEST(WeightRows, Fp16ScalesAreWhatTheCheckpointLoadersDecode) {
  // The AutoAWQ/GPTQ checkpoints' decode, hfq::dequantize_packed_reference, is a separate
  // implementation of scale16 * (code - zero).
  std::mt19937 rng(6);
  const auto w = randn(static_cast<std::size_t>(kRows * 256), rng, 0.05f);
  const auto h = hessian(256, rng);
  GptqOptions o;
  o.act_order = true;
  auto r = std::make_shared<GptqResult>(gptq_quantize(w, kRows, 256, h, o, 2));
  expect_form_is(grid_weight_rows(r, true), hfq::dequantize_packed_reference(*r), kRows, 256, rng);
}

TEST(WeightRows, ShapesMustAgree) {
  std::mt19937 rng(7);
  const auto w = randn(64 * 32, rng);
  GptqOptions g;
  g.group_size = 32;
  auto r = std::make_shared<GptqResult>(rtn_gptq_grid(w, 64, 32, g));
  Linear l = Linear::from_f32("l", w, 32, 64);
  EXPECT_THROW(l.set_weight_rows(grid_weight_rows(r)), Error);
  auto broken = std::make_shared<GptqResult>(*r);
  broken->codes.pop_back();
  EXPECT_THROW((void)grid_weight_rows(broken), Error);
  std::vector<std::byte> short_bytes(10);
  EXPECT_THROW((void)ggml_weight_rows(ggml::Type::Q8_0, short_bytes, 2, 32), Error);
}

}  // namespace
