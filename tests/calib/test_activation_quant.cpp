// Static and dynamic activation quantization: codes bit-exact with torch (observer
// qparams + quantize_per_tensor / quantize_per_channel computed at test time) on real
// MiniLM activations, static ranges frozen from other batches so saturation happens;
// plus identities: per-token equals per-tensor applied row by row, dequantized values
// sit within half a step of the input inside the range, and NaN/Inf are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "calib/calib_data.h"
#include "lowbit/activation_quant.h"
#include "lowbit/error.h"

using namespace lowbit;
using namespace lowbit::calib;
using nlohmann::json;

TEST(PeerActivationQuantTorch, CodesBitExact) {
  const auto dir = lowbit::testing::scratch_dir();
  const auto data = lowbit::testing::load_calib_data(dir);
  json configs = json::array();
  for (const std::string ds : {"minilm_ln", "minilm_gelu", "minilm_relu", "student_t", "outliers"})
    for (const std::string mode : {"static", "dynamic-tensor", "dynamic-token"})
      for (const std::string dtype : {"qint8", "quint8"})
        for (bool sym : {false, true})
          configs.push_back({{"dataset", ds}, {"mode", mode}, {"dtype", dtype}, {"symmetric", sym}});
  std::ofstream(dir / "actconfigs.json") << configs.dump();
  const json sqnr = json::parse(
      lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "calib_torch_actquant.py", {dir.string()}));
  ASSERT_EQ(sqnr.size(), configs.size());
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const json& c = configs[i];
    const auto& batches = data.at(c["dataset"]);
    const auto& x = batches.back();
    const std::size_t rows = static_cast<std::size_t>(x.shape[0]), cols = static_cast<std::size_t>(x.shape[1]);
    const QuantTarget t = quant_target(8, c["dtype"] == "qint8", c["symmetric"].get<bool>());
    ActivationQuantizer q;
    if (c["mode"] == "static") {
      Observer obs(ObserverOptions{}, c["dataset"]);
      for (std::size_t b = 0; b + 1 < batches.size(); ++b) obs.observe(batches[b].values, batches[b].shape);
      q = ActivationQuantizer::freeze(obs, t);
    } else {
      q = ActivationQuantizer::dynamic(c["mode"] == "dynamic-token" ? ActivationMode::DynamicPerToken
                                                                    : ActivationMode::DynamicPerTensor,
                                       t);
    }
    const QuantizedActivation a = quantize_activation(x.values, rows, cols, q);
    std::vector<std::int32_t> expected(a.codes.size());
    std::ifstream f(dir / ("act_" + std::to_string(i) + ".i32"), std::ios::binary);
    f.read(reinterpret_cast<char*>(expected.data()), static_cast<std::streamsize>(expected.size() * 4));
    ASSERT_TRUE(f.good()) << c.dump();
    std::size_t diff = 0;
    for (std::size_t k = 0; k < expected.size(); ++k) diff += expected[k] != a.codes[k];
    EXPECT_EQ(diff, 0u) << c.dump();
    EXPECT_NEAR(activation_error(x.values, rows, cols, q).sqnr_db(), sqnr[i].get<double>(), 1e-6) << c.dump();
  }
}

TEST(ActivationQuant, PerTokenIsPerTensorRowByRow) {
  std::mt19937 rng(5);
  std::student_t_distribution<float> d(3.0f);
  const std::size_t rows = 17, cols = 33;
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = d(rng);
  const QuantTarget t = quant_target(4, true, false);
  const auto tok = quantize_activation(x, rows, cols, ActivationQuantizer::dynamic(ActivationMode::DynamicPerToken, t));
  ASSERT_EQ(tok.params.size(), rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::span<const float> row(x.data() + r * cols, cols);
    const auto one = quantize_activation(row, 1, cols, ActivationQuantizer::dynamic(ActivationMode::DynamicPerTensor, t));
    for (std::size_t c = 0; c < cols; ++c) ASSERT_EQ(tok.codes[r * cols + c], one.codes[c]);
    // Inside its own range every value dequantizes within half a step (+ fp32 slack).
    const auto y = dequantize_activation(one);
    for (std::size_t c = 0; c < cols; ++c)
      EXPECT_LE(std::fabs(y[c] - row[c]), 0.5f * one.params[0].scale * (1 + 1e-5f) + 1e-6f);
  }
}

TEST(ActivationQuant, RefusesNonFinite) {
  std::vector<float> x(12, 1.0f);
  x[7] = std::nanf("");
  const QuantTarget t = quant_target(8, true, true);
  try {
    quantize_activation(x, 3, 4, ActivationQuantizer::dynamic(ActivationMode::DynamicPerToken, t));
    FAIL() << "NaN accepted";
  } catch (const lowbit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 3]"), std::string::npos) << e.what();
  }
  x[7] = INFINITY;
  EXPECT_THROW(quantize_activation(x, 3, 4, ActivationQuantizer::dynamic(ActivationMode::DynamicPerTensor, t)),
               lowbit::Error);
  EXPECT_THROW(quantize_activation(x, 2, 4, ActivationQuantizer::dynamic(ActivationMode::DynamicPerTensor, t)),
               lowbit::Error);
}
