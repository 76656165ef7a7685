// Eight-row panels: the reference tile on repacked rows equals the panel arithmetic
// written out on the original ggml blocks (exact int dots, one fma per block; Q4_K per
// sub-block pair for rows in groups of four, per super-block for the rest) bit for bit;
// the AVX2 tiles equal the reference bit for bit on ragged shapes, threads and offsets
// (M = 1 through the Q8_0 pair tile too);
// int16 partial sums survive the largest codes; and each output is within the rounding
// bound of the fp64 product of the decoded weights and activations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "formats/ggml_blocks.h"
#include "kernels/ggml_gemm_x8.h"
#include "kernels/quant_rows.h"
#include "lowbit/fp16.h"
#include "lowbit/ggml_types.h"
#include "model/ggml_cpu_activations.h"

using namespace lowbit;

namespace {

// Element e of a row's block in ggml's own layout (ggml-common.h): Q4_0 stores element e
// in the low nibble of qs[e] for e < 16 and the high nibble of qs[e - 16] otherwise; Q5_0
// the same four bits, with the fifth in bit e of its little-endian 32-bit qh; Q4_1 the
// same nibbles as its codes, unsigned.
int ggml_code(ggml::Type t, const std::byte* block, int e) {
  if (t == ggml::Type::Q8_0) return reinterpret_cast<const ggml::block_q8_0*>(block)->qs[e];
  if (t == ggml::Type::Q4_1) {  // the nibble is the code; d and m come first
    const auto* b = reinterpret_cast<const ggml::block_q4_1*>(block);
    return e < 16 ? b->qs[e] & 0x0F : b->qs[e - 16] >> 4;
  }
  if (t == ggml::Type::Q5_0) {
    const auto* b = reinterpret_cast<const ggml::block_q5_0*>(block);
    std::uint32_t qh;
    std::memcpy(&qh, b->qh, 4);
    const int low = e < 16 ? b->qs[e] & 0x0F : b->qs[e - 16] >> 4;
    return (low | static_cast<int>((qh >> e) & 1u) << 4) - 16;
  }
  const auto* b = reinterpret_cast<const ggml::block_q4_0*>(block);
  return (e < 16 ? b->qs[e] & 0x0F : b->qs[e - 16] >> 4) - 8;
}

// Q4_K element e of sub-block s (ggml-common.h): qs[32 * (s / 2) + e], low nibble for even
// s, high for odd; scale and min by get_scale_min.
int q4_K_code(const ggml::block_q4_K& b, int s, int e) {
  const int byte = b.qs[32 * (s / 2) + e];
  return s % 2 ? byte >> 4 : byte & 0x0F;
}

// The Q4_K panel arithmetic on ggml's own blocks: per_pair, one fma per sub-block pair.
float q4_K_expected(const ggml::block_q4_K* w, const ggml::block_q8_K* x, std::int64_t nb, bool per_pair) {
  float acc = 0.f, acc_min = 0.f;
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    const float d = fp16_to_fp32(w[ib].d) * x[ib].d, dmin = fp16_to_fp32(w[ib].dmin) * x[ib].d;
    std::int64_t isum = 0, imin = 0;
    for (int s = 0; s < 8; ++s) {
      std::uint8_t sc, mn;
      ggml::get_scale_min(s, w[ib].scales, sc, mn);
      std::int64_t dot = 0, xsum = 0;
      for (int e = 0; e < 32; ++e) {
        dot += q4_K_code(w[ib], s, e) * x[ib].qs[32 * s + e];
        xsum += x[ib].qs[32 * s + e];
      }
      isum += sc * dot;
      imin += mn * xsum;
      if (per_pair && s % 2) {
        acc = std::fma(static_cast<float>(isum), d, acc);
        acc_min = std::fma(static_cast<float>(imin), dmin, acc_min);
        isum = imin = 0;
      }
    }
    if (!per_pair) {
      acc = std::fma(static_cast<float>(isum), d, acc);
      acc_min = std::fma(static_cast<float>(imin), dmin, acc_min);
    }
  }
  return acc - acc_min;
}

