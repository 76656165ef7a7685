// Chooses ggml-order block dot kernels by weight type and CPU, and runs them as a matmul
// over threads: output rows are split in fixed blocks and each output is one dot product.
#include <algorithm>
#include <cstring>
#include <vector>

#include "formats/ggml_rows.h"
#include "kernels/ggml_dot.h"
#include "kernels/quant_rows.h"
#include "lowbit/fp16.h"
#include "lowbit/parallel.h"

namespace lowbit::kernels {

GgmlDotFn ggml_dot_kernel(ggml::Type t, bool reference) {
  const bool fast = !reference && fast_kernels_enabled();
  switch (t) {
    case ggml::Type::Q4_0: return fast ? ggml_dot_q4_0_q8_0__avx2 : ggml_dot_q4_0_q8_0__ref;
    case ggml::Type::Q5_0: return fast ? ggml_dot_q5_0_q8_0__avx2 : ggml_dot_q5_0_q8_0__ref;
    case ggml::Type::Q4_1: return fast ? ggml_dot_q4_1_q8_1__avx2 : ggml_dot_q4_1_q8_1__ref;
    case ggml::Type::Q8_0: return fast ? ggml_dot_q8_0_q8_0__avx2 : ggml_dot_q8_0_q8_0__ref;
    case ggml::Type::Q4_K: return fast ? ggml_dot_q4_K_q8_K__avx2 : ggml_dot_q4_K_q8_K__ref;
    case ggml::Type::Q5_K: return fast ? ggml_dot_q5_K_q8_K__avx2 : ggml_dot_q5_K_q8_K__ref;
    case ggml::Type::Q6_K: return fast ? ggml_dot_q6_K_q8_K__avx2 : ggml_dot_q6_K_q8_K__ref;
    default: return nullptr;
  }
}

GgmlDotFn ggml_dot_kernel_for_batch(ggml::Type t, std::int64_t m, bool reference) {
  if (t == ggml::Type::Q6_K && m >= kGgmlQ6KTiledMinRows)
    return !reference && fast_kernels_enabled() ? ggml_dot_q6_K_q8_K_tiled__avx2 : ggml_dot_q6_K_q8_K_tiled__ref;
  return ggml_dot_kernel(t, reference);
}

GgmlDotTileFn ggml_dot_tile_kernel(ggml::Type t) {
  if (!fast_kernels_enabled()) return nullptr;
  switch (t) {
    case ggml::Type::Q4_0: return ggml_dot_tile_q4_0_q8_0__avx2;
    case ggml::Type::Q4_1: return ggml_dot_tile_q4_1_q8_1__avx2;
    case ggml::Type::Q5_0: return ggml_dot_tile_q5_0_q8_0__avx2;
    case ggml::Type::Q8_0: return ggml_dot_tile_q8_0_q8_0__avx2;
    default: return nullptr;
  }
}

GgmlDotKTileFn ggml_dot_tile_k_kernel(ggml::Type t, bool reference) {
  const bool fast = !reference && fast_kernels_enabled();
  if (t == ggml::Type::Q6_K) return fast ? ggml_dot_tile_q6_K_q8_K_tiled__avx2 : ggml_dot_tile_q6_K_q8_K_tiled__ref;
  if (t == ggml::Type::Q5_K) return fast ? ggml_dot_tile_q5_K_q8_K__avx2 : ggml_dot_tile_q5_K_q8_K__ref;
  return nullptr;
}

std::int64_t ggml_k_tile_min_rows(ggml::Type t) { return t == ggml::Type::Q6_K ? kGgmlQ6KTiledMinRows : 2; }

void ggml_mul_mat_k(ggml::Type t, bool reference, const std::byte* w, std::size_t row_bytes, std::int64_t rows,
                    const std::byte* x, std::size_t x_row_bytes, std::int64_t m, std::int64_t k, float* y, int threads) {
  const GgmlDotKTileFn tile = ggml_dot_tile_k_kernel(t, reference);
  if (!tile || m < ggml_k_tile_min_rows(t)) {
    ggml_mul_mat(ggml_dot_kernel(t, reference), w, row_bytes, rows, x, x_row_bytes, m, k, y, threads);
    return;
  }
  const auto* xb = reinterpret_cast<const ggml::block_q8_K*>(x);
  const std::size_t stride = x_row_bytes / sizeof(ggml::block_q8_K);
  if (rows * m * k < kParallelMinWork) threads = 1;
  // As ggml_mul_mat's batches: 24 activation rows at a time stay in L2 while a thread's
  // weight rows pass them, each row in L1 for its kGgmlTileCols-wide tiles.
  parallel_for(static_cast<std::size_t>(rows), threads, 16, [&](std::size_t r0, std::size_t r1) {
    float out[kGgmlTileCols];
    for (std::int64_t i0 = 0; i0 < m; i0 += 24) {
      const std::int64_t i1 = std::min(m, i0 + 24);
      for (std::size_t r = r0; r < r1; ++r)
        for (std::int64_t i = i0; i < i1; i += kGgmlTileCols) {
          const int c = static_cast<int>(std::min<std::int64_t>(kGgmlTileCols, i1 - i));
          tile(w + r * row_bytes, xb + static_cast<std::size_t>(i) * stride, stride, k, c, out);
          for (int j = 0; j < c; ++j) y[(i + j) * rows + static_cast<std::int64_t>(r)] = out[j];
        }
    }
  });
}

GgmlQ8CodesFn ggml_q8_codes_kernel() {
  static const GgmlQ8CodesFn fn = fast_kernels_enabled() ? ggml_q8_codes__avx2 : ggml_q8_codes__ref;
  return fn;
}

GgmlQ8KRowFn ggml_q8_K_row_kernel() {
  static const GgmlQ8KRowFn fn = fast_kernels_enabled() ? ggml_quantize_row_q8_K__avx2 : ggml::quantize_row_q8_K_ref;
  return fn;
}

GgmlDotF16Fn ggml_dot_f16_tinyblas_kernel() {
  static const GgmlDotF16Fn fn = fast_kernels_enabled() ? ggml_dot_f16_tinyblas__avx2 : ggml_dot_f16_tinyblas__ref;
  return fn;
}

GgmlDotF16TileHFn ggml_dot_f16_tinyblas_tile_h_kernel() {
  static const GgmlDotF16TileHFn fn =
      fast_kernels_enabled() ? ggml_dot_f16_tinyblas_tile_h__avx2 : ggml_dot_f16_tinyblas_tile_h__ref;
  return fn;
}

GgmlDotF16TileFn ggml_dot_f16_tinyblas_tile_kernel() {
  static const GgmlDotF16TileFn fn =
      fast_kernels_enabled() ? ggml_dot_f16_tinyblas_tile__avx2 : ggml_dot_f16_tinyblas_tile__ref;
  return fn;
}

namespace {

// y[i][r] = out(r, i) for every weight row r and activation row i: rows split over
// threads in fixed blocks, and blocks of 16 weight rows stay in cache while every
// activation row passes them.
template <class Out>
void rows_times_activations(std::int64_t rows, std::int64_t m, std::int64_t k, float* y, int threads, const Out& out) {
  if (rows * m * k < kParallelMinWork) threads = 1;
  parallel_for(static_cast<std::size_t>(rows), threads, 16, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t rb = r0; rb < r1; rb += 16) {
      const std::size_t re = std::min(r1, rb + 16);
      for (std::int64_t i = 0; i < m; ++i)
        for (std::size_t r = rb; r < re; ++r) y[i * rows + static_cast<std::int64_t>(r)] = out(r, i);
    }
  });
}

}  // namespace

