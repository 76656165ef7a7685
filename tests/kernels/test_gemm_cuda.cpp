// lowbit's CUDA matmuls against fp64 references computed here from the codes: fresh random
// inputs per case, outputs poisoned with NaN before each run (the host wrappers), relative
// error < 1e-2 for half-precision outputs. Without a device every case skips and says why.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <utility>

#include "lowbit/bf16.h"
#include "lowbit/cuda_device.h"
#include "lowbit/cuda_gemm.h"
#include "lowbit/fp16.h"
#include "lowbit/w4a16.h"

namespace {

using lowbit::cuda::Half;

#define SKIP_WITHOUT_GPU()                                                  \
  do {                                                                      \
    std::string why_;                                                       \
    if (lowbit::cuda::device_count(&why_) == 0) GTEST_SKIP() << "no CUDA device: " << why_; \
  } while (0)

float to_float(Half t, std::uint16_t v) { return t == Half::BF16 ? lowbit::bf16_to_fp32(v) : lowbit::fp16_to_fp32(v); }
std::uint16_t from_float(Half t, float v) { return t == Half::BF16 ? lowbit::fp32_to_bf16(v) : lowbit::fp32_to_fp16(v); }

// ||y - ref|| / ||ref||, or +inf when any output is not finite (never written).
double relative_error(Half t, const std::vector<std::uint16_t>& y, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double v = to_float(t, y[i]);
    if (!std::isfinite(v)) return INFINITY;
    num += (v - ref[i]) * (v - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / den);
}

TEST(CudaGemmW4A16, MatchesFp64ReferenceOverTileAndSplitShapes) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> code(0, 15);
  std::uniform_real_distribution<float> unit(-1.f, 1.f), scale(0.002f, 0.02f);
  struct Case {
    std::int64_t n, k;
    int m;
  };
  // m <= 16 runs the kernel with weights as mma's A operand: fewer groups than warps (3),
  // groups not a multiple of the warps (9), one and two batch chunks of 8 rows, full or not.
  for (const Case c : {Case{64, 128, 1}, Case{192, 512, 5}, Case{128, 384, 8}, Case{64, 1152, 3}, Case{448, 2048, 2},
                       Case{128, 2048, 7}, Case{192, 1152, 11}, Case{128, 2048, 16}, Case{256, 1024, 17},
                       Case{64, 4096, 40}, Case{384, 2048, 40}, Case{256, 1152, 64}, Case{320, 1536, 70},
                       Case{192, 1024, 130}, Case{128, 640, 300}})
    for (const Half t : {Half::BF16, Half::F16})
      for (const bool symmetric : {true, false}) {
        const std::int64_t groups = c.k / lowbit::kernels::kW4A16Group;
        std::vector<std::uint8_t> codes(static_cast<std::size_t>(c.n * c.k)), zeros;
        std::vector<std::uint16_t> scales(static_cast<std::size_t>(c.n * groups));
        for (auto& q : codes) q = static_cast<std::uint8_t>(code(rng));
        for (auto& s : scales) s = lowbit::fp32_to_fp16(scale(rng));
        if (!symmetric) {
          zeros.resize(scales.size());
          for (auto& z : zeros) z = static_cast<std::uint8_t>(code(rng));
        }
        const auto w = lowbit::kernels::repack_w4a16(codes.data(), scales.data(), symmetric ? nullptr : zeros.data(), c.n, c.k);
        std::vector<std::uint16_t> x(static_cast<std::size_t>(c.m * c.k));
        for (auto& v : x) v = from_float(t, unit(rng));
        std::vector<double> ref(static_cast<std::size_t>(c.m) * c.n);
        for (int r = 0; r < c.m; ++r)
          for (std::int64_t o = 0; o < c.n; ++o) {
            double acc = 0;
            for (std::int64_t i = 0; i < c.k; ++i) {
              const std::size_t gi = static_cast<std::size_t>(o * groups + i / lowbit::kernels::kW4A16Group);
              const int z = symmetric ? 8 : zeros[gi];
              acc += static_cast<double>(to_float(t, x[static_cast<std::size_t>(r * c.k + i)])) *
                     lowbit::fp16_to_fp32(scales[gi]) * (codes[static_cast<std::size_t>(o * c.k + i)] - z);
            }
            ref[static_cast<std::size_t>(r * c.n + o)] = acc;
          }
        // One plan against the fp64 reference, named by `plan` in the failure message.
        const auto check = [&](const lowbit::cuda::W4A16Tuning& tu, const std::string& plan) {
          const auto y = lowbit::cuda::gemm_w4a16_host(t, x.data(), w, c.m, tu);
          EXPECT_LT(relative_error(t, y, ref), 1e-2)
              << plan << " n=" << c.n << " k=" << c.k << " m=" << c.m << (t == Half::BF16 ? " bf16" : " fp16")
              << (symmetric ? " sym" : " asym");
        };
        check({}, "default");
        // The cluster kernel (m <= 64): every block width (narrowed where n needs it), one
        // block per cluster, clusters of 3 (groups not a multiple of it) and of 8 (some
        // blocks with a single group), on row counts that fill no batch chunk exactly.
        if (c.m <= 64)
          for (const int np : {1, 2})
            for (const int warps : {4, 8})
              for (const int splits : {1, 3, 8}) {
                if (splits > groups) continue;
                lowbit::cuda::W4A16Tuning tu;
                tu.path = 4;
                tu.np = np;
                tu.warps = warps;
                tu.splits = splits;
                check(tu, "cluster np" + std::to_string(np) + "/w" + std::to_string(warps) + "/s" +
                              std::to_string(splits));
              }
        // The wgmma kernel (rows in chunks of 64, 128 or 256, the last one short; n not a
        // multiple of its 128-column blocks at 64 / 192 / 320): its default plan, one block
        // per cluster, clusters of 3 (groups not a multiple of it) and of 8 (some blocks
        // with a single group), and a ring of two stages reused many times.
        // Up to 64 rows also built for two blocks per multiprocessor; more rows also in
        // chunks of 64 or 128 (blocks along z, the last chunk short).
        if (c.m > 16)
          for (const auto& [per_sm, splits, stages, rows] :
               {std::tuple{1, 0, 0, 0}, std::tuple{1, 1, 0, 0}, std::tuple{1, 3, 0, 0}, std::tuple{1, 8, 0, 0},
                std::tuple{1, 1, 2, 0}, std::tuple{2, 0, 0, 0}, std::tuple{2, 3, 0, 0}, std::tuple{2, 1, 2, 0},
                std::tuple{1, 0, 0, 64}, std::tuple{2, 3, 0, 64}, std::tuple{1, 3, 0, 128}}) {
            if (splits > groups || (per_sm == 2 && c.m > 64 && rows != 64) || (rows != 0 && rows >= c.m)) continue;
            lowbit::cuda::W4A16Tuning tu;
            tu.path = 5;
            tu.per_sm = per_sm;
            tu.splits = splits;
            tu.stages = stages;
            tu.rows = rows;
            check(tu, "wgmma per_sm" + std::to_string(per_sm) + "/s" + std::to_string(splits) + "/stages" +
                          std::to_string(stages) + "/rows" + std::to_string(rows));
          }
        // The tile kernel's every plan (16-row tiles per block, tiles per warp, warps, K
        // splits) on rows that fill no block exactly.
        if (c.m > 16) {
          for (const int mt : {1, 2, 4})
            for (const int nt : {2, 4})
              for (const int warps : {4, 8})
                for (const int splits : {1, 3}) {
                  lowbit::cuda::W4A16Tuning tu;
                  tu.path = 1;
                  tu.mt = mt;
                  tu.nt = nt;
                  tu.warps = warps;
                  tu.splits = splits;
                  check(tu, "tile mt" + std::to_string(mt) + "/nt" + std::to_string(nt) + "/w" +
                                std::to_string(warps) + "/s" + std::to_string(splits));
                }
          continue;
        }
        if (!symmetric && groups % 4 != 0) continue;
        // The bulk-copy kernel on the same inputs (asymmetric zero words need K in 4-group
        // runs): ragged last stages (groups not a multiple of the consumer warps), rings
        // of two stages reused many times, both block widths.
        for (const auto& [np, warps, stages] : {std::tuple{1, 4, 2}, std::tuple{2, 8, 0}, std::tuple{2, 4, 3}}) {
          if (c.n % (16 * np) != 0) continue;
          lowbit::cuda::W4A16Tuning tu;
          tu.path = 3;
          tu.np = np;
          tu.warps = warps;
          tu.stages = stages;
          check(tu, "bulk np" + std::to_string(np) + "/w" + std::to_string(warps) + "/s" + std::to_string(stages));
        }
      }
}

