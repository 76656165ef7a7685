// Layer-wise PTQ from a model whose layers stay in the mapped file (DecoderModel::load
// with map_layers, what `lowbit quantize --method` does) computes exactly what it does
// from a plain load made fp32 (make_decoder_f32): the same weights before quantizing, the
// same calibration errors, codes and logits after. Real SmolLM2 (Q4_1 GGUF, decoded on
// the fly in one case and up front in the other); peer suite for the packaged model.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "lowbit/austen.h"
#include "lowbit/decoder.h"
#include "lowbit/layerwise.h"
#include "lowbit/ptq.h"
#include "lowbit/tokenizer.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

std::string smollm2_path() {
  return nlohmann::json::parse(lowbit::testing::run_peer("gguf_model_paths.py", {}))["smollm2"].get<std::string>();
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(PeerPtqMappedLayers, QuantizesExactlyAsFromAPlainLoad) {
  const std::string path = smollm2_path();
  auto plain = DecoderModel::load(path);
  make_decoder_f32(plain);
  auto mapped = DecoderModel::load(path, true);
  make_decoder_f32(mapped);
  const int n_layer = plain.config().n_layer;
  for (int il = 0; il < n_layer; ++il) {
    const auto a = std::as_const(plain).layer(il).linears(), b = std::as_const(mapped).layer(il).linears();
    for (std::size_t j = 0; j < a.size(); ++j) {
      ASSERT_NE(b[j]->compact(), nullptr) << b[j]->name() << " was decoded at load";
      EXPECT_EQ(b[j]->compact()->bytes(), 0u) << b[j]->name() << " holds memory before it is used";
      const std::vector<float> wa(a[j]->weight_f32().begin(), a[j]->weight_f32().end());
      EXPECT_TRUE(same_bits(wa, b[j]->decoded_weight())) << a[j]->name();
    }
  }

  const auto tok = load_tokenizer(path);
  const auto calib = calibration_chunks(*tok, austen_text(AustenSplit::calibration).substr(0, 20000), 64, 2);
  PtqOptions o;
  o.method = PtqMethod::Rtn;
  o.bits = 4;
  o.group_size = 128;
  o.threads = 2;
  const PtqResult ra = quantize_decoder(plain, calib, o);
  const PtqResult rb = quantize_decoder(mapped, calib, o);
  ASSERT_EQ(ra.linears.size(), rb.linears.size());
  for (std::size_t i = 0; i < ra.linears.size(); ++i) {
    EXPECT_EQ(ra.linears[i].name, rb.linears[i].name);
    EXPECT_EQ(ra.linears[i].rel_error, rb.linears[i].rel_error) << ra.linears[i].name;
    EXPECT_TRUE(rb.linears[i].compact) << rb.linears[i].name;
    EXPECT_EQ(ra.weights.at(ra.linears[i].name)->codes, rb.weights.at(rb.linears[i].name)->codes) << ra.linears[i].name;
  }
  const auto ids = tok->encode(austen_text(AustenSplit::evaluation).substr(0, 2000), true, false);
  const std::vector<std::int32_t> seq(ids.begin(), ids.begin() + std::min<std::ptrdiff_t>(96, std::ssize(ids)));
  std::vector<float> la(seq.size() * static_cast<std::size_t>(plain.config().n_vocab)), lb(la.size());
  plain.forward(seq, la.data(), 2);
  mapped.forward(seq, lb.data(), 2);
  EXPECT_TRUE(same_bits(la, lb));
}

}  // namespace