void ggml_mul_mat(GgmlDotFn dot, const std::byte* w, std::size_t row_bytes, std::int64_t rows, const std::byte* x,
                  std::size_t x_row_bytes, std::int64_t m, std::int64_t k, float* y, int threads, GgmlDotTileFn tile) {
  if (!tile) {
    rows_times_activations(rows, m, k, y, threads, [&](std::size_t r, std::int64_t i) {
      // Two rows ahead: rows of small models are a few hundred bytes, too short for the
      // hardware prefetcher to ramp up within one (decode reads every weight once). Long
      // rows are left to it: a burst of 2 x 183 requests for Q6_K rows of 11.8 KB
      // (K = 14336) made M = 1 1.3-1.5x slower; at 3.4 KB it was a wash.
      if (i == 0 && static_cast<std::int64_t>(r) + 2 < rows && row_bytes <= 4096)
        for (std::size_t o = 0; o < row_bytes; o += 64) __builtin_prefetch(w + (r + 2) * row_bytes + o);
      return dot(w + r * row_bytes, x + static_cast<std::size_t>(i) * x_row_bytes, k);
    });
    return;
  }
  if (m < 1 || rows < 1) return;  // nothing to write (and no chunk width to divide by)
  if (rows * m * k < kParallelMinWork) threads = 1;
  // One or two activations (generation): four weight rows per tile; batches: one row
  // against up to eight activations.
  const std::size_t kR = m <= 2 ? kGgmlGemvRows : 1;
  const std::int64_t kC = m <= 2 ? m : kGgmlTileCols;
  // Each tile's activations interleaved by block (ggml_dot.h): chunk i0 / kC holds rows
  // i0.. of up to kC, its block ib of row i0 + j at block (ib * c + j) of the chunk; their
  // scales decoded once, chunk by chunk, kC per block, so a tile loads a block's as one
  // vector from the tile's own run of memory (8 floats of slack past the end). Scales
  // strided by m instead put each block of a tile on its own cache line: at M = 512 and
  // K = 14336 that array (0.9 MB) left L2 and cost a fifth of the time.
  const std::int64_t nb = k / 32;
  const std::size_t x_block_bytes = nb > 0 ? x_row_bytes / static_cast<std::size_t>(nb) : 0;
  const std::int64_t chunks = (m + kC - 1) / kC;
  std::vector<std::byte> xi(x_row_bytes * static_cast<std::size_t>(m));
  std::vector<float> xd(static_cast<std::size_t>(chunks * nb * kC + 8), 0.f);
  for (std::int64_t i0 = 0; i0 < m; i0 += kC) {
    const std::int64_t c = std::min(kC, m - i0);
    std::byte* chunk = xi.data() + static_cast<std::size_t>(i0) * x_row_bytes;
    float* chunk_d = xd.data() + static_cast<std::size_t>(i0 * nb);
    for (std::int64_t j = 0; j < c; ++j)
      for (std::int64_t ib = 0; ib < nb; ++ib) {
        const std::byte* b = x + static_cast<std::size_t>(i0 + j) * x_row_bytes + static_cast<std::size_t>(ib) * x_block_bytes;
        std::memcpy(chunk + static_cast<std::size_t>(ib * c + j) * x_block_bytes, b, x_block_bytes);
        std::uint16_t d;  // every ggml activation block (Q8_0, Q8_1) starts with its fp16 scale
        std::memcpy(&d, b, 2);
        chunk_d[ib * kC + j] = fp16_to_fp32(d);
      }
  }
  // Threads take whole tiles; 24 activation rows at a time stay in L2 while a thread's
  // weight rows stream past them, kC at a time through each tile.
  parallel_for(static_cast<std::size_t>(rows), threads, 64, [&](std::size_t r0, std::size_t r1) {
    float out[kGgmlTileCols];
    for (std::int64_t i0 = 0; i0 < m; i0 += 24) {
      const std::int64_t i1 = std::min(m, i0 + 24);
      std::size_t r = r0;
      for (; r + kR <= r1; r += kR)
        for (std::int64_t i = i0; i < i1; i += kC) {
          const int c = static_cast<int>(std::min<std::int64_t>(kC, i1 - i));
          tile(w + r * row_bytes, row_bytes, xi.data() + static_cast<std::size_t>(i) * x_row_bytes,
               xd.data() + static_cast<std::size_t>(i * nb), kC, k, static_cast<int>(kR), c, out);
          for (int cc = 0; cc < c; ++cc)
            for (std::size_t rr = 0; rr < kR; ++rr)
              y[(i + cc) * rows + static_cast<std::int64_t>(r + rr)] = out[static_cast<std::size_t>(cc) * kR + rr];
        }
      for (; r < r1; ++r)
        for (std::int64_t i = i0; i < i1; ++i)
          y[i * rows + static_cast<std::int64_t>(r)] = dot(w + r * row_bytes, x + static_cast<std::size_t>(i) * x_row_bytes, k);
    }
  });
}

