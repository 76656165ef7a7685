// lowbit's decoder on HF checkpoints against transformers (torch, fp32): a tiny randomly
// initialised Llama in every supported variant (tied head, biases, RoPE scaling linear /
// llama3 / dynamic / yarn, Qwen2) is built, saved and run by transformers at test time
// (tests/peers/model_transformers_llama.py); lowbit loads the saved directory and must
// reproduce the logits to a relative error below 1e-4.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "lowbit/decoder.h"
#include "support/peer.h"

using namespace lowbit;
namespace fs = std::filesystem;
using nlohmann::json;

class PeerDecoderTransformers : public ::testing::TestWithParam<std::string> {};

TEST_P(PeerDecoderTransformers, LogitsMatch) {
  const fs::path dir = lowbit::testing::scratch_dir() / "model";
  lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "model_transformers_llama.py",
                                 {"--variant", GetParam(), "--out", dir.string()});
  const auto ids = json::parse(std::ifstream(dir / "ids.json")).get<std::vector<std::vector<std::int32_t>>>();
  std::ifstream lf(dir / "logits.f32", std::ios::binary);
  std::vector<float> ref(fs::file_size(dir / "logits.f32") / 4);
  lf.read(reinterpret_cast<char*>(ref.data()), static_cast<std::streamsize>(ref.size() * 4));
  const auto model = DecoderModel::load(dir);
  const std::int64_t nv = model.config().n_vocab;
  std::size_t off = 0;
  for (const auto& s : ids) {
    std::vector<float> logits(s.size() * static_cast<std::size_t>(nv));
    model.forward(s, logits.data(), 2);
    ASSERT_LE(off + logits.size(), ref.size());
    double max_abs = 0, max_ref = 0;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(logits[i]) - ref[off + i]));
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref[off + i])));
    }
    std::printf("[%s] T=%zu: max|diff| %.3g, max|logit| %.3g, relative %.3g\n", GetParam().c_str(), s.size(), max_abs,
                max_ref, max_abs / max_ref);
    EXPECT_LT(max_abs / max_ref, 1e-4) << GetParam() << " T=" << s.size();
    off += logits.size();
  }
  EXPECT_EQ(off, ref.size());
}

std::string variant_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (auto& c : n)
    if (c == '-') c = '_';
  return n;
}

// Two variants in the peer suite (also run under ASan), the rest with the slow peers:
// each variant costs a torch start-up.
INSTANTIATE_TEST_SUITE_P(PeerAll, PeerDecoderTransformers, ::testing::Values("base", "qwen2"), variant_name);
INSTANTIATE_TEST_SUITE_P(SlowPeerAll, PeerDecoderTransformers,
                         ::testing::Values("tied", "bias", "rope-linear", "rope-llama3", "rope-dynamic", "rope-yarn"),
                         variant_name);