struct Case {
  ggml::Type t;
  std::int64_t rows, m, k;
  std::vector<std::byte> w;     // ggml rows
  std::vector<std::byte> xq;    // Q8_0 (Q8_K for Q4_K) activation rows
  std::vector<float> xf;
};

Case make_case(ggml::Type t, std::int64_t rows, std::int64_t m, std::int64_t k, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  Case c{t, rows, m, k, {}, {}, {}};
  std::vector<float> wf(static_cast<std::size_t>(rows * k));
  for (auto& v : wf) v = 0.05f * nd(rng);
  c.xf.resize(static_cast<std::size_t>(m * k));
  for (auto& v : c.xf) v = nd(rng);
  c.w.resize(ggml::row_size(t, k).value() * static_cast<std::size_t>(rows));
  ggml::quantize_rows(t, wf.data(), c.w.data(), rows, k);
  c.xq = model::ggml_quantize_activations(model::ggml_vec_dot_type(t), c.xf.data(), m, k);
  return c;
}

std::vector<float> run(const Case& c, bool reference, int threads, std::size_t offset) {
  const auto panels = kernels::ggml_repack_x8(c.t, c.w, c.rows, c.k);
  std::vector<std::byte> shifted(panels.size() + offset);
  std::memcpy(shifted.data() + offset, panels.data(), panels.size());
  std::vector<float> y(static_cast<std::size_t>(c.m * c.rows), std::nanf(""));
  kernels::ggml_mul_mat_x8(c.t, reference, shifted.data() + offset, panels.size() / static_cast<std::size_t>(c.rows / 8), c.rows,
                           c.xq.data(), c.xq.size() / static_cast<std::size_t>(c.m), c.m, c.k, y.data(), threads);
  return y;
}

}  // namespace

TEST(GgmlGemmX8, ReferenceIsThePanelArithmeticOnTheOriginalBlocks) {
  std::mt19937 rng(7);
  for (const ggml::Type t : {ggml::Type::Q4_0, ggml::Type::Q4_1, ggml::Type::Q5_0, ggml::Type::Q8_0, ggml::Type::Q4_K})
    for (const std::int64_t k : {256, 768})
      for (const std::int64_t m0 : {1, 6}) {
        // m = 6: Q4_K's rows 0-3 take the per-pair order, rows 4-5 the per-super-block one;
        // m = 1: Q4_K's row the per-super-block one, Q8_0 its panels two at a time (pair tile).
        const Case c = make_case(t, 24, m0, k, rng);
        const auto y = run(c, true, 1, 0);
        const std::size_t wrow = c.w.size() / static_cast<std::size_t>(c.rows), bsize = ggml::traits(t).type_size;
        const std::size_t xrow = c.xq.size() / static_cast<std::size_t>(c.m);
        for (std::int64_t i = 0; i < c.m; ++i)
          for (std::int64_t r = 0; r < c.rows; ++r) {
            const std::byte* wr = c.w.data() + static_cast<std::size_t>(r) * wrow;
            const std::byte* xr = c.xq.data() + static_cast<std::size_t>(i) * xrow;
            float acc = 0.f;
            if (t == ggml::Type::Q4_K) {
              acc = q4_K_expected(reinterpret_cast<const ggml::block_q4_K*>(wr),
                                  reinterpret_cast<const ggml::block_q8_K*>(xr), k / 256, i < c.m - c.m % 4);
            } else {
              // Q4_1 meets Q8_1 activations (d, s = d * sum, codes) and adds m_w * s_x in
              // its own accumulator; the others meet Q8_0's (d, codes).
              const bool q41 = t == ggml::Type::Q4_1;
              const std::size_t xblock = q41 ? sizeof(ggml::block_q8_1) : sizeof(ggml::block_q8_0);
              float acc_min = 0.f;
              for (std::int64_t ib = 0; ib < k / 32; ++ib) {
                const std::byte* wb = wr + static_cast<std::size_t>(ib) * bsize;
                const std::byte* xb = xr + static_cast<std::size_t>(ib) * xblock;
                const auto* xq = reinterpret_cast<const std::int8_t*>(xb + (q41 ? 4 : 2));
                std::int64_t dot = 0;
                for (int e = 0; e < 32; ++e) dot += ggml_code(t, wb, e) * xq[e];
                std::uint16_t dw, dx, mw, sx;
                std::memcpy(&dw, wb, 2);
                std::memcpy(&dx, xb, 2);
                acc = std::fma(static_cast<float>(dot), fp16_to_fp32(dw) * fp16_to_fp32(dx), acc);
                if (q41) {
                  std::memcpy(&mw, wb + 2, 2);
                  std::memcpy(&sx, xb + 2, 2);
                  acc_min = std::fma(fp16_to_fp32(mw), fp16_to_fp32(sx), acc_min);
                }
              }
              acc += acc_min;
            }
            ASSERT_EQ(y[static_cast<std::size_t>(i * c.rows + r)], acc)
                << ggml::traits(t).name << " k " << k << " m " << m0;
          }
        }
}

