// Weighted 1-D k-means: the DP init is the exact optimum (Wang & Song 2011), checked by
// enumerating every contiguous partition; Lloyd (1982) ends at a fixed point and never
// raises the SSE; results are bit-deterministic; and scikit-learn's KMeans (k-means++,
// Arthur & Vassilvitskii 2007, n_init=10) is never better, computed at test time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "lowbit/codebook.h"
#include "lowbit/error.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

struct Slice {
  std::vector<float> x, w;
};

// Small weighted sets with repeats (and occasionally zero weights), at assorted scales.
Slice small_set(std::mt19937_64& rng, std::size_t n) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), uw(0.1f, 3.0f), u01(0.0f, 1.0f);
  const float scale = std::ldexp(1.0f, static_cast<int>(rng() % 13) - 6);
  const bool weighted = rng() % 3 != 0;
  Slice s;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0 && u01(rng) < 0.3f) s.x.push_back(s.x[rng() % i]);
    else s.x.push_back(u(rng) * scale);
    float w = weighted ? uw(rng) : 1.0f;
    if (weighted && u01(rng) < 0.1f) w = 0.0f;
    s.w.push_back(w);
  }
  return s;
}

Slice gaussian(std::size_t n, std::uint32_t seed, bool weighted, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::uniform_real_distribution<float> uw(0.05f, 2.0f);
  Slice s;
  for (std::size_t i = 0; i < n; ++i) {
    s.x.push_back(d(rng));
    s.w.push_back(weighted ? uw(rng) : 1.0f);
  }
  return s;
}

// Every way to cut the sorted points into k contiguous nonempty groups: optimal 1-D
// clusters are contiguous, so the minimum over these is the global optimum.
void enumerate(const std::vector<std::pair<float, float>>& p, std::size_t k, std::vector<std::size_t>& cuts,
               std::size_t from, std::vector<std::pair<long double, std::vector<long double>>>& out) {
  if (cuts.size() + 1 == k) {
    long double sse = 0;
    std::vector<long double> means;
    std::size_t a = 0;
    for (std::size_t g = 0; g < k; ++g) {
      const std::size_t b = g + 1 < k ? cuts[g] : p.size();
      long double W = 0, S = 0;
      for (std::size_t i = a; i < b; ++i) {
        W += p[i].second;
        S += static_cast<long double>(p[i].second) * p[i].first;
      }
      const long double m = W > 0 ? S / W : p[a].first;
      for (std::size_t i = a; i < b; ++i) sse += p[i].second * (p[i].first - m) * (p[i].first - m);
      means.push_back(m);
      a = b;
    }
    out.emplace_back(sse, std::move(means));
    return;
  }
  for (std::size_t c = from; c < p.size(); ++c) {
    cuts.push_back(c);
    enumerate(p, k, cuts, c + 1, out);
    cuts.pop_back();
  }
}

double max_abs(const std::vector<float>& x) {
  double m = 0;
  for (float v : x) m = std::max(m, std::fabs(static_cast<double>(v)));
  return m;
}

void write(const std::filesystem::path& p, const std::vector<float>& v) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}

std::size_t distinct_positive(const Slice& s) {
  std::vector<float> v;
  bool any = false;
  for (float w : s.w) any |= w > 0;
  for (std::size_t i = 0; i < s.x.size(); ++i)
    if (!any || s.w[i] > 0) v.push_back(s.x[i]);
  std::sort(v.begin(), v.end());
  return static_cast<std::size_t>(std::unique(v.begin(), v.end()) - v.begin());
}

}  // namespace

