// Whole-tensor quantization: every granularity must equal quantizing each of its
// blocks as a tensor of its own (two independent code paths), results must not depend
// on the thread count, super-block codes must follow the definition with the rounded
// scales, and numpy (tests/peers/quant_groupwise.py) re-derives group/channel codes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "lowbit/bitpack.h"
#include "lowbit/error.h"
#include "lowbit/metrics.h"
#include "lowbit/quantize.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

std::vector<float> randn(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.02f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<float> roundtrip(const std::vector<float>& x, const std::vector<std::int64_t>& shape,
                             const std::string& spec, int threads = 1) {
  const auto q = quantize_tensor(x, shape, parse_scheme(spec), threads);
  std::vector<float> y(x.size());
  dequantize_tensor(q, y, threads);
  return y;
}

}  // namespace

// Per-channel on axis a == per-tensor quantization of each channel's slice.
TEST(QuantizeTensor, ChannelEqualsPerSliceTensor) {
  const std::vector<std::int64_t> shape = {3, 5, 7};
  const auto x = randn(3 * 5 * 7, 1);
  for (int axis = 0; axis < 3; ++axis) {
    for (const char* base : {"int4", "uint8", "kmeans2", "nf4", "fp8e4m3"}) {
      std::string mode = std::string(base).rfind("int", 0) == 0 || std::string(base).rfind("uint", 0) == 0 ? ":asym" : "";
      const auto y = roundtrip(x, shape, std::string(base) + ":channel@" + std::to_string(axis) + mode);
      const std::int64_t C = shape[std::size_t(axis)];
      std::int64_t inner = 1, outer = 1;
      for (int i = axis + 1; i < 3; ++i) inner *= shape[std::size_t(i)];
      for (int i = 0; i < axis; ++i) outer *= shape[std::size_t(i)];
      for (std::int64_t c = 0; c < C; ++c) {
        std::vector<float> slice;
        std::vector<std::size_t> where;
        for (std::int64_t o = 0; o < outer; ++o)
          for (std::int64_t i = 0; i < inner; ++i) {
            where.push_back(std::size_t((o * C + c) * inner + i));
            slice.push_back(x[where.back()]);
          }
        const auto ys = roundtrip(slice, {std::int64_t(slice.size())}, std::string(base) + ":tensor" + mode);
        for (std::size_t k = 0; k < slice.size(); ++k)
          ASSERT_EQ(y[where[k]], ys[k]) << base << " axis " << axis << " channel " << c;
      }
    }
  }
}

// Per-group == per-tensor quantization of each group, ragged tail included.
TEST(QuantizeTensor, GroupEqualsPerGroupTensor) {
  const std::int64_t rows = 4, cols = 100, g = 32;  // 100 = 3*32 + 4: ragged tail
  const auto x = randn(std::size_t(rows * cols), 2);
  for (const char* base : {"int4:%:asym", "int3:%:sym", "int8:%:sym:full", "uint2:%:asym", "kmeans3:%", "nf4:%"}) {
    std::string spec(base), tspec(base);
    spec.replace(spec.find('%'), 1, "g" + std::to_string(g));
    tspec.replace(tspec.find('%'), 1, "tensor");
    const auto y = roundtrip(x, {rows, cols}, spec);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j0 = 0; j0 < cols; j0 += g) {
        const std::int64_t len = std::min(g, cols - j0);
        std::vector<float> grp(x.begin() + r * cols + j0, x.begin() + r * cols + j0 + len);
        const auto yg = roundtrip(grp, {len}, tspec);
        for (std::int64_t k = 0; k < len; ++k) ASSERT_EQ(y[std::size_t(r * cols + j0 + k)], yg[std::size_t(k)]) << spec;
      }
  }
}