// The pair tile (two panels, one activation row) against two single tiles, AVX2 and
// reference, on panels 2 bytes past an allocation's start (the blocks' own alignment, not
// a vector's) and row lengths from one block up.
TEST(GgmlGemmX8, PairTileEqualsTwoSingleTiles) {
  std::mt19937 rng(5);
  for (const bool reference : {true, false}) {
    if (!reference && !kernels::cpu_has_avx2()) continue;
    const auto single = kernels::ggml_gemm_x8_kernel(ggml::Type::Q8_0, reference);
    const auto pair = kernels::ggml_gemm_x8_pair_kernel(ggml::Type::Q8_0, reference);
    ASSERT_NE(pair, nullptr);
    for (const std::int64_t k : {32, 96, 4096 + 32}) {
      const Case c = make_case(ggml::Type::Q8_0, 16, 1, k, rng);
      const auto panels = kernels::ggml_repack_x8(c.t, c.w, c.rows, c.k);
      const std::size_t half = panels.size() / 2;
      std::vector<std::byte> bytes(panels.size() + 2);
      std::memcpy(bytes.data() + 2, panels.data(), panels.size());
      const auto act = kernels::ggml_x8_activations(ggml::Type::Q8_0, c.xq.data(), c.xq.size(), 1, k);
      float want[16], got[16];
      single(bytes.data() + 2, act.data(), 0, k, 1, want);
      single(bytes.data() + 2 + half, act.data(), 0, k, 1, want + 8);
      pair(bytes.data() + 2, bytes.data() + 2 + half, act.data(), k, got);
      ASSERT_EQ(std::memcmp(got, want, sizeof(got)), 0) << (reference ? "reference" : "AVX2") << " k " << k;
    }
  }
}

TEST(GgmlGemmX8, Avx2TilesEqualReference) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "CPU without AVX2";
  std::mt19937 rng(11);
  for (const ggml::Type t : {ggml::Type::Q4_0, ggml::Type::Q4_1, ggml::Type::Q5_0, ggml::Type::Q8_0, ggml::Type::Q4_K})
    for (const std::int64_t rows : {8, 24, 72})
      for (const std::int64_t m : {1, 2, 3, 5, 17, 70})
        for (const std::int64_t k : {256, 1024}) {
          const Case c = make_case(t, rows, m, k, rng);
          const auto want = run(c, true, 1, 0);
          for (const int threads : {1, 2}) {
            const auto got = run(c, false, threads, threads == 2 ? 2 : 0);
            ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
                << ggml::traits(t).name << " rows " << rows << " m " << m << " k " << k << " threads " << threads;
          }
        }
}

