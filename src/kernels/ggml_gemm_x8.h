// Q4_0, Q4_1, Q5_0, Q8_0 and Q4_K weights in panels of eight interleaved rows: 32-bit lane r of
// an AVX2 register holds codes of row r, so a block's products for eight rows finish in
// one register and each output costs one fma per block, acc_r = fma(float(int dot),
// d_w[r] * d_x, acc_r): the arithmetic of llama.cpp's CPU repack kernels (q4_0_8x8,
// q4_K_8x8), which its AVX2 build runs by default.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "formats/ggml_blocks.h"
#include "lowbit/ggml_types.h"

namespace lowbit::kernels {

// One block of 32 inputs for eight rows. qs byte 32 * p + 4 * r + t is row r's original
// qs[4 * p + t] (p, t < 4): its low nibble is element 4p + t, its high nibble element
// 16 + 4p + t, so low nibbles of word r in 32-byte piece p are row r's elements 4p..4p+3.
struct block_q4_0x8 {
  std::uint16_t d[8];
  std::uint8_t qs[128];
};
static_assert(sizeof(block_q4_0x8) == 144);
// Q4_1: qs as block_q4_0x8's (unsigned nibbles, the code itself), and each row's min.
struct block_q4_1x8 {
  std::uint16_t d[8], m[8];
  std::uint8_t qs[128];
};
static_assert(sizeof(block_q4_1x8) == 160);
// Q5_0: qs as block_q4_0x8's (the four low bits of each code), and the fifth bits with
// the same byte index: qh byte 4 * r + t holds in bit p row r's element 4p + t and in bit
// 4 + p its element 16 + 4p + t, so piece p's fifth bits are one shift and one mask away
// from bit 4 of the byte that holds the nibble.
struct block_q5_0x8 {
  std::uint16_t d[8];
  std::uint8_t qh[32];
  std::uint8_t qs[128];
};
static_assert(sizeof(block_q5_0x8) == 176);
// qs byte 32 * k + 4 * r + t is row r's element 4k + t (k < 8, t < 4).
struct block_q8_0x8 {
  std::uint16_t d[8];
  std::int8_t qs[256];
};
static_assert(sizeof(block_q8_0x8) == 272);

// One super-block of 256 inputs for eight rows. scales/mins[8 * s + r] = row r's 6-bit
// scale and min of sub-block s; qs byte 256 * j + 32 * k + 4 * r + t is row r's original
// qs[32 * j + 4 * k + t]: low nibble element 4k + t of sub-block 2j, high nibble the same
// of sub-block 2j + 1.
struct block_q4_Kx8 {
  std::uint16_t d[8], dmin[8];
  std::uint8_t scales[64], mins[64];
  std::uint8_t qs[1024];
};
static_assert(sizeof(block_q4_Kx8) == 1184);

// Whether weights of type t can be held in panels of eight rows (Q4_0, Q4_1, Q5_0, Q8_0,
// Q4_K).
bool ggml_x8_supported(ggml::Type t);
// Whether the runtime holds type t in panels: Q4_0 and Q4_K, as llama.cpp's AVX2 build
// repacks them by default, and Q8_0, Q5_0 and Q4_1 unless
// ggml_x8_set_llamacpp_x86_order(true) or LOWBIT_LLAMACPP_X86_ORDER=1 in the environment.
// llama.cpp's x86 build runs those three in vec_dot's order (ggml_dot.h), 8 float lanes per output, which no tile of those
// operations gets to 1.2x of llama.cpp on this class of CPU; panels take one fma per block
// and output (Q8_0 1.4-1.9x, Q5_0 ~2x at M >= 8; Q4_1 one more for its mins), and give llama.cpp's x86 logits up to
// the last bits of those matmuls' sums instead of bit for bit (its ARM build, which
// repacks Q8_0, differs from x86 too).
bool ggml_x8_by_default(ggml::Type t);
// Sets whether Q8_0, Q5_0 and Q4_1 weights loaded from now on keep ggml's rows and llama.cpp's
// x86 order (true: its logits bit for bit) or go into panels (false, the default).
void ggml_x8_set_llamacpp_x86_order(bool on);
bool ggml_x8_llamacpp_x86_order();
// rows (a multiple of 8) ggml rows of type t, `cols` inputs each -> rows / 8 panels, each
// cols / 32 interleaved blocks in input order.
std::vector<std::byte> ggml_repack_x8(ggml::Type t, std::span<const std::byte> rows_data, std::int64_t rows,
                                      std::int64_t cols);

// Row `row` of panels made by ggml_repack_x8 back in ggml's layout (cols / block size
// blocks into out): the inverse of the repack for one row, so a weight held in panels can
// still be decoded by ggml's own row decoder.
void ggml_x8_row(ggml::Type t, const std::byte* panels, std::int64_t cols, std::int64_t row, std::byte* out);

// An activation block as the tiles read it: Q8_0's (or Q8_1's) codes, its scale widened
// to fp32, 8 * sum(codes), the offset term of Q4_0's unsigned nibbles (twice it for
// Q5_0's unsigned 5-bit codes), and Q8_1's stored s = d * sum(codes) widened to fp32,
// which Q4_1's mins meet (0 for Q8_0 blocks).
struct GgmlX8Activation {
  float d;
  std::int32_t sum8;
  float s;
  std::int8_t qs[32];
};
// m rows of k / 32 blocks of type xt (Q8_0 or Q8_1), x_row_bytes apart -> m * (k / 32)
// activation blocks.
std::vector<GgmlX8Activation> ggml_x8_activations(ggml::Type xt, const std::byte* x, std::size_t x_row_bytes,
                                                  std::int64_t m, std::int64_t k);

// A tile: out[j * 8 + r] = dot(panel row r, activation row j) over n inputs for j < c
// (1..4), activation rows x_stride blocks apart. Q4_1 adds its mins in a second
// accumulator, acc_min = fma(m_w[r], s_x, acc_min), and out = acc + acc_min.
using GgmlGemmX8Fn = void (*)(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                              std::int64_t n, int c, float* out);
void ggml_gemm_q4_0x8_q8_0__ref(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                std::int64_t n, int c, float* out);
void ggml_gemm_q4_1x8_q8_1__ref(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                std::int64_t n, int c, float* out);
void ggml_gemm_q5_0x8_q8_0__ref(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                std::int64_t n, int c, float* out);
void ggml_gemm_q8_0x8_q8_0__ref(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                std::int64_t n, int c, float* out);
void ggml_gemm_q4_0x8_q8_0__avx2(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                 std::int64_t n, int c, float* out);
void ggml_gemm_q4_1x8_q8_1__avx2(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                 std::int64_t n, int c, float* out);
void ggml_gemm_q5_0x8_q8_0__avx2(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                 std::int64_t n, int c, float* out);
void ggml_gemm_q8_0x8_q8_0__avx2(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                 std::int64_t n, int c, float* out);
// The kernel for t (AVX2 when fast kernels are on, else the reference), null if t has none.
GgmlGemmX8Fn ggml_gemm_x8_kernel(ggml::Type t, bool reference = false);

// One activation row against two panels: out[r] = dot(panel0 row r, x), out[8 + r] =
// dot(panel1 row r, x), each lane the single tile's arithmetic. At M = 1 a Q8_0 matmul
// streams its weights; one core reading two places at once (panels half a thread's range
// apart) measured ~1.3x the bytes per second of one sequential stream on Zen 3.
using GgmlGemmX8PairFn = void (*)(const std::byte* panel0, const std::byte* panel1, const GgmlX8Activation* x,
                                  std::int64_t n, float* out);
void ggml_gemm_q8_0x8_q8_0_pair__ref(const std::byte* panel0, const std::byte* panel1, const GgmlX8Activation* x,
                                     std::int64_t n, float* out);
void ggml_gemm_q8_0x8_q8_0_pair__avx2(const std::byte* panel0, const std::byte* panel1, const GgmlX8Activation* x,
                                      std::int64_t n, float* out);
// The pair kernel for t, null where single tiles are used at M = 1.
GgmlGemmX8PairFn ggml_gemm_x8_pair_kernel(ggml::Type t, bool reference = false);

// Q4_K tiles over Q8_K activation rows (x_stride blocks apart). Both accumulators start
// at 0 and out = acc - acc_min. per_pair: llama.cpp's gemm order (its activation rows in
// groups of four), acc += float(sc*dot summed over a pair of sub-blocks) * (d_w * d_x)
// and acc_min += float(m*bsum over the pair) * (dmin_w * d_x), four fmas per super-block;
// else its gemv order (the m % 4 rows left over, or all of m < 4): the same with the
// integers summed over the whole super-block, one fma each.
using GgmlGemmKx8Fn = void (*)(const std::byte* panel, const ggml::block_q8_K* x, std::size_t x_stride,
                               std::int64_t n, int c, bool per_pair, float* out);
void ggml_gemm_q4_Kx8_q8_K__ref(const std::byte* panel, const ggml::block_q8_K* x, std::size_t x_stride,
                                std::int64_t n, int c, bool per_pair, float* out);
void ggml_gemm_q4_Kx8_q8_K__avx2(const std::byte* panel, const ggml::block_q8_K* x, std::size_t x_stride,
                                 std::int64_t n, int c, bool per_pair, float* out);
GgmlGemmKx8Fn ggml_gemm_kx8_kernel(bool reference = false);

// y[i][r] = dot(row r, activation row i) for all rows (panels of 8) and m activation
// rows (Q8_0 for Q4_0/Q5_0/Q8_0 panels, Q8_1 for Q4_1, Q8_K for Q4_K); every output is one tile lane, so
// results do not depend on `threads`. Q4_K rows i < m - m % 4 take the per-pair order.
void ggml_mul_mat_x8(ggml::Type t, bool reference, const std::byte* panels, std::size_t panel_bytes,
                     std::int64_t rows, const std::byte* x, std::size_t x_row_bytes, std::int64_t m, std::int64_t k,
                     float* y, int threads);

}  // namespace lowbit::kernels