namespace {

// 4 weight rows x 3 activation rows per tile, 24 activation rows at a time (the quantized
// matmul's walk); a ragged last row runs as a tile of that row four times over.
template <class W, class X, class Tile>
void tinyblas_rows(const W* w, std::int64_t rows, const X* x, std::int64_t m, std::int64_t k, float* y, int threads,
                   Tile tile) {
  if (rows * m * k < kParallelMinWork) threads = 1;
  parallel_for(static_cast<std::size_t>(rows), threads, 64, [&](std::size_t r0, std::size_t r1) {
    float out[12];
    for (std::int64_t i0 = 0; i0 < m; i0 += 24) {
      const std::int64_t i1 = std::min(m, i0 + 24);
      for (std::size_t r = r0; r < r1;) {
        const std::size_t n_rows = r + 4 <= r1 ? 4 : 1;
        for (std::int64_t i = i0; i < i1; i += 3) {
          const int c = static_cast<int>(std::min<std::int64_t>(3, i1 - i));
          tile(w + static_cast<std::int64_t>(r) * k, n_rows == 4 ? k : 0, x + i * k, k, k, c, out);
          for (int cc = 0; cc < c; ++cc)
            for (std::size_t rr = 0; rr < n_rows; ++rr)
              y[(i + cc) * rows + static_cast<std::int64_t>(r + rr)] = out[cc * 4 + rr];
        }
        r += n_rows;
      }
    }
  });
}

}  // namespace

void ggml_mul_mat_tinyblas(const float* w, std::int64_t rows, const float* x, std::int64_t m, std::int64_t k, float* y,
                           int threads) {
  tinyblas_rows(w, rows, x, m, k, y, threads, ggml_dot_f16_tinyblas_tile_kernel());
}

void ggml_mul_mat_tinyblas(const std::uint16_t* w, std::int64_t rows, const std::uint16_t* x, std::int64_t m,
                           std::int64_t k, float* y, int threads) {
  tinyblas_rows(w, rows, x, m, k, y, threads, ggml_dot_f16_tinyblas_tile_h_kernel());
}

}  // namespace lowbit::kernels