// Every weight code at the top or bottom of its range against activation codes of +-127:
// the largest int16 partial sums the tiles form (Q5_0's four maddubs of 2 * 31 * 127 in
// one register). The block dot must be the exact integer. (Q4_1's nibbles go through
// Q4_0's integer path, the same template without the offset.)
TEST(GgmlGemmX8, ExtremeCodesGiveExactDots) {
  for (const ggml::Type t : {ggml::Type::Q4_0, ggml::Type::Q5_0, ggml::Type::Q8_0})
    for (const int wsign : {-1, 1})
      for (const int xsign : {-1, 1}) {
        const std::int64_t rows = 8, k = 64;
        const std::size_t bsize = ggml::traits(t).type_size;
        std::vector<std::byte> w(bsize * rows * (k / 32));
        for (std::size_t b = 0; b < w.size() / bsize; ++b) {
          const std::uint16_t one = fp32_to_fp16(1.0f);
          std::memcpy(w.data() + b * bsize, &one, 2);
          // Q4_0 codes: nibble 0 is -8, nibble 15 is +7; Q5_0 (qh and qs all 0 or all 1):
          // -16 or +15; Q8_0: -127 or +127.
          const auto fill = t != ggml::Type::Q8_0 ? std::byte(wsign < 0 ? 0x00 : 0xFF) : std::byte(wsign < 0 ? 0x81 : 0x7F);
          std::memset(w.data() + b * bsize + 2, static_cast<int>(fill), bsize - 2);
        }
        std::vector<ggml::block_q8_0> x(static_cast<std::size_t>(k / 32));
        for (auto& b : x) {
          b.d = fp32_to_fp16(1.0f);
          for (auto& q : b.qs) q = static_cast<std::int8_t>(127 * xsign);
        }
        const int wcode = t == ggml::Type::Q4_0   ? (wsign < 0 ? -8 : 7)
                          : t == ggml::Type::Q5_0 ? (wsign < 0 ? -16 : 15)
                                                  : 127 * wsign;
        const float want = static_cast<float>(k * wcode * 127 * xsign);
        for (const bool reference : {true, false}) {
          if (!reference && !kernels::cpu_has_avx2()) continue;
          const auto panels = kernels::ggml_repack_x8(t, w, rows, k);
          std::vector<float> y(rows);
          kernels::ggml_mul_mat_x8(t, reference, panels.data(), panels.size(), rows,
                                   reinterpret_cast<const std::byte*>(x.data()), x.size() * sizeof(x[0]), 1, k,
                                   y.data(), 1);
          for (const float v : y) ASSERT_EQ(v, want) << ggml::traits(t).name << " reference " << reference;
        }
      }
}

// Q4_K at the extremes: nibbles 15, scales and mins 63, activation codes +-127 (int16
// sums of 16 * 15 * 127), against the arithmetic on ggml's blocks, in both orders.
TEST(GgmlGemmX8, Q4_KExtremeCodesMatchBlockArithmetic) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "CPU without AVX2";
  const std::int64_t rows = 8, k = 512, m = 5;
  std::vector<ggml::block_q4_K> w(static_cast<std::size_t>(rows * k / 256));
  for (auto& b : w) {
    b.d = b.dmin = fp32_to_fp16(1.0f);
    std::memset(b.scales, 0xFF, sizeof(b.scales));
    std::memset(b.qs, 0xFF, sizeof(b.qs));
  }
  std::vector<ggml::block_q8_K> x(static_cast<std::size_t>(m * k / 256));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const int sign = i % 3 ? 1 : -1;
    x[i].d = 0.5f;
    for (auto& q : x[i].qs) q = static_cast<std::int8_t>(127 * sign);
    for (auto& s : x[i].bsums) s = static_cast<std::int16_t>(16 * 127 * sign);
  }
  const auto panels = kernels::ggml_repack_x8(ggml::Type::Q4_K, {reinterpret_cast<const std::byte*>(w.data()), w.size() * sizeof(w[0])}, rows, k);
  std::vector<float> y(static_cast<std::size_t>(m * rows));
  kernels::ggml_mul_mat_x8(ggml::Type::Q4_K, false, panels.data(), panels.size() / (rows / 8), rows,
                           reinterpret_cast<const std::byte*>(x.data()), 2 * sizeof(x[0]), m, k, y.data(), 1);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t r = 0; r < rows; ++r)
      ASSERT_EQ(y[static_cast<std::size_t>(i * rows + r)], q4_K_expected(w.data() + r * 2, x.data() + i * 2, 2, i < 4))
          << "activation " << i << " row " << r;
}