TEST(CudaGemmW8A8, MatchesExactIntegerProductScaled) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(77);
  std::uniform_int_distribution<int> i8(-127, 127), zp(-20, 20);
  std::uniform_real_distribution<float> scale(1e-3f, 2e-3f);
  struct Case {
    std::int64_t n, k;
    int m;
  };
  // k % 128 == 0 runs on wgmma by default: one K tile (fewer than the ring prefetches),
  // two, and many; ragged m and n against both block widths. Each such case also runs
  // on every plan: the mma.sync kernel, and wgmma fed by cp.async or by TMA (one block
  // per tile or persistent) with 128- and 256-column blocks. 2304 x 1024 gives more tiles
  // than multiprocessors, so persistent blocks walk several. The TMA kernel's two
  // epilogues (from the fragments, or through shared memory) and its tile walk's band
  // depth vary too.
  for (const Case c : {Case{8, 64, 1}, Case{136, 192, 7}, Case{256, 512, 130}, Case{200, 1024, 300}, Case{264, 128, 129},
                       Case{520, 256, 64}, Case{48, 1280, 3}, Case{1024, 256, 2304}})
    for (const bool asym : {false, true}) {
      std::vector<std::int8_t> xq(static_cast<std::size_t>(c.m * c.k)), wq(static_cast<std::size_t>(c.n * c.k));
      for (auto& v : xq) v = static_cast<std::int8_t>(i8(rng));
      for (auto& v : wq) v = static_cast<std::int8_t>(i8(rng));
      std::vector<float> sx(static_cast<std::size_t>(c.m)), sw(static_cast<std::size_t>(c.n));
      for (auto& s : sx) s = scale(rng);
      for (auto& s : sw) s = scale(rng);
      std::vector<std::int32_t> zx(static_cast<std::size_t>(c.m));
      for (auto& z : zx) z = zp(rng);
      std::vector<double> ref(static_cast<std::size_t>(c.m) * c.n);
      for (int r = 0; r < c.m; ++r)
        for (std::int64_t o = 0; o < c.n; ++o) {
          long long acc = 0;
          for (std::int64_t j = 0; j < c.k; ++j)
            acc += static_cast<long long>(xq[static_cast<std::size_t>(r * c.k + j)] - (asym ? zx[static_cast<std::size_t>(r)] : 0)) *
                   wq[static_cast<std::size_t>(o * c.k + j)];
          ref[static_cast<std::size_t>(r * c.n + o)] =
              static_cast<double>(sx[static_cast<std::size_t>(r)]) * sw[static_cast<std::size_t>(o)] * static_cast<double>(acc);
        }
      std::vector<lowbit::cuda::W8A8Tuning> plans = {{}};
      if (c.k % 128 == 0)
        plans.insert(plans.end(), {{1, 0}, {2, 128}, {2, 256}, {3, 128}, {3, 256}, {4, 128}, {4, 256},
                                   // the TMA kernel's fragment-order stores, and walks in other bands
                                   {3, 256, 16, 0}, {4, 128, 16, 0}, {4, 256, 0, 3}, {4, 128, 0, 1},
                                   {4, 256, 0, 8}});
      for (const Half t : {Half::BF16, Half::F16})
        for (const auto& plan : plans) {
          const auto y = lowbit::cuda::gemm_w8a8_host(t, xq.data(), sx.data(), asym ? zx.data() : nullptr, wq.data(),
                                                      sw.data(), c.m, c.n, c.k, plan);
          // The sums are exact integers, so every output is the fp64 value up to the fp32
          // epilogue (3 * 2^-24 relative) and one rounding to the half type (relative below
          // 2^-8 - 2^-16 for bf16, less for fp16; 2^-25 absolute in fp16's subnormals):
          // a per-element bound (docs/numerics.md), which also catches one misplaced output.
          std::size_t bad = 0, first = 0;
          for (std::size_t i = 0; i < ref.size(); ++i)
            if (!(std::fabs(to_float(t, y[i]) - ref[i]) <= 0x1p-8 * std::fabs(ref[i]) + 0x1p-24) && bad++ == 0) first = i;
          EXPECT_EQ(bad, 0u) << "n=" << c.n << " k=" << c.k << " m=" << c.m << (asym ? " asym" : " sym") << " path "
                             << plan.path << " bn " << plan.bn << " probe " << plan.probe << " band " << plan.band
                             << (t == Half::BF16 ? " bf16" : " fp16")
                             << ", first bad output: row " << first / c.n << " col " << first % c.n;
        }
    }
}

TEST(CudaGemm, BadShapesAreReturnCodesNotCrashes) {
  const lowbit::cuda::W4A16View v{nullptr, nullptr, nullptr, 100, 128};
  const int rc = lowbit::cuda::gemm_w4a16(Half::BF16, nullptr, v, nullptr, 1, nullptr, nullptr);
  EXPECT_TRUE(rc == lowbit::cuda::kBadShape || rc == lowbit::cuda::kNoCuda) << rc;
  EXPECT_EQ(lowbit::cuda::compiled_with_cuda(), rc == lowbit::cuda::kBadShape);
  // W8A8 past the longest exact K: refused before anything touches the (dummy) pointers.
  std::int8_t q = 0;
  float s = 1.f;
  std::uint16_t y = 0;
  const int rc8 = lowbit::cuda::gemm_w8a8(Half::BF16, &q, &s, nullptr, &q, &s, nullptr, &y, 1, 8,
                                          lowbit::cuda::kW8A8MaxK + 128, nullptr);
  EXPECT_EQ(rc8, lowbit::cuda::compiled_with_cuda() ? lowbit::cuda::kBadShape : lowbit::cuda::kNoCuda);
}

}  // namespace