TEST(KMeans1D, DPIsOptimalByExhaustiveEnumeration) {
  std::mt19937_64 rng(2011);
  int exact_checked = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const std::size_t n = 1 + rng() % 12;
    const Slice s = small_set(rng, n);
    std::vector<std::pair<float, float>> p;
    for (std::size_t i = 0; i < n; ++i) p.emplace_back(s.x[i], s.w[i]);
    std::sort(p.begin(), p.end());
    double W = 0;
    for (float w : s.w) W += w;
    const bool all_zero = W == 0;
    if (all_zero)  // documented: weights are then ignored
      for (auto& q : p) q.second = 1.0f;
    if (all_zero) W = static_cast<double>(n);
    for (std::size_t k = 1; k <= std::min<std::size_t>(4, n); ++k) {
      std::vector<std::pair<long double, std::vector<long double>>> parts;
      std::vector<std::size_t> cuts;
      enumerate(p, k, cuts, 1, parts);
      long double opt = INFINITY;
      for (const auto& q : parts) opt = std::min(opt, q.first);
      // Derived tolerance: each centroid is its cluster mean rounded to float, which adds
      // W_j * delta_j^2 with |delta_j| <= FLT_EPSILON/2 * max|x|; the DP compares costs
      // from double prefix sums whose rounding is a few n * DBL_EPSILON * W * (2 max|x|)^2.
      const double mx = max_abs(s.x);
      const double tol = W * std::pow(FLT_EPSILON / 2 * mx, 2) + 8.0 * n * DBL_EPSILON * 4 * W * mx * mx;
      for (int iters : {0, 100}) {
        KMeansOptions o;
        o.k = static_cast<int>(k);
        o.max_iters = iters;
        o.dp_bins = static_cast<int>(n);  // n <= dp_bins: the DP sees every point
        const auto c = kmeans_1d(s.x, s.w, o);
        ASSERT_EQ(c.size(), k);
        ASSERT_TRUE(std::is_sorted(c.begin(), c.end()));
        const double sse = codebook_sse(c, s.x, all_zero ? std::span<const float>{} : std::span<const float>(s.w));
        ASSERT_GE(sse, static_cast<double>(opt) - tol) << "trial " << trial << " k " << k;
        ASSERT_LE(sse, static_cast<double>(opt) + tol) << "trial " << trial << " k " << k << " n " << n;
        // Exactly the optimum: the centroids are the (float-rounded) means of an optimal
        // partition; prefix sums may move a mean by a double rounding, so allow one ulp.
        if (iters == 0 && distinct_positive(s) >= k) {
          bool found = false;
          for (const auto& q : parts) {
            if (q.first > opt + tol) continue;
            bool all = true;
            for (std::size_t j = 0; j < k && all; ++j) {
              const float m = static_cast<float>(q.second[j]);
              all = std::fabs(c[j] - m) <= std::nextafter(std::fabs(m), INFINITY) - std::fabs(m);
            }
            found |= all;
          }
          EXPECT_TRUE(found) << "trial " << trial << " k " << k << ": centroids are not an optimal partition's means";
          ++exact_checked;
        }
      }
    }
  }
  EXPECT_GT(exact_checked, 300);
}

TEST(KMeans1D, FewerDistinctValuesThanKArePaddedWithTheLargest) {
  const std::vector<float> x = {3.0f, -1.0f, 3.0f, 2.0f, -1.0f};
  for (auto init : {KMeansInit::Optimal1D, KMeansInit::PlusPlus}) {
    KMeansOptions o;
    o.k = 6;
    o.init = init;
    const auto c = kmeans_1d(x, {}, o);
    EXPECT_EQ(c, (std::vector<float>{-1.0f, 2.0f, 3.0f, 3.0f, 3.0f, 3.0f}));
    std::vector<std::uint8_t> idx(x.size());
    assign_nearest(c, x, idx);
    for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(c[idx[i]], x[i]);
    EXPECT_EQ(codebook_sse(c, x, {}), 0.0);
  }
  // Zero-weight points do not count as values to cover.
  KMeansOptions o;
  o.k = 3;
  const std::vector<float> w = {1.0f, 1.0f, 1.0f, 0.0f, 1.0f};
  EXPECT_EQ(kmeans_1d(x, w, o), (std::vector<float>{-1.0f, 3.0f, 3.0f}));
}

