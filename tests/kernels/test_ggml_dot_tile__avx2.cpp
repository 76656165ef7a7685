// The register tiles of ggml_mul_mat (1 x 8 weight rows x activations, 4 x 1..2 for one
// or two activations) give every output exactly the reference single dot (bit for bit),
// for ragged rows (tails run single dots), odd activation counts, rows at byte offset 2
// (off vector alignment, on the blocks' fp16 alignment) and 1 or 2 threads; an empty
// batch writes nothing. The Q6_K batch tile (llama.cpp's tiled order) likewise against
// the reference tiled dot.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "formats/ggml_blocks.h"
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

// Q5_K and Q6_K matmuls in llama.cpp's order by batch size: through the AVX2 tiles (1 x 8;
// Q6_K's in its tiled order from m >= 8, Q5_K's in vec_dot order from m >= 2; single AVX2
// dots below) and through the reference, every output is exactly the reference single dot
// of that order, for weight blocks of arbitrary bytes (every code/scale pattern is a valid
// block; d and dmin kept finite) and of the extremes (top codes, Q6_K scales +-128, Q5_K
// scales and mins 63, activation codes +-127 with their bsums), tile widths 1..8 and
// ragged rests, rows at byte offset 2 and activations at 4 (their blocks' own alignment,
// off a vector's), 1 or 2 threads.
TEST(GgmlDotTile, KQuantMatmulsEqualReferenceDots) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> byte(0, 255), code(-127, 127);
  for (const ggml::Type t : {ggml::Type::Q5_K, ggml::Type::Q6_K})
    for (const bool extreme : {false, true})
      for (const std::int64_t rows : {1, 7, 40})
        for (const std::int64_t m : {1, 2, 5, 8, 9, 24, 35})
          for (const std::int64_t k : {256, 768}) {
            const std::int64_t nb = k / 256;
            const std::size_t bsize = ggml::traits(t).type_size;
            std::vector<std::byte> wbuf(bsize * static_cast<std::size_t>(rows * nb) + 2);
            for (std::int64_t b = 0; b < rows * nb; ++b) {
              std::vector<unsigned char> raw(bsize);
              for (auto& v : raw) v = static_cast<unsigned char>(extreme ? 0xFF : byte(rng));
              // Finite scales in [1, 2): Q6_K's d sits last, Q5_K's d and dmin first.
              const std::uint16_t d = static_cast<std::uint16_t>(0x3C00 + byte(rng));
              if (t == ggml::Type::Q6_K) {
                ggml::block_q6_K blk;
                std::memcpy(&blk, raw.data(), sizeof blk);
                if (extreme) std::memset(blk.scales, b % 2 ? 0x80 : 0x7F, sizeof(blk.scales));
                blk.d = d;
                std::memcpy(raw.data(), &blk, sizeof blk);
              } else {
                ggml::block_q5_K blk;
                std::memcpy(&blk, raw.data(), sizeof blk);
                blk.d = d;
                blk.dmin = static_cast<std::uint16_t>(0x3C00 + byte(rng));
                std::memcpy(raw.data(), &blk, sizeof blk);
              }
              std::memcpy(wbuf.data() + 2 + bsize * static_cast<std::size_t>(b), raw.data(), bsize);
            }
            std::vector<std::byte> xbuf(sizeof(ggml::block_q8_K) * static_cast<std::size_t>(m * nb) + 4);
            for (std::int64_t b = 0; b < m * nb; ++b) {
              ggml::block_q8_K blk{};
              blk.d = 0.01f * static_cast<float>(1 + byte(rng));
              for (int e = 0; e < 256; ++e) {
                blk.qs[e] = static_cast<std::int8_t>(extreme ? (b % 3 ? 127 : -127) : code(rng));
                blk.bsums[e / 16] = static_cast<std::int16_t>(blk.bsums[e / 16] + blk.qs[e]);
              }
              std::memcpy(xbuf.data() + 4 + sizeof(blk) * static_cast<std::size_t>(b), &blk, sizeof(blk));
            }
            const std::size_t row_bytes = bsize * static_cast<std::size_t>(nb);
            const std::size_t x_row_bytes = sizeof(ggml::block_q8_K) * static_cast<std::size_t>(nb);
            const kernels::GgmlDotFn ref = kernels::ggml_dot_kernel_for_batch(t, m, true);
            for (const bool reference : {true, false}) {
              if (!reference && !kernels::cpu_has_avx2()) continue;
              for (const int threads : {1, 2}) {
                std::vector<float> y(static_cast<std::size_t>(m * rows), -1.f);
                kernels::ggml_mul_mat_k(t, reference, wbuf.data() + 2, row_bytes, rows, xbuf.data() + 4, x_row_bytes,
                                        m, k, y.data(), threads);
                for (std::int64_t i = 0; i < m; ++i)
                  for (std::int64_t r = 0; r < rows; ++r) {
                    const float want = ref(wbuf.data() + 2 + static_cast<std::size_t>(r) * row_bytes,
                                           xbuf.data() + 4 + static_cast<std::size_t>(i) * x_row_bytes, k);
                    ASSERT_EQ(y[static_cast<std::size_t>(i * rows + r)], want)
                        << ggml::traits(t).name << (reference ? " reference" : " AVX2") << (extreme ? " extreme" : "")
                        << " rows " << rows << " m " << m << " k " << k << " threads " << threads << " at activation "
                        << i << " row " << r;
                  }
              }
            }
          }
}
