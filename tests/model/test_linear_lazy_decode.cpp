// A ggml Linear that runs on its blocks holds no fp32 copy; whatever asks for fp32 later
// (decoded_weight, decode_rows, use_exact_f32) gets the bits ggml's own row decoder gives
// for the file's bytes, from row-major blocks and from eight-row panels alike.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/ggml_types.h"
#include "lowbit/linear.h"

using namespace lowbit;

namespace {

bool same_bits(const std::vector<float>& a, const float* b) {
  return std::memcmp(a.data(), b, a.size() * sizeof(float)) == 0;
}

TEST(LinearLazyDecode, BlocksDecodeToTheFormatDecoderBits) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 0.05f);
  struct Case {
    ggml::Type t;
    std::int64_t rows;
  };
  // Q4_0 / Q4_K with rows % 8 == 0 sit in panels, 13 rows in ggml's rows; Q8_0 and Q5_0
  // keep ggml's rows (vec_dot order); F16 keeps an fp32 copy as before.
  for (const Case c : {Case{ggml::Type::Q4_0, 24}, Case{ggml::Type::Q4_0, 13}, Case{ggml::Type::Q4_K, 16},
                       Case{ggml::Type::Q8_0, 24}, Case{ggml::Type::Q5_0, 9}, Case{ggml::Type::F16, 8}}) {
    const std::int64_t cols = 512;
    std::vector<float> wf(static_cast<std::size_t>(c.rows * cols));
    for (auto& v : wf) v = nd(rng);
    std::vector<std::byte> bytes(ggml::row_size(c.t, cols).value() * static_cast<std::size_t>(c.rows));
    ggml::quantize_rows(c.t, wf.data(), bytes.data(), c.rows, cols, nullptr, 1);
    std::vector<float> want(wf.size());
    ggml::dequantize(c.t, bytes.data(), want.data(), c.rows * cols, 1);

    std::size_t handed_back = 0;
    Linear l = Linear::from_ggml("w", c.t, bytes, c.rows, cols, ActivationRounding::GgmlCpu,
                                 [&](std::span<const std::byte> piece) { handed_back += piece.size(); });
    const char* name = ggml::traits(c.t).name;
    EXPECT_EQ(handed_back, bytes.size()) << name << ": every byte handed back once";
    EXPECT_TRUE(same_bits(want, l.decoded_weight().data())) << name;
    const std::int64_t r0 = 3, r1 = c.rows - 2;
    std::vector<float> part(static_cast<std::size_t>((r1 - r0) * cols));
    l.decode_rows(r0, r1, part.data());
    EXPECT_EQ(std::memcmp(part.data(), want.data() + r0 * cols, part.size() * sizeof(float)), 0) << name;
    if (c.t != ggml::Type::F16) {
      EXPECT_THROW((void)l.weight_f32(), Error) << name << ": no fp32 copy is held";
    }
    l.use_exact_f32();
    EXPECT_TRUE(same_bits(want, l.weight_f32().data())) << name;
  }
}

}  // namespace
