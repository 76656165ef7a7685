// GPTQ inside ggml block types: the packed bytes decode (through ggml's dequantizer) to
// GPTQ's own dequantized weights bit for bit; with no updates (RTN) the block headers are
// the ones llama.cpp's quantizer writes for the same block and importance, and every
// weight is at least as close as llama.cpp's code; GPTQ's layer-output error in the same
// grids is below RTN's on correlated inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "algo/ggml_grid.h"
#include "lowbit/error.h"

using namespace lowbit;
using ggml::Type;

namespace {

struct Data {
  std::int64_t rows = 6, cols = 512;
  std::vector<float> w, importance;
  std::vector<double> h;
};

// Inputs X = Z A + noise with a few loud channels, H = X^T X / n, importance = diag(H).
Data make_data(unsigned seed) {
  Data d;
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  const std::int64_t n = 256, k = 32, c = d.cols;
  std::vector<double> a(static_cast<std::size_t>(k * c)), x(static_cast<std::size_t>(n * c));
  for (auto& v : a) v = nd(rng);
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double> z(static_cast<std::size_t>(k));
    for (auto& v : z) v = nd(rng);
    for (std::int64_t j = 0; j < c; ++j) {
      double s = 0.3 * nd(rng);
      for (std::int64_t q = 0; q < k; ++q) s += z[static_cast<std::size_t>(q)] * a[static_cast<std::size_t>(q * c + j)] / 6;
      x[static_cast<std::size_t>(i * c + j)] = s * (j % 37 == 0 ? 8.0 : 1.0);
    }
  }
  d.h.assign(static_cast<std::size_t>(c * c), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t p = 0; p < c; ++p) {
      const double xp = x[static_cast<std::size_t>(i * c + p)] / n;
      for (std::int64_t q = 0; q < c; ++q) d.h[static_cast<std::size_t>(p * c + q)] += xp * x[static_cast<std::size_t>(i * c + q)];
    }
  for (std::int64_t j = 0; j < c; ++j) d.importance.push_back(static_cast<float>(d.h[static_cast<std::size_t>(j * c + j)]));
  std::normal_distribution<float> wd(0.0f, 0.02f);
  d.w.resize(static_cast<std::size_t>(d.rows * c));
  for (auto& v : d.w) v = wd(rng);
  d.w[5] = 0.3f;  // an outlier weight
  return d;
}

const Type kTypes[] = {Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0, Type::Q4_K, Type::Q5_K, Type::Q6_K};

// Where each block keeps its scales (ggml's block structs, ggml-common.h): d / m / dmin
// and the sub-block scales, i.e. everything but the codes.
std::pair<std::size_t, std::size_t> header_bytes(Type t) {
  switch (t) {
    case Type::Q4_1: case Type::Q5_1: return {0, 4};
    case Type::Q4_K: case Type::Q5_K: return {0, 16};
    case Type::Q6_K: return {192, 18};
    default: return {0, 2};
  }
}

std::vector<float> decode(Type t, const std::vector<std::byte>& bytes, std::size_t n) {
  std::vector<float> y(n);
  ggml::dequantize(t, bytes.data(), y.data(), static_cast<std::int64_t>(n));
  return y;
}

TEST(GgmlGrid, GptqBytesDecodeToGptqsWeightsBitForBit) {
  const Data d = make_data(1);
  for (const Type t : kTypes)
    for (const bool imat : {false, true})
      for (const bool static_groups : {false, true}) {
        SCOPED_TRACE(std::string(ggml::traits(t).name) + (imat ? " imatrix" : "") + (static_groups ? " static" : ""));
        algo::GgmlGrid grid(t, d.rows, d.cols, imat ? d.importance : std::vector<float>{});
        GptqOptions o;
        o.static_groups = static_groups;
        o.act_order = static_groups;
        const GptqResult r = gptq_quantize(d.w, d.rows, d.cols, d.h, grid.options(o), 2);
        const auto y = decode(t, grid.pack(r), d.w.size());
        ASSERT_EQ(y.size(), r.dequantized.size());
        EXPECT_EQ(0, std::memcmp(y.data(), r.dequantized.data(), y.size() * sizeof(float)));
      }
}

