// llama.cpp's tests/test-quantize-fns.cpp for every type lowbit encodes: 4096 values
// x[i] = 0.1 + 2 cos(i) (computed in double as its generate_data does, stored as float),
// quantized and dequantized; total error = sqrtf(sum (x - deq)^2) / n must stay below
// 0.0075 (Q2_K), 0.004 (Q3_K), 0.002 (the rest). Its second check, the reference
// quantizer against the path llama-quantize runs (< 0.0001 apart), holds for every type
// whose unweighted quantize_<t> is its reference; IQ4_NL's searches, so both paths are
// held to the bound instead. The measured errors are printed (run with --gtest_filter).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "lowbit/ggml_types.h"

namespace {

using lowbit::ggml::Type;

float total_error(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double diff = a[i] - b[i];
    sum += diff * diff;
  }
  return std::sqrt(static_cast<float>(sum)) / static_cast<float>(a.size());
}

TEST(GgmlErrorBound, TestQuantizeFnsData) {
  constexpr std::size_t kN = 32 * 128;
  std::vector<float> x(kN);
  for (std::size_t i = 0; i < kN; ++i) x[i] = static_cast<float>(0.1 + 2.0f * std::cos(static_cast<float>(i)));
  const struct {
    Type type;
    float bound;
  } cases[] = {{Type::Q4_0, 0.002f}, {Type::Q4_1, 0.002f}, {Type::Q5_0, 0.002f},   {Type::Q5_1, 0.002f},
               {Type::Q8_0, 0.002f}, {Type::Q2_K, 0.0075f}, {Type::Q3_K, 0.004f},  {Type::Q4_K, 0.002f},
               {Type::Q5_K, 0.002f}, {Type::Q6_K, 0.002f}, {Type::Q8_K, 0.002f},   {Type::IQ4_NL, 0.002f},
               {Type::IQ4_XS, 0.002f}};
  for (const auto& c : cases) {
    const auto& tr = lowbit::ggml::traits(c.type);
    std::vector<std::uint8_t> q(*lowbit::ggml::row_size(c.type, kN));
    std::vector<float> ref_out(kN), out(kN);
    tr.from_float_ref(x.data(), q.data(), kN);
    lowbit::ggml::dequantize(c.type, q.data(), ref_out.data(), kN);
    lowbit::ggml::quantize_rows(c.type, x.data(), q.data(), 1, kN);
    lowbit::ggml::dequantize(c.type, q.data(), out.data(), kN);
    const float err_ref = total_error(x, ref_out), err = total_error(x, out);
    std::printf("%-7s total error: reference %.6f, quantize_rows %.6f (bound %.4f)\n", tr.name, err_ref, err, c.bound);
    EXPECT_LT(err_ref, c.bound) << tr.name << " reference quantizer";
    EXPECT_LT(err, c.bound) << tr.name << " quantize_rows without imatrix";
    if (c.type != Type::IQ4_NL) {
      EXPECT_LT(total_error(ref_out, out), 0.0001f) << tr.name;
    }
  }
}

}  // namespace
