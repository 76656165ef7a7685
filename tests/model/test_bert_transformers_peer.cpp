// lowbit's BertEncoder against transformers' BertModel on the real all-MiniLM-L6-v2 and
// 64 real Austen sentences (9 to 256 tokens, the longest truncated at 256): last hidden
// states and sentence-transformers' pooled / normalized embeddings, computed by
// transformers at test time (tests/peers/model_transformers_bert.py, run by torch_python()).
// Error measure per sequence: max|lowbit - transformers| / max|transformers| over the
// sequence's [T, H] (or [H]) values; both runs are fp32, so the bar is 1e-4.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bert_test_data.h"
#include "lowbit/bert.h"

using namespace lowbit;
namespace fs = std::filesystem;
namespace bt = lowbit::testing::bert;

namespace {

struct Diff {
  double max_rel = 0, max_abs = 0;
  std::size_t worst = 0;
};

// Folds one sequence's comparison into d: rel = max|a - b| / max|b|.
void add(Diff& d, const float* a, const float* b, std::size_t n, std::size_t seq) {
  double mx = 0, mb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    mx = std::max(mx, std::fabs(static_cast<double>(a[i]) - b[i]));
    mb = std::max(mb, std::fabs(static_cast<double>(b[i])));
  }
  const double rel = mb > 0 ? mx / mb : mx;
  if (rel > d.max_rel) {
    d.max_rel = rel;
    d.worst = seq;
  }
  d.max_abs = std::max(d.max_abs, mx);
}

void report(const char* what, const Diff& d) {
  std::printf("%-44s max rel %.3g (sequence %zu), max |diff| %.3g\n", what, d.max_rel, d.worst, d.max_abs);
}

}  // namespace

TEST(PeerBertTransformers, MiniLMHiddenStatesAndEmbeddingsMatch) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const fs::path model = bt::minilm_dir();
  const auto seqs = bt::sentence_ids(model, 64, 256, dir / "ids.json");
  lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "model_transformers_bert.py",
                                 {"--model", model.string(), "--ids", (dir / "ids.json").string(), "--out",
                                  (dir / "hf").string()});
  const auto hf_hidden = bt::read_f32(dir / "hf/hidden.f32");
  const auto hf_pooled = bt::read_f32(dir / "hf/pooled.f32");
  const auto hf_norm = bt::read_f32(dir / "hf/normalized.f32");

  const BertEncoder enc = BertEncoder::load(model);
  const auto H = static_cast<std::size_t>(enc.hidden_size());
  ASSERT_EQ(H, 384u);
  ASSERT_TRUE(enc.config().normalize) << "modules.json of all-MiniLM-L6-v2 ends in Normalize";
  std::size_t total = 0, longest = 0;
  for (const auto& s : seqs) total += s.size(), longest = std::max(longest, s.size());
  ASSERT_EQ(hf_hidden.size(), total * H);
  ASSERT_EQ(hf_pooled.size(), seqs.size() * H);
  EXPECT_EQ(longest, 256u) << "the longest sentences must reach the truncation length";

  // One sequence at a time (no padding).
  Diff hidden, pooled, normalized;
  std::size_t row = 0;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    const auto h = enc.forward(seqs[i], 2);
    ASSERT_EQ(h.size(), seqs[i].size() * H);
    add(hidden, h.data(), hf_hidden.data() + row * H, h.size(), i);
    auto p = mean_pool(h, {}, enc.hidden_size());
    add(pooled, p.data(), hf_pooled.data() + i * H, H, i);
    const auto e = enc.sentence_embedding(seqs[i], 2);
    add(normalized, e.data(), hf_norm.data() + i * H, H, i);
    row += seqs[i].size();
  }
  report("last hidden state (one sequence per pass)", hidden);
  report("mean-pooled embedding", pooled);
  report("normalized sentence embedding", normalized);
  EXPECT_LT(hidden.max_rel, 1e-4);
  EXPECT_LT(pooled.max_rel, 1e-4);
  EXPECT_LT(normalized.max_rel, 1e-4);

  // Right-padded batches of 8 in the file's (length-shuffled) order: padding keys must get
  // no attention weight, so real tokens see exactly what they saw alone.
  Diff batched;
  std::vector<std::size_t> first_row(seqs.size() + 1, 0);
  for (std::size_t i = 0; i < seqs.size(); ++i) first_row[i + 1] = first_row[i] + seqs[i].size();
  for (std::size_t b0 = 0; b0 < seqs.size(); b0 += 8) {
    const std::size_t nb = std::min<std::size_t>(8, seqs.size() - b0);
    std::size_t T = 0;
    for (std::size_t i = b0; i < b0 + nb; ++i) T = std::max(T, seqs[i].size());
    std::vector<std::int32_t> ids(nb * T, 0), mask(nb * T, 0);
    for (std::size_t i = 0; i < nb; ++i)
      for (std::size_t t = 0; t < seqs[b0 + i].size(); ++t) {
        ids[i * T + t] = seqs[b0 + i][t];
        mask[i * T + t] = 1;
      }
    const auto h = enc.forward(ids, mask, static_cast<std::int64_t>(nb), 2);
    ASSERT_EQ(h.size(), nb * T * H);
    for (std::size_t i = 0; i < nb; ++i) {
      const std::size_t s = b0 + i;
      add(batched, h.data() + i * T * H, hf_hidden.data() + first_row[s] * H, seqs[s].size() * H, s);
      const auto p = mean_pool(std::span<const float>(h.data() + i * T * H, T * H),
                               std::span<const std::int32_t>(mask.data() + i * T, T), enc.hidden_size());
      Diff pd;
      add(pd, p.data(), hf_pooled.data() + s * H, H, s);
      EXPECT_LT(pd.max_rel, 1e-4) << "pooled embedding of padded sequence " << s;
    }
  }
  report("last hidden state (padded batches of 8)", batched);
  EXPECT_LT(batched.max_rel, 1e-4);
}