TEST(GgmlGrid, RtnKeepsLlamaCppsHeadersAndIsAtLeastAsCloseEverywhere) {
  const Data d = make_data(2);
  for (const Type t : kTypes)
    for (const bool imat : {false, true}) {
      SCOPED_TRACE(std::string(ggml::traits(t).name) + (imat ? " imatrix" : ""));
      algo::GgmlGrid grid(t, d.rows, d.cols, imat ? d.importance : std::vector<float>{});
      const GptqResult r = rtn_gptq_grid(d.w, d.rows, d.cols, grid.options({}));
      const auto ours = grid.pack(r);
      // llama.cpp's quantizer, one block at a time (the unit the fitter sees).
      const auto& tr = ggml::traits(t);
      std::vector<std::byte> ref(ours.size());
      const std::int64_t nb = d.cols / tr.block_size;
      for (std::int64_t i = 0; i < d.rows; ++i)
        for (std::int64_t b = 0; b < nb; ++b)
          ggml::quantize_rows(t, d.w.data() + i * d.cols + b * tr.block_size, ref.data() + (i * nb + b) * tr.type_size, 1,
                              tr.block_size, imat ? d.importance.data() + b * tr.block_size : nullptr);
      const auto yo = decode(t, ours, d.w.size()), yr = decode(t, ref, d.w.size());
      std::size_t nearer = 0;
      for (std::size_t k = 0; k < d.w.size(); ++k) {
        const float eo = std::fabs(d.w[k] - yo[k]), er = std::fabs(d.w[k] - yr[k]);
        EXPECT_LE(eo, er * (1 + 1e-6f) + 1e-9f) << "weight " << k;
        nearer += eo < er;
      }
      const auto [off, len] = header_bytes(t);
      for (std::size_t b = 0; b < ours.size() / tr.type_size; ++b)
        ASSERT_EQ(0, std::memcmp(ours.data() + b * tr.type_size + off, ref.data() + b * tr.type_size + off, len))
            << "block " << b;
      std::printf("%s%s: %zu of %zu weights on a nearer code than llama.cpp's\n", tr.name, imat ? " (imatrix)" : "",
                  nearer, d.w.size());
    }
}

TEST(GgmlGrid, GptqCutsTheLayerOutputErrorOfRoundToNearestInTheSameBlocks) {
  const Data d = make_data(3);
  for (const Type t : {Type::Q4_0, Type::Q4_K, Type::Q5_K, Type::Q6_K}) {
    SCOPED_TRACE(ggml::traits(t).name);
    algo::GgmlGrid g1(t, d.rows, d.cols, d.importance), g2(t, d.rows, d.cols, d.importance);
    const GptqResult q = gptq_quantize(d.w, d.rows, d.cols, d.h, g1.options({}), 2);
    const GptqResult r = rtn_gptq_grid(d.w, d.rows, d.cols, g2.options({}));
    const double eq = gptq_objective(d.w, q.dequantized, d.rows, d.cols, d.h);
    const double er = gptq_objective(d.w, r.dequantized, d.rows, d.cols, d.h);
    std::printf("%s: tr(dW H dW^T) GPTQ %.4g vs RTN %.4g\n", ggml::traits(t).name, eq, er);
    EXPECT_LT(eq, 0.9 * er);
  }
}

TEST(GgmlGrid, RejectsWhatItCannotPourInto) {
  EXPECT_THROW(algo::GgmlGrid(Type::Q3_K, 2, 256, {}), Error);
  EXPECT_THROW(algo::GgmlGrid(Type::Q4_K, 2, 576, {}), Error);  // 576 is not whole 256-blocks
  algo::GgmlGrid g(Type::Q4_0, 2, 64, {});
  GptqOptions o;
  o.act_order = true;  // without static groups, groups would not be runs of columns
  std::vector<float> w(128, 0.5f);
  std::vector<double> h(64 * 64, 0.0);
  for (int j = 0; j < 64; ++j) h[static_cast<std::size_t>(j * 65)] = 1;
  EXPECT_THROW(gptq_quantize(w, 2, 64, h, g.options(o), 1), Error);
}

}  // namespace