// |y - S| <= gamma(nb + 1) * sum |d_w d_x dot| with S the fp64 sum of the block products
// of the decoded weights and activations: each term carries the rounding of d_w * d_x
// and of the fmas that follow it (at most nb + 1 roundings, u = 2^-24).
TEST(GgmlGemmX8, WithinRoundingBoundOfFp64Product) {
  std::mt19937 rng(3);
  for (const ggml::Type t : {ggml::Type::Q4_0, ggml::Type::Q5_0, ggml::Type::Q8_0}) {
    const Case c = make_case(t, 32, 6, 4096, rng);
    const auto y = run(c, false, 2, 0);
    std::vector<float> wd(static_cast<std::size_t>(c.rows * c.k)), xd(static_cast<std::size_t>(c.m * c.k));
    ggml::dequantize(t, c.w.data(), wd.data(), c.rows * c.k);
    ggml::dequantize(ggml::Type::Q8_0, c.xq.data(), xd.data(), c.m * c.k);
    const std::int64_t nb = c.k / 32;
    const double u = std::ldexp(1.0, -24), gamma = (nb + 1) * u / (1 - (nb + 1) * u);
    for (std::int64_t i = 0; i < c.m; ++i)
      for (std::int64_t r = 0; r < c.rows; ++r) {
        double s = 0, mag = 0;
        for (std::int64_t ib = 0; ib < nb; ++ib) {
          double blk = 0;
          for (std::int64_t e = ib * 32; e < ib * 32 + 32; ++e)
            blk += static_cast<double>(wd[static_cast<std::size_t>(r * c.k + e)]) * xd[static_cast<std::size_t>(i * c.k + e)];
          s += blk;
          mag += std::fabs(blk);
        }
        const double got = y[static_cast<std::size_t>(i * c.rows + r)];
        EXPECT_LE(std::fabs(got - s), gamma * mag) << ggml::traits(t).name << " row " << r << " activation " << i;
      }
  }
}

// ggml_x8_row undoes the repack: every row of panels made from arbitrary bytes (every bit
// of Q4_K's 12 scale bytes carries a scale or min bit, so any pattern round-trips) comes
// back byte for byte.
TEST(GgmlGemmX8, RowFromPanelsIsTheOriginalRow) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255);
  for (const ggml::Type t : {ggml::Type::Q4_0, ggml::Type::Q4_1, ggml::Type::Q5_0, ggml::Type::Q8_0, ggml::Type::Q4_K}) {
    const std::int64_t rows = 16, cols = 3 * 256;
    const std::size_t row_bytes = ggml::row_size(t, cols).value();
    std::vector<std::byte> w(row_bytes * rows);
    for (auto& b : w) b = static_cast<std::byte>(byte(rng));
    const auto panels = kernels::ggml_repack_x8(t, w, rows, cols);
    std::vector<std::byte> row(row_bytes);
    for (std::int64_t r = 0; r < rows; ++r) {
      kernels::ggml_x8_row(t, panels.data(), cols, r, row.data());
      EXPECT_EQ(std::memcmp(row.data(), w.data() + static_cast<std::size_t>(r) * row_bytes, row_bytes), 0)
          << ggml::traits(t).name << " row " << r;
    }
  }
}
