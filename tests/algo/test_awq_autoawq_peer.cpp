// lowbit's AWQ pieces against AutoAWQ's own methods (PyPI autoawq 0.2.9, run at test time
// on torch's CPU by tests/peers/algo_awq_autoawq.py): the group quantizer, the alpha grid
// search on a SwiGLU MLP (gate/up scaled, the MLP output inspected) and the per-group clip
// search. AutoAWQ sums in fp32 and lowbit in double, so a loss tie could break the other
// way; the bars are the same alpha (or a tie within 1e-4 of the loss, which fp32 sums
// cannot order) and >= 99 % identical clip values.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lowbit/awq.h"
#include "support/files.h"
#include "support/peer.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

using lowbit::testing::read_raw;
using lowbit::testing::write_raw;

// Activations with a few channels 10-30x larger than the rest: the salient channels AWQ
// protects.
std::vector<float> activations(std::int64_t n, std::int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> d;
  std::vector<float> x(static_cast<std::size_t>(n * cols));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < cols; ++c)
      x[static_cast<std::size_t>(i * cols + c)] = d(rng) * (c % 29 == 3 ? 10.0f + static_cast<float>(c % 5) * 5 : 1.0f);
  return x;
}

std::vector<float> weights(std::int64_t rows, std::int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> d;
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (auto& v : w) v = 0.05f * d(rng);
  return w;
}

// y = x W^T in double, then rounded like a float matmul.
std::vector<float> matmul(const std::vector<float>& x, std::int64_t n, const std::vector<float>& w, std::int64_t rows,
                          std::int64_t cols) {
  std::vector<float> y(static_cast<std::size_t>(n * rows));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (std::int64_t c = 0; c < cols; ++c)
        s += static_cast<double>(x[static_cast<std::size_t>(i * cols + c)]) * w[static_cast<std::size_t>(r * cols + c)];
      y[static_cast<std::size_t>(i * rows + r)] = static_cast<float>(s);
    }
  return y;
}

std::vector<float> mlp(const std::vector<float>& x, std::int64_t n, std::int64_t cols, std::int64_t ff,
                       const std::vector<float>& gate, const std::vector<float>& up, const std::vector<float>& down) {
  auto g = matmul(x, n, gate, ff, cols);
  const auto u = matmul(x, n, up, ff, cols);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  return matmul(g, n, down, cols, ff);
}

std::vector<double> second_moment(const std::vector<float>& x, std::int64_t n, std::int64_t cols) {
  std::vector<double> h(static_cast<std::size_t>(cols * cols), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t a = 0; a < cols; ++a)
      for (std::int64_t b = 0; b < cols; ++b)
        h[static_cast<std::size_t>(a * cols + b)] +=
            static_cast<double>(x[static_cast<std::size_t>(i * cols + a)]) * x[static_cast<std::size_t>(i * cols + b)];
  for (auto& v : h) v /= static_cast<double>(n);
  return h;
}

struct Case {
  const char* name;
  int bits;
  std::int64_t group;
  bool sym, duo;
};

class PeerAwqAutoAwq : public ::testing::TestWithParam<Case> {};

std::vector<std::string> common(const Case& c) {
  std::vector<std::string> a = {"--bits", std::to_string(c.bits), "--group", std::to_string(c.group)};
  if (c.sym) a.push_back("--sym");
  if (!c.duo) a.push_back("--no-duo");
  return a;
}

AwqOptions options(const Case& c) {
  AwqOptions o;
  o.bits = c.bits;
  o.group_size = c.group;
  o.zero_point = !c.sym;
  o.duo_scaling = c.duo;
  return o;
}

TEST_P(PeerAwqAutoAwq, GroupQuantizerMatches) {
  const Case c = GetParam();
  const std::int64_t rows = 64, cols = 256;
  std::mt19937 rng(7);
  const auto w = weights(rows, cols, rng);
  const fs::path dir = lowbit::testing::scratch_dir();
  write_raw(dir / "w.f32", w);
  auto args = common(c);
  args.insert(args.begin(), {"quant", "--w", (dir / "w.f32").string(), "--rows", std::to_string(rows), "--cols",
                             std::to_string(cols), "--out", (dir / "p").string()});
  lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "algo_awq_autoawq.py", args);
  const auto r = awq_quantize(w, rows, cols, options(c));
  EXPECT_EQ(read_raw<float>(dir / "p.q.f32"), r.dequantized);
  EXPECT_EQ(read_raw<float>(dir / "p.scale.f32"), r.scales);
  if (!c.sym) {
    EXPECT_EQ(read_raw<float>(dir / "p.zero.f32"), r.zeros);
  }
}

