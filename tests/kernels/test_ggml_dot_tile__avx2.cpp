// The register tiles of ggml_mul_mat (1 x 8 weight rows x activations, 4 x 1..2 for one
// or two activations) give every output exactly the reference single dot (bit for bit),
// for ragged rows (tails run single dots), odd activation counts, rows at byte offset 2
// (off vector alignment, on the blocks' fp16 alignment) and 1 or 2 threads; an empty
// batch writes nothing.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/ggml_dot.h"
#include "kernels/quant_rows.h"
#include "lowbit/ggml_types.h"
#include "model/ggml_cpu_activations.h"

using namespace lowbit;

TEST(GgmlDotTile, MatmulWithTilesEqualsReferenceDots) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "CPU without AVX2";
  std::mt19937 rng(42);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (const ggml::Type t : {ggml::Type::Q4_0, ggml::Type::Q4_1, ggml::Type::Q5_0, ggml::Type::Q8_0}) {
    const kernels::GgmlDotTileFn tile = t == ggml::Type::Q4_0   ? kernels::ggml_dot_tile_q4_0_q8_0__avx2
                                        : t == ggml::Type::Q4_1 ? kernels::ggml_dot_tile_q4_1_q8_1__avx2
                                        : t == ggml::Type::Q5_0 ? kernels::ggml_dot_tile_q5_0_q8_0__avx2
                                                                : kernels::ggml_dot_tile_q8_0_q8_0__avx2;
    const kernels::GgmlDotFn ref = kernels::ggml_dot_kernel(t, true);
    for (const std::int64_t rows : {4, 7, 67})
      for (const std::int64_t m : {1, 2, 3, 17, 34})
        for (const std::int64_t k : {32, 96, 1024}) {
          std::vector<float> wf(static_cast<std::size_t>(rows * k)), xf(static_cast<std::size_t>(m * k));
          for (auto& v : wf) v = 0.05f * nd(rng);
          for (auto& v : xf) v = nd(rng);
          const std::size_t row_bytes = ggml::row_size(t, k).value();
          std::vector<std::byte> wbuf(row_bytes * static_cast<std::size_t>(rows) + 2);
          ggml::quantize_rows(t, wf.data(), wbuf.data() + 2, rows, k);
          const auto xq = model::ggml_quantize_activations(model::ggml_vec_dot_type(t), xf.data(), m, k);
          std::vector<std::byte> xbuf(xq.size() + 2);
          std::memcpy(xbuf.data() + 2, xq.data(), xq.size());
          const std::size_t x_row_bytes = xq.size() / static_cast<std::size_t>(m);
          for (const int threads : {1, 2}) {
            std::vector<float> y(static_cast<std::size_t>(m * rows), -1.f);
            kernels::ggml_mul_mat(ref, wbuf.data() + 2, row_bytes, rows, xbuf.data() + 2, x_row_bytes, m, k, y.data(),
                                  threads, tile);
            for (std::int64_t i = 0; i < m; ++i)
              for (std::int64_t r = 0; r < rows; ++r) {
                const float want = ref(wbuf.data() + 2 + static_cast<std::size_t>(r) * row_bytes,
                                       xbuf.data() + 2 + static_cast<std::size_t>(i) * x_row_bytes, k);
                ASSERT_EQ(y[static_cast<std::size_t>(i * rows + r)], want)
                    << ggml::traits(t).name << " rows " << rows << " m " << m << " k " << k << " threads " << threads
                    << " at activation " << i << " row " << r;
              }
          }
        }
  }
}

// No activation rows (or no weight rows): the tiled matmul writes nothing and returns.
TEST(GgmlDotTile, EmptyBatchWritesNothing) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "CPU without AVX2";
  const std::int64_t rows = 8, k = 64;
  const std::size_t row_bytes = ggml::row_size(ggml::Type::Q8_0, k).value();
  std::vector<std::byte> w(row_bytes * rows, std::byte{0}), x(row_bytes, std::byte{0});
  std::vector<float> y(rows, -1.f);
  const kernels::GgmlDotFn ref = kernels::ggml_dot_kernel(ggml::Type::Q8_0, true);
  kernels::ggml_mul_mat(ref, w.data(), row_bytes, rows, x.data(), row_bytes, 0, k, y.data(), 2,
                        kernels::ggml_dot_tile_q8_0_q8_0__avx2);
  kernels::ggml_mul_mat(ref, w.data(), row_bytes, 0, x.data(), row_bytes, 1, k, y.data(), 2,
                        kernels::ggml_dot_tile_q8_0_q8_0__avx2);
  for (const float v : y) EXPECT_EQ(v, -1.f);
}
