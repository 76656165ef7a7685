// Attention over a KV cache (src/model/decoder_ops.h) against the whole-sequence pass:
// causal attention of a query depends only on the keys at or before its position, so
// feeding a sequence in pieces through a kept cache must give the whole pass's rows. In
// llama.cpp's arithmetic every step is the same, so bit for bit; the fp32 path's p.v
// sums run over a different number of keys, so within the rounding bound derived below.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "lowbit/error.h"
#include "model/decoder_ops.h"

using namespace lowbit;
using namespace lowbit::model;

namespace {

struct Case {
  bool ggml;
  int window;
};

class AttentionCached : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(AttentionCached, PiecesThroughTheCacheEqualTheWholePass) {
  const Case c = GetParam();
  AttentionShape s;
  s.T = 37;
  s.n_head = 6;
  s.n_head_kv = 2;
  s.head_dim = 16;
  s.scale = 0.25f;
  s.window = c.window;
  s.ggml_numerics = c.ggml;
  const std::int64_t qd = s.n_head * s.head_dim, kvd = s.n_head_kv * s.head_dim;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> q(static_cast<std::size_t>(s.T * qd)), k(static_cast<std::size_t>(s.T * kvd)), v(k.size());
  for (auto* x : {&q, &k, &v})
    for (auto& e : *x) e = nd(rng);
  std::vector<float> whole(q.size());
  causal_attention(q.data(), k.data(), v.data(), whole.data(), s, 2);

  const std::int64_t cap = 40;  // room for 3 more positions: padding must not matter
  std::vector<float> kc(static_cast<std::size_t>(cap * kvd), 0.0f), vc(kc.size(), 0.0f);
  const KvView kv{kc.data(), vc.data(), cap};
  std::vector<float> pieces(q.size());
  std::int64_t past = 0;
  for (std::int64_t n : {5, 1, 13, 1, 17}) {
    AttentionShape p = s;
    p.T = n;
    p.past = past;
    store_kv(kv, k.data() + past * kvd, v.data() + past * kvd, p);
    attention_cached(q.data() + past * qd, kv, pieces.data() + past * qd, p, 1);
    past += n;
  }
  ASSERT_EQ(past, s.T);

  double vmax = 0;
  for (float e : v) vmax = std::max(vmax, std::fabs(static_cast<double>(e)));
  // Each p.v output is a sum over at most T keys with weights summing to 1, taken by
  // gemm_f32_nt with 8 lanes and a fold: |error| <= (T/8 + 4) u sum|p v| <= (T/8 + 4) u
  // max|v| per computation (plus u for p's own rounding), twice for the difference.
  const double u = 0x1p-24, bound = 2.0 * (static_cast<double>(s.T) / 8 + 5) * u * vmax;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (c.ggml)
      ASSERT_EQ(pieces[i], whole[i]) << "output " << i;
    else
      ASSERT_LE(std::fabs(static_cast<double>(pieces[i]) - whole[i]), bound) << "output " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Numerics, AttentionCached,
                         ::testing::Values(Case{true, 0}, Case{true, 7}, Case{false, 0}, Case{false, 7}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.ggml ? "Ggml" : "Fp32") + (i.param.window ? "Window" : "Full");
                         });

TEST(AttentionCachedErrors, PositionsPastTheCapacityAreRefused) {
  AttentionShape s;
  s.T = 3;
  s.past = 6;
  s.n_head = 2;
  s.n_head_kv = 1;
  s.head_dim = 8;
  std::vector<float> kc(8 * 8, 0.0f), vc(kc.size(), 0.0f), k(3 * 8, 1.0f), q(3 * 16, 1.0f), out(q.size());
  const KvView kv{kc.data(), vc.data(), 8};
  EXPECT_THROW(store_kv(kv, k.data(), k.data(), s), Error);
  EXPECT_THROW(attention_cached(q.data(), kv, out.data(), s, 1), Error);
}