TEST(KMeans1D, LloydEndsAtAFixedPoint) {
  for (auto init : {KMeansInit::Optimal1D, KMeansInit::PlusPlus}) {
    for (std::uint32_t seed : {1u, 2u, 3u}) {
      // 3000 values > dp_bins, so the DP sees bins and Lloyd has real work to do.
      const Slice s = gaussian(3000, seed, seed != 2);
      KMeansOptions o;
      o.k = 8 + static_cast<int>(seed) * 4;
      o.init = init;
      o.seed = seed;
      o.max_iters = 100000;
      const KMeansResult r = kmeans_1d_ex(s.x, s.w, o);
      ASSERT_TRUE(r.converged) << "iterations " << r.iterations;
      std::vector<std::uint8_t> idx(s.x.size());
      assign_nearest(r.centroids, s.x, idx);
      std::vector<long double> W(r.centroids.size()), S(r.centroids.size());
      for (std::size_t i = 0; i < s.x.size(); ++i) {
        // assign_nearest is nearest: no other centroid is strictly closer.
        const double d = std::fabs(static_cast<double>(s.x[i]) - r.centroids[idx[i]]);
        for (float c : r.centroids) ASSERT_LE(d, std::fabs(static_cast<double>(s.x[i]) - c));
        W[idx[i]] += s.w[i];
        S[idx[i]] += static_cast<long double>(s.w[i]) * s.x[i];
      }
      for (std::size_t j = 0; j < r.centroids.size(); ++j) {
        if (W[j] == 0) continue;
        // Prefix-sum means differ from this direct sum by a double rounding, which can
        // move the float centroid by at most one ulp.
        const float m = static_cast<float>(S[j] / W[j]);
        EXPECT_LE(std::fabs(r.centroids[j] - m), std::nextafter(std::fabs(m), INFINITY) - std::fabs(m))
            << "centroid " << j << " init " << int(init) << " seed " << seed;
      }
    }
  }
}

TEST(KMeans1D, LloydNeverRaisesTheSSE) {
  for (auto init : {KMeansInit::PlusPlus, KMeansInit::Optimal1D}) {
    const Slice s = gaussian(2000, 7, true, 0.02f);
    KMeansOptions o;
    o.k = 16;
    o.init = init;
    o.seed = 99;
    o.dp_bins = 32;  // coarse bins leave Lloyd something to improve
    double prev = INFINITY;
    int improved = 0;
    for (int t = 0; t <= 40; ++t) {
      o.max_iters = t;
      const double sse = codebook_sse(kmeans_1d(s.x, s.w, o), s.x, s.w);
      // Summation in double: relative error below n * DBL_EPSILON.
      ASSERT_LE(sse, prev * (1 + 2000 * DBL_EPSILON)) << "iteration " << t;
      improved += sse < prev;
      prev = sse;
    }
    EXPECT_GT(improved, 1);
  }
}

TEST(KMeans1D, DeterministicBitsOrderIndependentAndSeeded) {
  const Slice s = gaussian(1536, 11, true);
  auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  // Permuting the input (with its weights) must not change a bit: the data are sorted
  // by (value, index) and merged in a fixed order.
  Slice r = s;
  std::reverse(r.x.begin(), r.x.end());
  std::reverse(r.w.begin(), r.w.end());
  for (auto init : {KMeansInit::Optimal1D, KMeansInit::PlusPlus}) {
    KMeansOptions o;
    o.k = 16;
    o.init = init;
    o.seed = 5;
    const auto a = kmeans_1d(s.x, s.w, o);
    EXPECT_TRUE(same_bits(a, kmeans_1d(s.x, s.w, o)));
    if (init == KMeansInit::Optimal1D) {
      EXPECT_TRUE(same_bits(a, kmeans_1d(r.x, r.w, o)));
      o.seed = 6;  // the DP does not draw random numbers
      EXPECT_TRUE(same_bits(a, kmeans_1d(s.x, s.w, o)));
    } else {
      o.seed = 5;
      EXPECT_TRUE(same_bits(a, kmeans_1d(s.x, s.w, o)));
    }
  }
}

