// Embedding fidelity (include/lowbit/embedding_fidelity.h) on the real all-MiniLM-L6-v2:
// the model against itself is exactly 1; an int8 copy (`lowbit quantize`) stays close but
// below 1; and the cosine lowbit measures for an int4 copy equals the one transformers
// measures on the dequantized weights (`lowbit dequantize` into a HF folder).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "bert_test_data.h"
#include "lowbit/embedding_fidelity.h"

using namespace lowbit;
namespace fs = std::filesystem;
namespace bt = lowbit::testing::bert;
using lowbit::testing::shell_quote;

TEST(EmbeddingFidelity, CosineOfIdenticalVectorsIsExactlyOne) {
  const std::vector<float> a = {0.1f, -3.0f, 7.25f, 1e-3f}, b = {0.2f, -6.0f, 14.5f, 2e-3f}, z(4, 0.0f);
  EXPECT_EQ(cosine_similarity(a, a), 1.0);
  EXPECT_EQ(cosine_similarity(a, b), 1.0);  // b = 2a: scaling by 2 is exact
  EXPECT_EQ(cosine_similarity(a, z), 0.0);
  const std::vector<float> c = {1.0f, 0.0f}, d = {0.0f, 1.0f}, e = {-1.0f, 0.0f};
  EXPECT_EQ(cosine_similarity(c, d), 0.0);
  EXPECT_EQ(cosine_similarity(c, e), -1.0);
}

TEST(EmbeddingFidelity, MiniLMAgainstItselfAndAnInt8Copy) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const fs::path model = bt::minilm_dir();
  const auto seqs = bt::sentence_ids(model, 16, 256, dir / "ids.json");
  const BertEncoder fp32 = BertEncoder::load(model);

  // Against itself, through a second load: bit-identical embeddings, cosine exactly 1.
  const EmbeddingFidelity self = embedding_fidelity(fp32, BertEncoder::load(model / "model.safetensors"), seqs, 2);
  ASSERT_EQ(self.cosine.size(), seqs.size());
  for (double c : self.cosine) EXPECT_EQ(c, 1.0);
  EXPECT_EQ(self.mean_cosine, 1.0);
  EXPECT_EQ(self.min_cosine, 1.0);

  const fs::path q8 = dir / "int8.safetensors";
  bt::lowbit_cli("quantize " + shell_quote((model / "model.safetensors").string()) + " " + shell_quote(q8.string()) +
                 " --scheme int8:channel:sym -q");
  const BertEncoder int8 = BertEncoder::load(q8, model / "config.json");
  const EmbeddingFidelity f = embedding_fidelity(fp32, int8, seqs, 2);
  std::printf("int8:channel:sym MiniLM: mean cosine %.6f, min %.6f (sentence %zu of %zu)\n", f.mean_cosine,
              f.min_cosine, f.worst, seqs.size());
  EXPECT_GT(f.mean_cosine, 0.9);
  EXPECT_LT(f.mean_cosine, 1.0);
  EXPECT_LE(f.min_cosine, f.mean_cosine);
  EXPECT_EQ(f.cosine[f.worst], f.min_cosine);
}

TEST(EmbeddingFidelity, CosineRejectsVectorsOfDifferentLengths) {
  EXPECT_THROW(cosine_similarity(std::vector<float>(3), std::vector<float>(4)), std::exception);
}

// transformers loads the dequantized int4 weights (the same values lowbit decodes in
// memory) and computes both models' pooled embeddings of the same ids; the cosines agree
// to 1e-5 (both sides are fp32 to ~1e-6 relative; a cosine near 0.99 moves less than that).
TEST(PeerEmbeddingFidelity, Int4CosineMatchesTransformers) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const fs::path model = bt::minilm_dir();
  const auto seqs = bt::sentence_ids(model, 24, 256, dir / "ids.json");
  const fs::path q4 = dir / "int4.safetensors";
  bt::lowbit_cli("quantize " + shell_quote((model / "model.safetensors").string()) + " " + shell_quote(q4.string()) +
                 " --scheme int4:g32:sym -q");
  fs::create_directories(dir / "dequantized");
  bt::lowbit_cli("dequantize " + shell_quote(q4.string()) + " " +
                 shell_quote((dir / "dequantized/model.safetensors").string()));
  fs::copy_file(model / "config.json", dir / "dequantized/config.json");
  lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "model_transformers_bert.py",
                                 {"--model", model.string(), "--model2", (dir / "dequantized").string(), "--ids",
                                  (dir / "ids.json").string(), "--out", (dir / "hf").string()});
  std::ifstream meta_file(dir / "hf/meta.json");
  const auto hf_cos = nlohmann::json::parse(meta_file)["cosine"].get<std::vector<double>>();

  const EmbeddingFidelity f =
      embedding_fidelity(BertEncoder::load(model), BertEncoder::load(q4, model / "config.json"), seqs, 2);
  ASSERT_EQ(hf_cos.size(), f.cosine.size());
  double max_diff = 0, hf_mean = 0;
  for (std::size_t i = 0; i < hf_cos.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(f.cosine[i] - hf_cos[i]));
    hf_mean += hf_cos[i] / static_cast<double>(hf_cos.size());
  }
  std::printf("int4:g32:sym MiniLM: lowbit mean cosine %.7f (min %.7f), transformers %.7f; max |diff| %.3g\n",
              f.mean_cosine, f.min_cosine, hf_mean, max_diff);
  EXPECT_LT(max_diff, 1e-5);
  EXPECT_LT(std::fabs(f.mean_cosine - hf_mean), 1e-5);
  EXPECT_LT(f.mean_cosine, 1.0);
}