TEST_P(PeerAwqAutoAwq, ScaleSearchPicksTheSameAlpha) {
  const Case c = GetParam();
  const std::int64_t n = 256, cols = 128, ff = 256;
  std::mt19937 rng(11);
  const auto x = activations(n, cols, rng);
  const auto gate = weights(ff, cols, rng), up = weights(ff, cols, rng), down = weights(cols, ff, rng);
  const fs::path dir = lowbit::testing::scratch_dir();
  write_raw(dir / "x.f32", x);
  write_raw(dir / "g.f32", gate);
  write_raw(dir / "u.f32", up);
  write_raw(dir / "d.f32", down);
  auto args = common(c);
  args.insert(args.begin(), {"scale", "--x", (dir / "x.f32").string(), "--n", std::to_string(n), "--cols",
                             std::to_string(cols), "--ff", std::to_string(ff), "--gate", (dir / "g.f32").string(),
                             "--up", (dir / "u.f32").string(), "--down", (dir / "d.f32").string(), "--out",
                             (dir / "p").string()});
  lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "algo_awq_autoawq.py", args);
  const auto peer = read_raw<float>(dir / "p.scales.f32");

  const AwqOptions o = options(c);
  std::vector<float> x_mean(static_cast<std::size_t>(cols), 0.0f);
  for (std::int64_t c2 = 0; c2 < cols; ++c2) {
    float s = 0;  // AutoAWQ's fp32 column sum
    for (std::int64_t i = 0; i < n; ++i) s += std::fabs(x[static_cast<std::size_t>(i * cols + c2)]);
    x_mean[static_cast<std::size_t>(c2)] = s / static_cast<float>(n);
  }
  const auto w_mean = awq_weight_mean({gate, up}, cols, c.group);
  const auto ref = mlp(x, n, cols, ff, gate, up, down);
  const auto search = awq_search_scales(x_mean, w_mean, o, [&](std::span<const float> s) {
    const auto out = mlp(x, n, cols, ff, awq_fake_quantize_scaled(gate, ff, cols, s, o),
                         awq_fake_quantize_scaled(up, ff, cols, s, o), down);
    double e = 0;
    for (std::size_t i = 0; i < out.size(); ++i) e += (static_cast<double>(out[i]) - ref[i]) * (static_cast<double>(out[i]) - ref[i]);
    return e / static_cast<double>(out.size());
  });
  ASSERT_EQ(peer.size(), search.scales.size());
  // Which alpha AutoAWQ chose: the candidate its scales equal (to fp32 rounding).
  int peer_alpha = -1;
  for (int a = 0; a < o.n_grid && peer_alpha < 0; ++a) {
    const auto cand = awq_candidate_scales(x_mean, w_mean, static_cast<float>(a) / static_cast<float>(o.n_grid), o.duo_scaling);
    double max_rel = 0;
    for (std::size_t i = 0; i < peer.size(); ++i) max_rel = std::max(max_rel, std::fabs(double(peer[i]) / cand[i] - 1));
    if (max_rel < 1e-5) peer_alpha = a;
  }
  ASSERT_GE(peer_alpha, 0) << "AutoAWQ's scales are none of the 20 candidates";
  const double mine = search.losses[static_cast<std::size_t>(search.best)];
  const double theirs = search.losses[static_cast<std::size_t>(peer_alpha)];
  std::printf("%s: alpha lowbit %d/20 AutoAWQ %d/20, output MSE %.6g vs %.6g (alpha 0: %.6g)\n", c.name, search.best,
              peer_alpha, mine, theirs, search.losses[0]);
  // The same alpha, or a tie closer than AutoAWQ's fp32 loss sum can tell apart.
  if (peer_alpha != search.best) {
    EXPECT_LT(theirs - mine, 1e-4 * mine);
  }
}

TEST_P(PeerAwqAutoAwq, ClipSearchMatches) {
  const Case c = GetParam();
  const std::int64_t n = 512, rows = 128, cols = 256;
  std::mt19937 rng(13);
  const auto x = activations(n, cols, rng);
  auto w = weights(rows, cols, rng);
  for (std::size_t i = 0; i < w.size(); i += 97) w[i] *= 6.0f;  // outlier weights worth clipping
  const fs::path dir = lowbit::testing::scratch_dir();
  write_raw(dir / "x.f32", x);
  write_raw(dir / "w.f32", w);
  auto args = common(c);
  args.insert(args.begin(), {"clip", "--w", (dir / "w.f32").string(), "--x", (dir / "x.f32").string(), "--n",
                             std::to_string(n), "--rows", std::to_string(rows), "--cols", std::to_string(cols),
                             "--out", (dir / "p").string()});
  lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "algo_awq_autoawq.py", args);
  const auto peer = read_raw<float>(dir / "p.max.f32");
  const auto mine = awq_search_clip(w, rows, cols, second_moment(x, n, cols), options(c), 2);
  ASSERT_EQ(peer.size(), mine.size());
  std::size_t same = 0, clipped = 0;
  for (std::size_t i = 0; i < peer.size(); ++i) same += peer[i] == mine[i];
  for (std::size_t i = 0; i < mine.size(); ++i) {
    float mx = 0;
    const std::int64_t g = c.group, groups = cols / g, r = static_cast<std::int64_t>(i) / groups, gi = static_cast<std::int64_t>(i) % groups;
    for (std::int64_t j = 0; j < g; ++j) mx = std::max(mx, std::fabs(w[static_cast<std::size_t>(r * cols + gi * g + j)]));
    clipped += mine[i] < mx;
  }
  std::printf("%s: %zu/%zu clip values identical, %zu groups clipped\n", c.name, same, peer.size(), clipped);
  EXPECT_GE(static_cast<double>(same), 0.99 * static_cast<double>(peer.size()));
  EXPECT_GT(clipped, 0u);
}

INSTANTIATE_TEST_SUITE_P(PeerAll, PeerAwqAutoAwq,
                         ::testing::Values(Case{"w4_g128_asym_duo", 4, 128, false, true},
                                           Case{"w3_g128_asym_duo", 3, 128, false, true},
                                           Case{"w4_g64_sym_duo", 4, 64, true, true},
                                           Case{"w4_g128_asym_xonly", 4, 128, false, false},
                                           Case{"w2_g64_asym_duo", 2, 64, false, true}),
                         [](const auto& i) { return std::string(i.param.name); });

}  // namespace