TEST(QuantizeTensor, SameBytesForAnyThreadCount) {
  const auto x = randn(64 * 300, 3);
  for (const char* spec : {"int4:g64:asym", "int8:channel:sym", "int4:g32:sb256:asym", "kmeans4:channel",
                           "nf4:g64", "fp8e4m3:tensor", "int5:g16:sym:sr:seed=9", "bf16"}) {
    const auto s = parse_scheme(spec);
    const auto a = quantize_tensor(x, std::vector<std::int64_t>{64, 300}, s, 1);
    for (int t : {2, 3, 7}) {
      const auto b = quantize_tensor(x, std::vector<std::int64_t>{64, 300}, s, t);
      EXPECT_EQ(a.codes, b.codes) << spec << " threads " << t;
      EXPECT_EQ(a.scales, b.scales) << spec;
      EXPECT_EQ(a.zero_points, b.zero_points) << spec;
      EXPECT_EQ(a.codebooks, b.codebooks) << spec;
      EXPECT_EQ(a.scale_codes, b.scale_codes) << spec;
      EXPECT_EQ(a.super_scales, b.super_scales) << spec;
    }
  }
}

// Super-blocks: sub-scale codes lie in [1, 2^sbits-1], the effective scale of each
// group is within half a sub-scale step of its fp32 scale, and each code is exactly
// the affine definition applied with the effective scale.
TEST(QuantizeTensor, SuperBlockFollowsDefinition) {
  const std::int64_t rows = 3, cols = 600;  // 600 = 2*256 + 88: ragged super-block
  const auto x = randn(std::size_t(rows * cols), 4);
  for (const char* spec : {"int4:g32:sb256:asym", "int3:g16:sb256:sym", "uint6:g32:sb128:sbits8:asym"}) {
    const Scheme s = parse_scheme(spec);
    const auto q = quantize_tensor(x, std::vector<std::int64_t>{rows, cols}, s, 2);
    const auto scales = q.block_scales();
    std::vector<std::uint8_t> sc(static_cast<std::size_t>(q.layout.num_blocks));
    unpack_bits(q.scale_codes, s.scale_bits, sc);
    const IntRange range = s.range();
    std::vector<std::int32_t> codes(static_cast<std::size_t>(cols));
    const std::int64_t g = s.group_size, gpr = q.layout.groups_per_row;
    for (std::int64_t r = 0; r < rows; ++r) {
      unpack_row_codes(q, r, codes);
      for (std::int64_t gi = 0; gi < gpr; ++gi) {
        const auto b = std::size_t(r * gpr + gi);
        ASSERT_GE(sc[b], 1);
        ASSERT_LE(sc[b], (1 << s.scale_bits) - 1);
        const std::int64_t j0 = gi * g, len = std::min(g, cols - j0);
        const AffineParams p{scales[b], 1.0f / scales[b], q.zero_points.empty() ? (range.is_signed ? 0 : 1 << (s.bits - 1)) : q.zero_points[b]};
        for (std::int64_t k = 0; k < len; ++k)
          ASSERT_EQ(codes[std::size_t(j0 + k)], quantize_value(x[std::size_t(r * cols + j0 + k)], p, range, Rounding::NearestEven))
              << spec << " row " << r << " group " << gi;
      }
    }
    const double sqnr = error_stats(x, roundtrip(x, {rows, cols}, spec)).sqnr_db();
    const double sqnr_plain = error_stats(x, roundtrip(x, {rows, cols}, std::string(spec).replace(std::string(spec).find(":sb"), std::string(spec).find(":", std::string(spec).find(":sb") + 1) - std::string(spec).find(":sb"), ""))).sqnr_db();
    // Rounding the group scales costs a little, never most of the signal.
    EXPECT_GT(sqnr, sqnr_plain - 3.0) << spec;
  }
}

