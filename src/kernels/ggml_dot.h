// ggml's block dot products (weight blocks x activation blocks of the weight type's
// vec_dot_type) in the exact arithmetic order of llama.cpp's x86 AVX2 build: per block,
// eight int32 lanes each summing four consecutive code products, fma(d_w*d_x, lane, acc)
// per lane, then ggml's 8-lane fold. Same order, same float results, bit for bit.
// The k-quants (Q4_K, Q5_K, Q6_K x Q8_K) fold a whole 256-block into the eight int32
// lanes first (sub-block scales applied in integers), then one fma(d_x*d_w, lane, acc);
// Q4_K keeps its mins in four more lanes, Q5_K in one scalar, added after the fold.
#pragma once
#include <cstddef>
#include <cstdint>

#include "formats/ggml_blocks.h"
#include "lowbit/ggml_types.h"

namespace lowbit::kernels {

// One dot product of n values (whole blocks of the weight type): weight row w,
// activation row x.
using GgmlDotFn = float (*)(const void* w, const void* x, std::int64_t n);

float ggml_dot_q4_0_q8_0__ref(const void* w, const void* x, std::int64_t n);
float ggml_dot_q5_0_q8_0__ref(const void* w, const void* x, std::int64_t n);
float ggml_dot_q4_1_q8_1__ref(const void* w, const void* x, std::int64_t n);
float ggml_dot_q8_0_q8_0__ref(const void* w, const void* x, std::int64_t n);
float ggml_dot_q4_K_q8_K__ref(const void* w, const void* x, std::int64_t n);
float ggml_dot_q5_K_q8_K__ref(const void* w, const void* x, std::int64_t n);
float ggml_dot_q6_K_q8_K__ref(const void* w, const void* x, std::int64_t n);
// llama.cpp's tiled matmul order for Q6_K (ggml-cpu/tiled, taken for batches of >= 8
// activation rows when the weight is not repacked): per super-block the exact integer
// S = sum of scale x (q - 32) x q8, then acc = fma(d_w * float(S), d_x, acc), no fold.
float ggml_dot_q6_K_q8_K_tiled__ref(const void* w, const void* x, std::int64_t n);
float ggml_dot_q6_K_q8_K_tiled__avx2(const void* w, const void* x, std::int64_t n);
float ggml_dot_q4_0_q8_0__avx2(const void* w, const void* x, std::int64_t n);
float ggml_dot_q5_0_q8_0__avx2(const void* w, const void* x, std::int64_t n);
float ggml_dot_q4_1_q8_1__avx2(const void* w, const void* x, std::int64_t n);
float ggml_dot_q8_0_q8_0__avx2(const void* w, const void* x, std::int64_t n);
float ggml_dot_q4_K_q8_K__avx2(const void* w, const void* x, std::int64_t n);
float ggml_dot_q5_K_q8_K__avx2(const void* w, const void* x, std::int64_t n);
float ggml_dot_q6_K_q8_K__avx2(const void* w, const void* x, std::int64_t n);

// llamafile's tinyBLAS fp16 x fp16 product as ggml runs it for attention (AVX2+F16C):
// lane l accumulates fma(a[i], b[i], .) over i = l, l+8, ..., then ggml's fold. a and b
// hold fp16 values widened to fp32; n is a multiple of 8 (tinyBLAS declines otherwise).
float ggml_dot_f16_tinyblas__ref(const float* a, const float* b, std::int64_t n);
float ggml_dot_f16_tinyblas__avx2(const float* a, const float* b, std::int64_t n);
using GgmlDotF16Fn = float (*)(const float* a, const float* b, std::int64_t n);
GgmlDotF16Fn ggml_dot_f16_tinyblas_kernel();
// A tile of them: out[j * 4 + r] = dot(a + r * a_stride, b + j * b_stride, n) for r < 4
// and j < c (1..3), each bit for bit the single dot (attention's q.k over four keys and
// p.v over four dimensions; fp32/fp16 Linears, four weight rows by three activations).
void ggml_dot_f16_tinyblas_tile__ref(const float* a, std::int64_t a_stride, const float* b, std::int64_t b_stride,
                                     std::int64_t n, int c, float* out);
void ggml_dot_f16_tinyblas_tile__avx2(const float* a, std::int64_t a_stride, const float* b, std::int64_t b_stride,
                                      std::int64_t n, int c, float* out);
using GgmlDotF16TileFn = void (*)(const float* a, std::int64_t a_stride, const float* b, std::int64_t b_stride,
                                  std::int64_t n, int c, float* out);
GgmlDotF16TileFn ggml_dot_f16_tinyblas_tile_kernel();
// The same with both operands held as fp16 (F16 weights, and activations rounded to
// fp16 as ggml's vec_dot_type F16 has them), widened in the tile: the values and so the
// results are those of the widened rows, at half the bytes (a 24-row activation chunk at
// K = 14336 is 0.7 MB instead of 1.4).
void ggml_dot_f16_tinyblas_tile_h__ref(const std::uint16_t* a, std::int64_t a_stride, const std::uint16_t* b,
                                       std::int64_t b_stride, std::int64_t n, int c, float* out);
void ggml_dot_f16_tinyblas_tile_h__avx2(const std::uint16_t* a, std::int64_t a_stride, const std::uint16_t* b,
                                        std::int64_t b_stride, std::int64_t n, int c, float* out);
using GgmlDotF16TileHFn = void (*)(const std::uint16_t* a, std::int64_t a_stride, const std::uint16_t* b,
                                   std::int64_t b_stride, std::int64_t n, int c, float* out);
GgmlDotF16TileHFn ggml_dot_f16_tinyblas_tile_h_kernel();

// The x86 build's quantize_row_q8_0/_1 on nb blocks of 32: d[b] = amax / 127 (not yet
// rounded to fp16), codes = nearest-even(x * (127 / amax)), sums[b] = sum of the codes;
// block b's 32 codes start at codes + b * code_stride. Finite inputs give the same bytes
// from both twins.
void ggml_q8_codes__ref(const float* x, std::int64_t nb, std::int8_t* codes, std::size_t code_stride, float* d,
                        std::int32_t* sums);
void ggml_q8_codes__avx2(const float* x, std::int64_t nb, std::int8_t* codes, std::size_t code_stride, float* d,
                         std::int32_t* sums);
using GgmlQ8CodesFn = void (*)(const float* x, std::int64_t nb, std::int8_t* codes, std::size_t code_stride, float* d,
                               std::int32_t* sums);
GgmlQ8CodesFn ggml_q8_codes_kernel();

// quantize_row_q8_K (the activations of Q4_K and Q6_K matmuls) on k / 256 blocks: the
// reference is ggml::quantize_row_q8_K_ref (formats/ggml_rows.h), whose bytes the AVX2
// twin gives for every input.
void ggml_quantize_row_q8_K__avx2(const float* x, void* y, std::int64_t k);
using GgmlQ8KRowFn = void (*)(const float* x, void* y, std::int64_t k);
GgmlQ8KRowFn ggml_q8_K_row_kernel();

// ggml's 8-lane horizontal sum (hsum_float_8 / tinyBLAS hsum): (a4+a0 + a6+a2) + (a5+a1 + a7+a3).
inline float ggml_hsum8(const float* a) {
  const float t0 = a[4] + a[0], t1 = a[5] + a[1], t2 = a[6] + a[2], t3 = a[7] + a[3];
  return (t0 + t2) + (t1 + t3);
}

// A register tile: out[c * rows + r] = dot(weight row r, activation j) for r < rows and
// j < c, weight rows w_row_bytes apart, each equal bit for bit to the single dot: rows 1
// with c 1..kGgmlTileCols (batches), or rows kGgmlGemvRows with c 1..2 (one or two
// activations: four rows keep four independent fma chains where one row would wait on
// one). The activations come interleaved by block (block ib of activation j is block
// ib * c + j of x), so the tile addresses all of them from one pointer; with a pointer per
// activation row GCC ran out of registers and kept the addresses on the stack.
// xd[ib * xd_stride + j] is activation j's block ib scale decoded to fp32, readable 8
// floats past the tile's last activation. The reference tile is those single reference dots.
constexpr int kGgmlTileCols = 8, kGgmlGemvRows = 4;
using GgmlDotTileFn = void (*)(const std::byte* w, std::size_t w_row_bytes, const std::byte* x,
                               const float* xd, std::int64_t xd_stride, std::int64_t n,
                               int rows, int c, float* out);
void ggml_dot_tile_q4_0_q8_0__avx2(const std::byte* w, std::size_t w_row_bytes, const std::byte* x,
                                   const float* xd, std::int64_t xd_stride, std::int64_t n,
                                   int rows, int c, float* out);
void ggml_dot_tile_q4_1_q8_1__avx2(const std::byte* w, std::size_t w_row_bytes, const std::byte* x,
                                   const float* xd, std::int64_t xd_stride, std::int64_t n,
                                   int rows, int c, float* out);
void ggml_dot_tile_q5_0_q8_0__avx2(const std::byte* w, std::size_t w_row_bytes, const std::byte* x,
                                   const float* xd, std::int64_t xd_stride, std::int64_t n,
                                   int rows, int c, float* out);
void ggml_dot_tile_q8_0_q8_0__avx2(const std::byte* w, std::size_t w_row_bytes, const std::byte* x,
                                   const float* xd, std::int64_t xd_stride, std::int64_t n,
                                   int rows, int c, float* out);
// The AVX2 tile for weight type t when fast kernels are on, else null (single dots).
GgmlDotTileFn ggml_dot_tile_kernel(ggml::Type t);

// The kernel for weight type t (reference or AVX2 by fast_kernels_enabled()), or null
// when lowbit has no ggml-order integer dot for t.
GgmlDotFn ggml_dot_kernel(ggml::Type t, bool reference = false);
// The dot llama.cpp's x86 build runs for a matmul of m activation rows: the tiled order
// for Q6_K when m >= kGgmlQ6KTiledMinRows, else ggml_dot_kernel(t).
constexpr std::int64_t kGgmlQ6KTiledMinRows = 8;
GgmlDotFn ggml_dot_kernel_for_batch(ggml::Type t, std::int64_t m, bool reference = false);

// y[i][r] = dot(weight row r, activation row i) for i < m, r < rows; weight rows are
// row_bytes apart, activation rows x_row_bytes apart. Each output is one dot product (in
// register tiles where `tile` is set), so results do not depend on `threads`.
void ggml_mul_mat(GgmlDotFn dot, const std::byte* w, std::size_t row_bytes, std::int64_t rows, const std::byte* x,
                  std::size_t x_row_bytes, std::int64_t m, std::int64_t k, float* y, int threads,
                  GgmlDotTileFn tile = nullptr);

// One k-quant weight row against c (1..kGgmlTileCols) Q8_K activation rows x_stride
// blocks apart, out[j] = dot(w, x + j * x_stride) bit for bit (the integer sums are exact,
// and each output keeps its own fmas). Q6_K's tile is in llama.cpp's tiled order
// (ggml_dot_q6_K_q8_K_tiled), Q5_K's in vec_dot order (ggml_dot_q5_K_q8_K). The AVX2 tiles
// unpack each run of weight codes once for all c activations.
using GgmlDotKTileFn = void (*)(const void* w, const ggml::block_q8_K* x, std::size_t x_stride, std::int64_t n, int c,
                                float* out);
void ggml_dot_tile_q6_K_q8_K_tiled__ref(const void* w, const ggml::block_q8_K* x, std::size_t x_stride,
                                        std::int64_t n, int c, float* out);
void ggml_dot_tile_q6_K_q8_K_tiled__avx2(const void* w, const ggml::block_q8_K* x, std::size_t x_stride,
                                         std::int64_t n, int c, float* out);
void ggml_dot_tile_q5_K_q8_K__ref(const void* w, const ggml::block_q8_K* x, std::size_t x_stride, std::int64_t n,
                                  int c, float* out);
void ggml_dot_tile_q5_K_q8_K__avx2(const void* w, const ggml::block_q8_K* x, std::size_t x_stride, std::int64_t n,
                                   int c, float* out);
// The batch tile for Q5_K or Q6_K (reference or AVX2), null for other types.
GgmlDotKTileFn ggml_dot_tile_k_kernel(ggml::Type t, bool reference = false);
// y[i][r] = dot(row r of type t (Q5_K or Q6_K), Q8_K activation row i) for m rows, through
// the batch tiles from ggml_k_tile_min_rows(t) rows (Q6_K: 8, where llama.cpp takes its
// tiled order; Q5_K: 2), else single dots (ggml_mul_mat; a four-row Q6_K tile of them ran
// 1.3-2x slower at M = 1 on Zen 3). Q6_K follows llama.cpp's order at every m; Q5_K keeps
// vec_dot's, which is llama.cpp's below 8 rows or with GGML_CPU_TILED_MM=0.
std::int64_t ggml_k_tile_min_rows(ggml::Type t);
void ggml_mul_mat_k(ggml::Type t, bool reference, const std::byte* w, std::size_t row_bytes, std::int64_t rows,
                    const std::byte* x, std::size_t x_row_bytes, std::int64_t m, std::int64_t k, float* y, int threads);

// y[i][r] = tinyBLAS dot(weight row r, activation row i) over k (a multiple of 8), for
// fp32 weights and activations (fp16 weights widened to fp32 with activations rounded to
// fp16 and widened), or fp16 weights and fp16 activations.
void ggml_mul_mat_tinyblas(const float* w, std::int64_t rows, const float* x, std::int64_t m, std::int64_t k, float* y,
                           int threads);
void ggml_mul_mat_tinyblas(const std::uint16_t* w, std::int64_t rows, const std::uint16_t* x, std::int64_t m,
                           std::int64_t k, float* y, int threads);

}  // namespace lowbit::kernels
