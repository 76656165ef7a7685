// The k-quants Q2_K..Q6_K and Q8_K against llama.cpp itself: for every row kind, the
// bytes of lowbit's quantizer (reference path, imatrix path, imatrix path with a null
// imatrix) must equal llama.cpp's, and lowbit's dequantizer must reproduce llama.cpp's
// floats bit for bit. Plus llama.cpp's own test-quantize-fns error bounds, without a peer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "formats/ggml_peer_check.h"
#include "lowbit/ggml_types.h"

using lowbit::ggml::Type;
using lowbit::testing::RowKind;

namespace {

enum class Mode { Ref, Imatrix, NullImatrix };

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::Ref: return "ref";
    case Mode::Imatrix: return "imatrix";
    case Mode::NullImatrix: return "null_imatrix";
  }
  return "?";
}

using Param = std::tuple<Type, RowKind, Mode>;

class PeerGgmlKQuants : public ::testing::TestWithParam<Param> {};

TEST_P(PeerGgmlKQuants, BytesAndDequantizeMatchLlamaCpp) {
  const auto [type, kind, mode] = GetParam();
  const auto& tr = lowbit::ggml::traits(type);
  // 14 rows cover each of the 7 edge-row shapes twice; MiniLM gives rows of 1536.
  std::int64_t nrows = 14, npr = 512;
  const std::uint32_t seed = 1000u + static_cast<std::uint32_t>(kind) * 17u + static_cast<std::uint32_t>(type);
  const std::vector<float> x = lowbit::testing::ggml_test_rows(kind, nrows, npr, seed);
  ASSERT_EQ(npr % tr.block_size, 0);

  std::vector<float> imatrix;
  if (mode == Mode::Imatrix) imatrix = lowbit::testing::ggml_test_imatrix(npr, seed);

  std::vector<std::uint8_t> got(*lowbit::ggml::row_size(type, npr) * static_cast<std::size_t>(nrows));
  if (mode == Mode::Ref) {
    // llama.cpp's quantize_row_<t>_ref over all rows at once, through the traits table.
    tr.from_float_ref(x.data(), got.data(), nrows * npr);
  } else {
    const std::size_t n = lowbit::ggml::quantize_rows(type, x.data(), got.data(), nrows, npr,
                                                      imatrix.empty() ? nullptr : imatrix.data());
    EXPECT_EQ(n, got.size());
  }
  const std::vector<std::uint8_t> want =
      lowbit::testing::ggml_peer_quantize(type, mode == Mode::Ref ? "ref" : "imatrix", x, nrows, npr, imatrix);
  EXPECT_EQ(lowbit::testing::ggml_first_difference(type, got, want, npr), "");

  // Decode llama.cpp's bytes on both sides, so a quantizer mismatch above cannot hide or
  // fake a dequantizer mismatch here.
  std::vector<float> deq(static_cast<std::size_t>(nrows * npr));
  lowbit::ggml::dequantize(type, want.data(), deq.data(), nrows * npr);
  EXPECT_EQ(lowbit::testing::float_first_difference(deq, lowbit::testing::ggml_peer_dequantize(type, want, nrows * npr)),
            "");
}

std::vector<Param> all_params() {
  std::vector<Param> out;
  const RowKind kinds[] = {RowKind::Cos, RowKind::Gauss, RowKind::Heavy, RowKind::Edge, RowKind::MiniLM};
  for (Type t : {Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::Q8_K})
    for (RowKind k : kinds)
      for (Mode m : {Mode::Ref, Mode::Imatrix, Mode::NullImatrix})
        // llama.cpp has no quantize_q8_K (Q8_K only ever quantizes activations).
        if (t != Type::Q8_K || m == Mode::Ref) out.emplace_back(t, k, m);
  return out;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  return std::string(lowbit::ggml::traits(std::get<0>(info.param)).name) + "_" +
         lowbit::testing::row_kind_name(std::get<1>(info.param)) + "_" + mode_name(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(PeerAll, PeerGgmlKQuants, ::testing::ValuesIn(all_params()), param_name);

// llama.cpp's tests/test-quantize-fns.cpp, "absolute quantization error": 4096 values
// 0.1 + 2cos(i) (computed as ggml's generate_data does, the sum in double), quantized
// and dequantized, error = sqrtf(sum of squared differences) / n, which must stay below
// 0.0075 for Q2_K, 0.004 for Q3_K and 0.002 otherwise. llama.cpp skips Q8_K there (its
// ggml type_traits have no to_float for it); we hold it to the general bound.
// Its second check, reference quantizer vs the CPU quantizer under 0.0001, becomes
// from_float_ref vs quantize_rows without an imatrix.
float array_rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double diff = a[i] - b[i];
    sum += diff * diff;
  }
  return std::sqrt(static_cast<float>(sum)) / static_cast<float>(a.size());
}

TEST(GgmlKQuantsErrorBound, MatchesTestQuantizeFns) {
  constexpr std::size_t kTestSize = 32 * 128;
  std::vector<float> data(kTestSize);
  for (std::size_t i = 0; i < kTestSize; ++i)
    data[i] = static_cast<float>(0.1 + static_cast<double>(2.0f * std::cos(static_cast<float>(i) + 0.0f)));

  const struct {
    Type type;
    float max_error;
  } cases[] = {{Type::Q2_K, 0.0075f}, {Type::Q3_K, 0.0040f}, {Type::Q4_K, 0.002f},
               {Type::Q5_K, 0.002f},  {Type::Q6_K, 0.002f},  {Type::Q8_K, 0.002f}};
  for (const auto& c : cases) {
    const auto& tr = lowbit::ggml::traits(c.type);
    const std::size_t bytes = *lowbit::ggml::row_size(c.type, kTestSize);
    std::vector<std::uint8_t> q(bytes), q_ref(bytes);
    std::vector<float> out(kTestSize), out_ref(kTestSize);
    lowbit::ggml::quantize_rows(c.type, data.data(), q.data(), 1, kTestSize);
    lowbit::ggml::dequantize(c.type, q.data(), out.data(), kTestSize);
    const float total_error = array_rmse(data, out);
    EXPECT_LT(total_error, c.max_error) << tr.name;

    tr.from_float_ref(data.data(), q_ref.data(), kTestSize);
    lowbit::ggml::dequantize(c.type, q_ref.data(), out_ref.data(), kTestSize);
    EXPECT_LT(array_rmse(out, out_ref), 0.0001f) << tr.name;
  }
}

}  // namespace