TEST(QuantizeTensor, FloatFormatsMatchElementCodecs) {
  const auto x = randn(1000, 5);
  for (const char* spec : {"fp16", "bf16"}) {
    const auto y = roundtrip(x, {10, 100}, spec);
    const ErrorStats e = error_stats(x, y);
    EXPECT_GT(e.sqnr_db(), std::string(spec) == "fp16" ? 60.0 : 40.0) << spec;
  }
  const auto q = quantize_tensor(x, std::vector<std::int64_t>{10, 100}, parse_scheme("fp8e4m3:tensor"), 1);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  EXPECT_EQ(q.scales.at(0), amax / 448.0f);
}

TEST(QuantizeTensor, RejectsNonFiniteAndShapeMismatch) {
  auto x = randn(20, 6);
  x[7] = NAN;
  EXPECT_THROW(quantize_tensor(x, std::vector<std::int64_t>{4, 5}, parse_scheme("int8:channel:sym")), Error);
  x[7] = INFINITY;
  EXPECT_THROW(quantize_tensor(x, std::vector<std::int64_t>{4, 5}, parse_scheme("int8:channel:sym")), Error);
  x[7] = 0;
  EXPECT_THROW(quantize_tensor(x, std::vector<std::int64_t>{4, 6}, parse_scheme("int8:channel:sym")), Error);
  EXPECT_THROW(quantize_tensor(x, std::vector<std::int64_t>{4, 5}, parse_scheme("int8:channel@2:sym")), Error);
}

TEST(SchemeSpec, ParsePrintRoundTripAndErrors) {
  for (const char* spec : {"int8:channel:sym", "int4:g128:asym", "uint4:g64:asym", "nf4:g64", "kmeans4:channel",
                           "fp8e4m3:tensor", "int4:g32:sb256:asym", "int8:tensor:sym:full:rna", "grid[-1,0,0.5,1]:g8",
                           "int2:channel@1:asym:sr:seed=5", "int16:channel:sym", "fp8e5m2:channel", "bf16"}) {
    const Scheme s = parse_scheme(spec);
    EXPECT_EQ(parse_scheme(s.spec()).spec(), s.spec()) << spec;
  }
  for (const char* bad : {"", "int9", "int4:g0", "int4:g32:sb100", "int4:tensor:channel", "nf4:sym", "foo", "int4:sym:asym",
                          "int4:wat", "kmeans9"})
    EXPECT_THROW(parse_scheme(bad), Error) << bad;
}

// numpy re-derives group-wise asymmetric int4 and per-channel symmetric int8 codes.
TEST(PeerQuantizeNumpy, GroupAndChannelCodes) {
  const auto dir = lowbit::testing::scratch_dir();
  const std::int64_t rows = 33, cols = 200;
  const auto x = randn(std::size_t(rows * cols), 7);
  {
    std::ofstream f(dir / "x.f32", std::ios::binary);
    f.write(reinterpret_cast<const char*>(x.data()), std::streamsize(x.size() * 4));
  }
  lowbit::testing::run_peer("quant_groupwise.py", {dir.string(), std::to_string(rows), std::to_string(cols)});
  for (const std::string name : {"int4_g64_asym", "int8_channel_sym"}) {
    const std::string spec = name == "int4_g64_asym" ? "int4:g64:asym" : "int8:channel:sym";
    const auto q = quantize_tensor(x, std::vector<std::int64_t>{rows, cols}, parse_scheme(spec), 2);
    std::ifstream f(dir / (name + ".i32"), std::ios::binary);
    std::vector<std::int32_t> want(static_cast<std::size_t>(rows * cols));
    f.read(reinterpret_cast<char*>(want.data()), std::streamsize(want.size() * 4));
    ASSERT_TRUE(f) << "peer output missing for " << name;
    std::vector<std::int32_t> codes(static_cast<std::size_t>(cols));
    for (std::int64_t r = 0; r < rows; ++r) {
      unpack_row_codes(q, r, codes);
      for (std::int64_t j = 0; j < cols; ++j)
        ASSERT_EQ(codes[std::size_t(j)], want[std::size_t(r * cols + j)]) << spec << " row " << r << " col " << j;
    }
  }
}
