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
#include "support/decoder_logits.h"
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
  const auto model = DecoderModel::load(dir);
  lowbit::testing::expect_logits_match_file(model, ids, dir / "logits.f32", 1e-4, GetParam());
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
