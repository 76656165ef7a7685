// LayerwiseRunner::keep_attention_context / _residual: once a layer's q, k, v (then o)
// are final, GPTQ's later capture passes and the advance reuse attention's output (then
// the residual after it) instead of recomputing them. The reuse must change nothing: on the real SmolLM2, a runner that keeps the context and one
// that recomputes it observe the same Linear inputs and pass on the same hidden states,
// bit for bit, while the layer's weights change between passes as GPTQ changes them.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "lowbit/austen.h"
#include "lowbit/decoder.h"
#include "lowbit/gptq.h"
#include "lowbit/layerwise.h"
#include "lowbit/ptq.h"
#include "lowbit/tokenizer.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

using Captured = std::map<std::string, std::vector<float>>;

// Every input the pass shows, concatenated per Linear.
Captured capture(LayerwiseRunner& r, bool advance, const Linear* stop_after) {
  Captured c;
  r.run_layer([&](int, const Linear& lin, const float* x, std::int64_t rows) {
    auto& v = c[lin.name()];
    v.insert(v.end(), x, x + rows * lin.cols());
  }, advance, stop_after);
  return c;
}

void round_to_grid(Linear& l) {
  GptqOptions g;
  g.bits = 3;
  g.group_size = 64;
  l.set_weight_f32(rtn_gptq_grid(l.decoded_weight(), l.rows(), l.cols(), g).dequantized);
}

void expect_same(const Captured& a, const Captured& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (const auto& [name, v] : a) {
    ASSERT_TRUE(b.count(name)) << what << ": " << name;
    const auto& w = b.at(name);
    ASSERT_EQ(v.size(), w.size()) << what << ": " << name;
    EXPECT_EQ(std::memcmp(v.data(), w.data(), v.size() * sizeof(float)), 0) << what << ": " << name;
  }
}

// Linears whose results the kept runner reuses do not run in it at all; the plain runner
// runs them. The rest must agree.
void expect_same_without(const Captured& kept, Captured plain, const std::vector<const Linear*>& skipped,
                         const std::string& what) {
  for (const Linear* l : skipped) {
    EXPECT_FALSE(kept.count(l->name())) << what << ": " << l->name() << " ran although its result was kept";
    plain.erase(l->name());
  }
  expect_same(kept, plain, what);
}

TEST(PeerLayerwiseCache, ReusedResultsChangeNothing) {
  const std::string path =
      nlohmann::json::parse(lowbit::testing::run_peer("gguf_model_paths.py", {}))["smollm2"].get<std::string>();
  auto model = DecoderModel::load(path, true);
  make_decoder_f32(model);
  const auto tok = load_tokenizer(path);
  const auto calib = calibration_chunks(*tok, austen_text(AustenSplit::calibration).substr(0, 20000), 64, 2);
  LayerwiseRunner kept(model, calib, 2), plain(model, calib, 2);
  for (int il = 0; il < 2; ++il) {
    DecoderLayer& L = model.layer(il);
    expect_same(capture(kept, false, &L.wv), capture(plain, false, &L.wv), "q/k/v inputs");
    for (Linear* l : {&L.wq, &L.wk, &L.wv}) round_to_grid(*l);
    kept.keep_attention_context();
    // The first pass after each keep computes what is kept.
    expect_same(capture(kept, false, &L.wo), capture(plain, false, &L.wo), "o inputs");
    round_to_grid(L.wo);
    kept.keep_attention_residual();
    const std::vector<const Linear*> qkv = {&L.wq, &L.wk, &L.wv}, qkvo = {&L.wq, &L.wk, &L.wv, &L.wo};
    expect_same_without(capture(kept, false, &L.w_gate), capture(plain, false, &L.w_gate), qkv, "gate/up inputs");
    for (Linear* l : {&L.w_gate, &L.w_up}) round_to_grid(*l);
    expect_same_without(capture(kept, false, &L.w_down), capture(plain, false, &L.w_down), qkvo, "down inputs");
    round_to_grid(L.w_down);
    expect_same_without(capture(kept, true, nullptr), capture(plain, true, nullptr), qkvo, "the advancing pass");
  }
  // The hidden states both pass on: the next layer's first inputs.
  expect_same(capture(kept, false, &model.layer(2).wq), capture(plain, false, &model.layer(2).wq), "layer 2 inputs");
}

}  // namespace
