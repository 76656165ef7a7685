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

}  // namespace
