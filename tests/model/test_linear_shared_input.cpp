// Linears that read the same x share one quantization of it (the decoder's q / k / v and
// gate / up): forward_blocks(quantize_input(x)) must give forward(x)'s bits, and ggml's
// activation blocks must be the same bytes on any thread count (rows go to threads whole).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/ggml_types.h"
#include "lowbit/linear.h"
#include "model/ggml_cpu_activations.h"

using namespace lowbit;

namespace {

TEST(LinearSharedInput, OneQuantizationServesEveryLinearBitForBit) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 0.05f), xd(0.f, 1.f);
  const std::int64_t cols = 512, m = 37;
  std::vector<float> x(static_cast<std::size_t>(m * cols));
  for (auto& v : x) v = xd(rng);
  // Q8_0 rows (vec_dot), Q4_0 panels, Q5_0 rows: one Q8_0 quantization for all three;
  // Q4_K reads Q8_K blocks, Q4_1 Q8_1 blocks; F16 takes no blocks at all.
  for (const ggml::Type t : {ggml::Type::Q8_0, ggml::Type::Q4_0, ggml::Type::Q5_0, ggml::Type::Q4_K,
                             ggml::Type::Q4_1, ggml::Type::F16}) {
    const std::int64_t rows = 24;
    std::vector<float> wf(static_cast<std::size_t>(rows * cols));
    for (auto& v : wf) v = nd(rng);
    std::vector<std::byte> bytes(ggml::row_size(t, cols).value() * static_cast<std::size_t>(rows));
    ggml::quantize_rows(t, wf.data(), bytes.data(), rows, cols, nullptr, 1);
    const Linear l = Linear::from_ggml("w", t, bytes, rows, cols, ActivationRounding::GgmlCpu, nullptr);
    const char* name = ggml::traits(t).name;
    std::vector<float> want(static_cast<std::size_t>(m * rows)), got(want.size());
    l.forward(x.data(), m, want.data(), 2);
    if (t == ggml::Type::F16) {
      EXPECT_EQ(l.input_blocks_type(), ggml::Type::F32) << name;
      EXPECT_THROW((void)l.quantize_input(x.data(), m, 2), Error) << name;
      continue;
    }
    EXPECT_EQ(l.input_blocks_type(), model::ggml_vec_dot_type(t)) << name;
    const auto one = model::ggml_quantize_activations(l.input_blocks_type(), x.data(), m, cols, 1);
    const auto two = model::ggml_quantize_activations(l.input_blocks_type(), x.data(), m, cols, 2);
    ASSERT_EQ(one.size(), two.size()) << name;
    EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size()), 0) << name << ": bytes depend on the thread count";
    l.forward_blocks(two, m, got.data(), 2);
    EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << name;
    // A buffer of the wrong size is refused, not read past its end.
    EXPECT_THROW(l.forward_blocks(std::span<const std::byte>(two.data(), two.size() - 1), m, got.data(), 2), Error)
        << name;
  }
}

}  // namespace
