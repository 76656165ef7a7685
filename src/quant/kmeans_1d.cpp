// Weighted 1-D k-means for codebook quantization: exact optimal init by dynamic
// programming over sorted values (Wang & Song 2011, Ckmeans.1d.dp; divide-and-conquer
// layers as in Grønlund et al. 2017), or greedy k-means++ (Arthur & Vassilvitskii 2007),
// then Lloyd (1982) iterations that use sortedness: clusters are index ranges.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <queue>
#include <utility>

#include "lowbit/codebook.h"
#include "lowbit/error.h"

namespace lowbit {
namespace {

// Distinct positive-weight values, ascending, with their summed weights. Clustering
// these is equivalent to clustering the raw points and makes the DP exact on repeats.
struct Points {
  std::vector<float> v;
  std::vector<double> w;
};

// Maps finite floats to unsigned ints in the same order (-0 and +0 to the same key).
std::uint32_t order_bits(float f) {
  if (f == 0.0f) f = 0.0f;
  const auto b = std::bit_cast<std::uint32_t>(f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

Points prepare(std::span<const float> x, std::span<const float> weights) {
  if (x.empty()) fail("kmeans_1d: empty input");
  if (!weights.empty() && weights.size() != x.size())
    fail("kmeans_1d: ", x.size(), " values but ", weights.size(), " weights");
  if (x.size() > std::numeric_limits<std::uint32_t>::max()) fail("kmeans_1d: slice too long (", x.size(), ")");
  bool any_positive = weights.empty();
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) fail("kmeans_1d: x[", i, "] is ", x[i]);
    if (!weights.empty()) {
      if (!std::isfinite(weights[i]) || weights[i] < 0.0f)
        fail("kmeans_1d: weights[", i, "] is ", weights[i], " (must be finite and >= 0)");
      any_positive |= weights[i] > 0.0f;
    }
  }
  // With no positive weight every codebook has SSE 0; the unweighted one is the useful one.
  const bool use_w = !weights.empty() && any_positive;
  // Sort keys (order-preserving value bits, index): a total order, so the merged weights
  // are summed in the same order whatever sort algorithm the standard library uses; one
  // integer compare per step instead of a float compare plus a tie-break.
  std::vector<std::uint64_t> keys;
  keys.reserve(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!use_w || weights[i] > 0.0f) keys.push_back(std::uint64_t{order_bits(x[i])} << 32 | i);
  std::sort(keys.begin(), keys.end());
  Points p;
  p.v.reserve(keys.size());
  p.w.reserve(keys.size());
  std::uint32_t last_bits = 0;
  for (const std::uint64_t key : keys) {
    const std::uint32_t bits = static_cast<std::uint32_t>(key >> 32);
    const std::size_t i = static_cast<std::uint32_t>(key);
    const double w = use_w ? static_cast<double>(weights[i]) : 1.0;
    if (!p.v.empty() && bits == last_bits) {
      p.w.back() += w;
    } else {
      p.v.push_back(x[i] == 0.0f ? 0.0f : x[i]);
      p.w.push_back(w);
      last_bits = bits;
    }
  }
  return p;
}

// Prefix sums of w, w*y, w*y^2 with y = value - ref: shifting by a central value keeps
// the cost S2 - S1^2/S0 from cancelling catastrophically on data far from 0.
struct Prefix {
  double ref = 0.0;
  std::vector<double> s0, s1, s2;
  template <typename V>
  Prefix(const std::vector<V>& v, const std::vector<double>& w) : ref(v[v.size() / 2]) {
    const std::size_t m = v.size();
    s0.assign(m + 1, 0.0);
    s1.assign(m + 1, 0.0);
    s2.assign(m + 1, 0.0);
    for (std::size_t i = 0; i < m; ++i) {
      const double y = static_cast<double>(v[i]) - ref;
      s0[i + 1] = s0[i] + w[i];
      s1[i + 1] = s1[i] + w[i] * y;
      s2[i + 1] = s2[i] + w[i] * y * y;
    }
  }
  // Weighted SSE of points [a, b) around their mean.
  double cost(std::size_t a, std::size_t b) const {
    const double W = s0[b] - s0[a];
    if (W <= 0.0) return 0.0;
    const double S = s1[b] - s1[a];
    return std::max(0.0, (s2[b] - s2[a]) - S * S / W);
  }
  double mean(std::size_t a, std::size_t b) const { return ref + (s1[b] - s1[a]) / (s0[b] - s0[a]); }
};

// Exact weighted optimal k-means of m sorted points (k <= m): returns the k cluster
// means. D[j][i] = min_t D[j-1][t] + cost(t, i); the smallest optimal t is monotone in i
// (the SSE cost obeys the quadrangle inequality), so each layer is solved by divide and
// conquer in O(m log m) instead of O(m^2).
std::vector<double> optimal_means(const std::vector<double>& v, const std::vector<double>& w, int k) {
  const std::size_t m = v.size();
  const std::size_t kk = static_cast<std::size_t>(k);
  const Prefix pre(v, w);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> prev(m + 1, inf), cur(m + 1, inf), vals(m + 1);
  std::vector<std::uint32_t> arg(kk * (m + 1), 0);
  for (std::size_t i = 1; i <= m; ++i) prev[i] = pre.cost(0, i);
  struct Task {
    std::size_t lo, hi, olo, ohi;  // fill i in [lo, hi]; its argmin lies in [olo, ohi]
  };
  std::vector<Task> stack;
  for (std::size_t j = 2; j <= kk; ++j) {
    std::uint32_t* T = arg.data() + (j - 1) * (m + 1);
    // Layer j only needs the prefixes that leave a point for each later cluster, and the
    // last layer only needs all m points: this trims the work for small slices.
    const std::size_t lo = j == kk ? m : j, hi = m - (kk - j);
    stack.assign(1, Task{lo, hi, j - 1, hi - 1});
    while (!stack.empty()) {
      const Task t = stack.back();
      stack.pop_back();
      if (t.lo > t.hi) continue;
      const std::size_t mid = t.lo + (t.hi - t.lo) / 2;
      const std::size_t first = std::max(t.olo, j - 1), last = std::min(t.ohi, mid - 1);
      // Candidates first, without branches (vectorisable, every weight is > 0), then
      // the first minimum: the smallest argmin is the one that is monotone in mid.
      const double W1 = pre.s0[mid], S1 = pre.s1[mid], Q1 = pre.s2[mid];
      for (std::size_t s = first; s <= last; ++s) {
        const double W = W1 - pre.s0[s], S = S1 - pre.s1[s];
        vals[s] = prev[s] + std::max(0.0, (Q1 - pre.s2[s]) - S * S / W);
      }
      double best = vals[first];
      std::size_t bt = first;
      for (std::size_t s = first + 1; s <= last; ++s) {
        if (vals[s] < best) {
          best = vals[s];
          bt = s;
        }
      }
      cur[mid] = best;
      T[mid] = static_cast<std::uint32_t>(bt);
      if (mid > t.lo) stack.push_back({t.lo, mid - 1, t.olo, bt});
      stack.push_back({mid + 1, t.hi, bt, t.ohi});
    }
    std::swap(prev, cur);
  }
  std::vector<double> means(kk);
  std::size_t end = m;
  for (std::size_t j = kk; j >= 1; --j) {
    const std::size_t start = j == 1 ? 0 : arg[(j - 1) * (m + 1) + end];
    means[j - 1] = pre.mean(start, end);
    end = start;
  }
  return means;
}

// Reduces the distinct points to exactly `bins` contiguous bins, each represented by its
// total weight and mean, by greedily merging the adjacent pair whose merge adds the
// least SSE (Ward's criterion, W_a W_b / (W_a + W_b) (m_a - m_b)^2). Equal-weight bins
// would lump a row's few outliers with their neighbours, and the DP, exact only for
// partitions that do not split a bin, could then never give an outlier its own
// centroid; Ward merging keeps isolated points apart because merging them is costly.
// O(u log u) with a heap of candidate pairs; ties break on position, so it is deterministic.
void make_bins(const Points& p, std::size_t bins, std::vector<double>& bv, std::vector<double>& bw) {
  const std::size_t u = p.v.size();
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::vector<double> W(p.w.begin(), p.w.end()), M(u);
  std::vector<std::size_t> next(u), prev(u);
  std::vector<std::uint32_t> version(u, 0);
  for (std::size_t i = 0; i < u; ++i) {
    M[i] = static_cast<double>(p.v[i]);
    next[i] = i + 1 < u ? i + 1 : kNone;
    prev[i] = i == 0 ? kNone : i - 1;
  }
  struct Cand {
    double cost;
    std::size_t a, b;
    std::uint32_t va, vb;
    bool operator>(const Cand& o) const { return cost != o.cost ? cost > o.cost : a > o.a; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](std::size_t a, std::size_t b) {
    const double d = M[a] - M[b];
    heap.push({W[a] * W[b] / (W[a] + W[b]) * d * d, a, b, version[a], version[b]});
  };
  for (std::size_t i = 0; i + 1 < u; ++i) push(i, i + 1);
  std::size_t live = u;
  while (live > bins && !heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    if (version[c.a] != c.va || version[c.b] != c.vb || next[c.a] != c.b) continue;  // stale
    const std::size_t a = c.a, b = c.b;
    M[a] = (W[a] * M[a] + W[b] * M[b]) / (W[a] + W[b]);
    W[a] += W[b];
    next[a] = next[b];
    if (next[b] != kNone) prev[next[b]] = a;
    ++version[a];
    ++version[b];  // b is gone: every pair naming it is stale
    --live;
    if (prev[a] != kNone) push(prev[a], a);
    if (next[a] != kNone) push(a, next[a]);
  }
  bv.clear();
  bw.clear();
  for (std::size_t i = 0; i != kNone; i = next[i]) {
    bv.push_back(M[i]);
    bw.push_back(W[i]);
  }
}

// xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64: a fixed, portable
// stream, unlike std::*_distribution whose output is implementation-defined.
class Xoshiro256 {
 public:
  explicit Xoshiro256(std::uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  std::uint64_t next() {
    const std::uint64_t r = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// Index i drawn with probability mass[i] / sum(mass); only points with mass > 0 can win.
std::size_t sample(const std::vector<double>& mass, double total, Xoshiro256& rng) {
  const double target = rng.uniform() * total;
  double acc = 0.0;
  std::size_t last_positive = 0;
  for (std::size_t i = 0; i < mass.size(); ++i) {
    if (mass[i] <= 0.0) continue;
    acc += mass[i];
    last_positive = i;
    if (acc > target) return i;
  }
  return last_positive;  // rounding left target just past the running sum
}

// Greedy k-means++ on the distinct points (u > k): each step draws 2 + floor(ln k)
// candidates by weighted D^2 and keeps the one that lowers the potential most, the
// variant scikit-learn uses because plain k-means++ is noticeably worse in practice.
std::vector<float> plusplus(const Points& p, int k, std::uint64_t seed) {
  const std::size_t u = p.v.size();
  Xoshiro256 rng(seed);
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  std::vector<float> centers;
  centers.reserve(static_cast<std::size_t>(k));
  double wsum = 0.0;
  for (double w : p.w) wsum += w;
  centers.push_back(p.v[sample(p.w, wsum, rng)]);
  std::vector<double> d2(u), mass(u), cand_d2(u), best_d2(u);
  double pot = 0.0;
  for (std::size_t i = 0; i < u; ++i) {
    const double d = static_cast<double>(p.v[i]) - centers[0];
    d2[i] = d * d;
    mass[i] = p.w[i] * d2[i];
    pot += mass[i];
  }
  while (centers.size() < static_cast<std::size_t>(k)) {
    double best_pot = std::numeric_limits<double>::infinity();
    float best_c = 0.0f;
    for (int t = 0; t < trials; ++t) {
      const float c = p.v[sample(mass, pot, rng)];
      double cp = 0.0;
      for (std::size_t i = 0; i < u; ++i) {
        const double d = static_cast<double>(p.v[i]) - c;
        cand_d2[i] = std::min(d2[i], d * d);
        cp += p.w[i] * cand_d2[i];
      }
      if (cp < best_pot) {
        best_pot = cp;
        best_c = c;
        std::swap(best_d2, cand_d2);
      }
    }
    centers.push_back(best_c);
    std::swap(d2, best_d2);
    pot = 0.0;
    for (std::size_t i = 0; i < u; ++i) {
      mass[i] = p.w[i] * d2[i];
      pot += mass[i];
    }
  }
  std::sort(centers.begin(), centers.end());
  return centers;
}

// Lloyd on sorted distinct points: the assignment step is k - 1 binary searches for the
// midpoints (the rule assign_nearest uses), the update step reads cluster means off the
// prefix sums, so an iteration costs O(k log u) regardless of the slice length.
void lloyd(const Points& p, std::vector<float>& c, int max_iters, KMeansResult& r) {
  const Prefix pre(p.v, p.w);
  const std::size_t k = c.size();
  std::vector<float> next(k);
  std::vector<std::size_t> end(k);
  for (int it = 0; it < max_iters; ++it) {
    for (std::size_t j = 0; j + 1 < k; ++j) {
      const double mid = codebook_midpoint(c[j], c[j + 1]);
      end[j] = static_cast<std::size_t>(
          std::upper_bound(p.v.begin(), p.v.end(), mid, [](double m, float v) { return m < v; }) - p.v.begin());
    }
    end[k - 1] = p.v.size();
    std::size_t begin = 0;
    for (std::size_t j = 0; j < k; ++j) {
      // An empty cluster keeps its centroid (see the header for why).
      next[j] = end[j] > begin ? static_cast<float>(pre.mean(begin, end[j])) : c[j];
      begin = std::max(begin, end[j]);
    }
    ++r.iterations;
    if (next == c) {
      r.converged = true;
      break;
    }
    c.swap(next);
  }
  // Means of ordered ranges are ordered and rounding is monotone; sorting is a guard only.
  std::sort(c.begin(), c.end());
}

// Weighted SSE of the distinct points under the midpoint assignment rule.
double points_sse(const Points& p, const std::vector<float>& c) {
  double sse = 0.0;
  std::size_t j = 0;
  for (std::size_t i = 0; i < p.v.size(); ++i) {
    while (j + 1 < c.size() && codebook_midpoint(c[j], c[j + 1]) < p.v[i]) ++j;
    const double d = static_cast<double>(p.v[i]) - c[j];
    sse += p.w[i] * d * d;
  }
  return sse;
}

}  // namespace

KMeansResult kmeans_1d_ex(std::span<const float> x, std::span<const float> weights, const KMeansOptions& o) {
  if (o.k < 1 || o.k > kMaxCodebookSize) fail("kmeans_1d: k = ", o.k, " (must be 1..", kMaxCodebookSize, ")");
  if (o.max_iters < 0) fail("kmeans_1d: max_iters = ", o.max_iters, " (must be >= 0)");
  if (o.dp_bins < 1) fail("kmeans_1d: dp_bins = ", o.dp_bins, " (must be >= 1)");
  if (o.n_init < 1) fail("kmeans_1d: n_init = ", o.n_init, " (must be >= 1)");
  const Points p = prepare(x, weights);
  const std::size_t k = static_cast<std::size_t>(o.k);
  KMeansResult r;
  if (p.v.size() <= k) {
    // Every distinct value gets its own centroid: SSE is 0, nothing to optimise.
    r.centroids = p.v;
    r.centroids.resize(k, p.v.back());
    r.converged = true;
    return r;
  }
  if (o.init == KMeansInit::PlusPlus) {
    // Run r draws from its own stream, seeded from the r-th output of the master stream,
    // so adding runs never changes the earlier ones.
    Xoshiro256 seeds(o.seed);
    double best = std::numeric_limits<double>::infinity();
    for (int run = 0; run < o.n_init; ++run) {
      KMeansResult t;
      t.centroids = plusplus(p, o.k, seeds.next());
      lloyd(p, t.centroids, o.max_iters, t);
      const double sse = points_sse(p, t.centroids);
      if (sse < best) {  // ties keep the earlier run
        best = sse;
        r = std::move(t);
      }
    }
    return r;
  }
  // At least k bins so the DP can still place k clusters when dp_bins < k.
  const std::size_t bins = std::max(static_cast<std::size_t>(o.dp_bins), k);
  std::vector<double> bv, bw;
  if (p.v.size() <= bins) {
    bv.assign(p.v.begin(), p.v.end());
    bw = p.w;
  } else {
    make_bins(p, bins, bv, bw);
  }
  const std::vector<double> means = optimal_means(bv, bw, o.k);
  r.centroids.resize(k);
  for (std::size_t j = 0; j < k; ++j) r.centroids[j] = static_cast<float>(means[j]);
  lloyd(p, r.centroids, o.max_iters, r);
  return r;
}

std::vector<float> kmeans_1d(std::span<const float> x, std::span<const float> weights, const KMeansOptions& o) {
  return kmeans_1d_ex(x, weights, o).centroids;
}

}  // namespace lowbit