TEST(KMeans1D, RejectsBadInputNamingTheIndex) {
  std::vector<float> x(10, 1.0f);
  x[3] = 2.0f;
  KMeansOptions o;
  o.k = 2;
  auto msg = [&](std::span<const float> xs, std::span<const float> ws, const KMeansOptions& opt) {
    try {
      kmeans_1d(xs, ws, opt);
    } catch (const lowbit::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto bad = x;
  bad[7] = NAN;
  EXPECT_NE(msg(bad, {}, o).find("x[7]"), std::string::npos) << msg(bad, {}, o);
  bad[7] = -INFINITY;
  EXPECT_NE(msg(bad, {}, o).find("x[7]"), std::string::npos);
  std::vector<float> w(10, 1.0f);
  w[4] = -1.0f;
  EXPECT_NE(msg(x, w, o).find("weights[4]"), std::string::npos);
  w[4] = NAN;
  EXPECT_NE(msg(x, w, o).find("weights[4]"), std::string::npos);
  EXPECT_THROW(kmeans_1d(x, std::vector<float>(9, 1.0f), o), lowbit::Error);
  EXPECT_THROW(kmeans_1d({}, {}, o), lowbit::Error);
  for (int k : {0, 257}) {
    o.k = k;
    EXPECT_THROW(kmeans_1d(x, {}, o), lowbit::Error);
  }
  o.k = 2;
  o.max_iters = -1;
  EXPECT_THROW(kmeans_1d(x, {}, o), lowbit::Error);
  o.max_iters = 1;
  o.dp_bins = 0;
  EXPECT_THROW(kmeans_1d(x, {}, o), lowbit::Error);
  o.dp_bins = 512;
  o.init = KMeansInit::PlusPlus;
  o.n_init = 0;
  EXPECT_THROW(kmeans_1d(x, {}, o), lowbit::Error);
}

TEST(KMeans1D, FewerBinsThanClustersStillGivesKDistinctCentroids) {
  const Slice s = gaussian(1000, 4, true);
  KMeansOptions o;
  o.k = 8;
  o.dp_bins = 3;  // raised to k internally
  const auto c = kmeans_1d(s.x, s.w, o);
  ASSERT_EQ(c.size(), 8u);
  EXPECT_EQ(std::adjacent_find(c.begin(), c.end(), [](float a, float b) { return !(a < b); }), c.end());
  o.dp_bins = 512;
  // Refined by Lloyd, the coarse start lands within a few percent of the fine one.
  EXPECT_LE(codebook_sse(c, s.x, s.w), 1.05 * codebook_sse(kmeans_1d(s.x, s.w, o), s.x, s.w));
}

TEST(KMeans1D, AllZeroWeightsFallBackToUnweighted) {
  const Slice s = gaussian(200, 3, false);
  KMeansOptions o;
  o.k = 4;
  EXPECT_EQ(kmeans_1d(s.x, std::vector<float>(s.x.size(), 0.0f), o), kmeans_1d(s.x, {}, o));
}

TEST(PeerKMeans1DSklearn, NoWorseThanSklearnKMeans) {
  const auto dir = lowbit::testing::scratch_dir();
  struct Case {
    std::string name;
    Slice s;
    int k;
  };
  std::vector<Case> cases;
  cases.push_back({"g300k4", gaussian(300, 21, true), 4});
  cases.push_back({"g300k8", gaussian(300, 22, false), 8});
  cases.push_back({"g1536k16", gaussian(1536, 23, true), 16});
  cases.push_back({"g64k16", gaussian(64, 24, false), 16});
  cases.push_back({"g4096k16", gaussian(4096, 25, true, 0.01f), 16});  // binned DP
  {
    // Heavy tails and repeats: Laplace-like values rounded to a coarse step.
    std::mt19937 rng(26);
    std::exponential_distribution<float> e(1.0f);
    Slice s;
    for (int i = 0; i < 1000; ++i) {
      const float v = e(rng) * ((rng() & 1) ? 1.0f : -1.0f);
      s.x.push_back(std::round(v * 40.0f) / 40.0f);
      s.w.push_back(1.0f + static_cast<float>(rng() % 4));
    }
    cases.push_back({"lap1000k8", s, 8});
  }
  std::ofstream manifest(dir / "cases.txt");
  for (const auto& c : cases) {
    write(dir / (c.name + ".x.f32"), c.s.x);
    write(dir / (c.name + ".w.f32"), c.s.w);
    manifest << c.name << ' ' << c.k << '\n';
  }
  manifest.close();
  std::istringstream out(lowbit::testing::run_peer("quant_codebook_kmeans.py", {dir.string()}));
  std::map<std::string, double> sk;
  std::string name;
  double v;
  while (out >> name >> v) sk[name] = v;
  ASSERT_EQ(sk.size(), cases.size());
  for (const auto& c : cases) {
    KMeansOptions o;
    o.k = c.k;
    o.init = KMeansInit::Optimal1D;
    const double opt = codebook_sse(kmeans_1d(c.s.x, c.s.w, o), c.s.x, c.s.w);
    EXPECT_LE(opt, sk[c.name] * (1 + 1e-6)) << c.name;
    o.init = KMeansInit::PlusPlus;
    o.seed = 1;
    const double pp = codebook_sse(kmeans_1d(c.s.x, c.s.w, o), c.s.x, c.s.w);
    EXPECT_LE(pp, sk[c.name] * 1.05) << c.name;
    std::printf("%-10s k=%-3d sklearn %.9g  optimal1d %.9g  plusplus %.9g\n", c.name.c_str(), c.k, sk[c.name],
                opt, pp);
  }
}
