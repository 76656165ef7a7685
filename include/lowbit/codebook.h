// Non-uniform (codebook) quantization of one slice: weighted 1-D k-means (Lloyd 1982;
// exact DP init after Wang & Song 2011, Ckmeans.1d.dp; seeded k-means++ after Arthur &
// Vassilvitskii 2007), nearest-entry assignment, and fixed grids such as NF4 (Dettmers
// et al. 2023, QLoRA). Granularity (tensor/channel/group) is the caller's business.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace lowbit {

// Codes are stored as uint8_t, so a codebook holds 1..256 entries.
inline constexpr int kMaxCodebookSize = 256;

enum class KMeansInit : std::uint8_t {
  // Exact weighted optimal 1-D k-means by dynamic programming; slices with more than
  // dp_bins distinct values are first reduced to dp_bins weighted bins, then refined.
  Optimal1D,
  // Greedy k-means++ (weighted D^2 sampling, 2 + floor(ln k) candidates per step, as
  // scikit-learn does), driven by a seeded xoshiro256** stream; n_init runs (init +
  // Lloyd) keep the lowest SSE, since one run in 1-D often stops 5-20% above optimal.
  PlusPlus,
};

struct KMeansOptions {
  int k = 16;                                // codebook size, 1..256
  KMeansInit init = KMeansInit::Optimal1D;
  int max_iters = 100;                       // Lloyd iterations after the init (0 = init only)
  std::uint64_t seed = 0;                    // PlusPlus only
  int n_init = 10;                           // PlusPlus only: best of n_init seeded runs (>= 1)
  int dp_bins = 512;                         // Optimal1D: max distinct points the DP sees (>= 1)
};

struct KMeansResult {
  std::vector<float> centroids;  // exactly k, ascending (duplicates when < k distinct values)
  int iterations = 0;            // Lloyd iterations run
  bool converged = false;        // the last iteration left every centroid unchanged
};

// Weighted 1-D k-means of x (weights empty = all 1). Contract:
//  * Returns exactly k centroids sorted ascending. When the positive-weight points have
//    d < k distinct values the result is those d values followed by k - d copies of the
//    largest, so every code an assigner picks (ties go low) is a real value.
//  * x must be finite and weights finite and >= 0 (lowbit::Error names the index).
//    Zero-weight points are ignored; if every weight is 0 the weights are ignored.
//  * Lloyd keeps the previous centroid of a cluster that becomes empty: moving it
//    elsewhere would need a policy (split the worst cluster, ...) that 1-D rarely needs
//    after the DP init, and keeping it preserves determinism and sortedness.
//  * Deterministic: single-threaded, fixed PRNG, fixed summation order, so the same
//    input, options and seed give identical bits on any machine and thread count.
//  * Cost per call: O(n log n) sort, then O(k * b log b) for the DP on b <= dp_bins
//    points, or n_init * O(k * (2 + ln k) * u) for k-means++ on u distinct values, and
//    O(k log u) per Lloyd iteration. Slices are independent: callers parallelise over them.
KMeansResult kmeans_1d_ex(std::span<const float> x, std::span<const float> weights,
                          const KMeansOptions& options);
std::vector<float> kmeans_1d(std::span<const float> x, std::span<const float> weights,
                             const KMeansOptions& options);

// Index of the nearest entry of a sorted (non-decreasing) codebook for each x[i]:
// x goes to entry j when mid(j-1) < x <= mid(j), mid(j) = (c[j] + c[j+1]) / 2 evaluated
// in double. A point exactly between two entries therefore takes the lower index (the
// same rule bitsandbytes' NF4 thresholds use), and a run of equal entries is only ever
// reached through its first copy. kmeans_1d uses these thresholds, so its converged
// output is a fixed point of assign-then-average. NaN in x is an error naming the
// index; +-inf go to the ends.
void assign_nearest(std::span<const float> sorted_codebook, std::span<const float> x,
                    std::span<std::uint8_t> idx);
// The decision boundary between two neighbouring entries (exact for entries within a
// factor 2^29 of each other, where the float sum fits a double).
inline double codebook_midpoint(float lo, float hi) {
  return 0.5 * (static_cast<double>(lo) + static_cast<double>(hi));
}
// out[i] = codebook[idx[i]]; an index past the codebook is an error naming i.
void dequantize_codebook(std::span<const float> codebook, std::span<const std::uint8_t> idx,
                         std::span<float> out);

// Weighted SSE sum w[i] * (x[i] - c[idx(i)])^2 in double with assign_nearest's rule
// (weights empty = all 1); what kmeans_1d minimises, exposed for reports and tests.
double codebook_sse(std::span<const float> sorted_codebook, std::span<const float> x,
                     std::span<const float> weights);

// --- fixed grids, used with one absmax scale per block: x' = absmax * grid[idx] -------

// The 16 NormalFloat4 values of QLoRA (Dettmers et al. 2023, appendix E; bitsandbytes
// create_normal_map(offset=0.9677083, use_extra_value=True)), ascending, in [-1, 1].
std::span<const float> nf4_grid();

// A grid by name ("nf4"); lowbit::Error listing the known names otherwise.
std::vector<float> named_grid(std::string_view name);

// Parses "v0,v1,...": 1..256 finite decimal numbers, strictly ascending (so sorted and
// free of duplicates), blanks around entries allowed. Errors name the entry number and
// the character offset of the offending entry.
std::vector<float> parse_grid(std::string_view text);

// One absmax-scaled block (bitsandbytes' blockwise recipe): absmax = max|x|,
// idx = assign_nearest(grid, x * (1 / absmax)), returns absmax. An all-zero block gets
// absmax 0 and the codes of 0 (bitsandbytes would produce NaN there).
float quantize_absmax_grid(std::span<const float> sorted_grid, std::span<const float> x,
                           std::span<std::uint8_t> idx);
// out[i] = absmax * grid[idx[i]], in fp32.
void dequantize_absmax_grid(std::span<const float> grid, float absmax,
                            std::span<const std::uint8_t> idx, std::span<float> out);

}  // namespace lowbit
