// Register tiles of ggml block dots: 4 weight rows x 1 or 2 activation rows per pass, so
// each weight block is unpacked once for both activations and each activation block
// loaded once for four rows. Every output keeps the single dot's own lanes, fmas and fold
// (ggml_dot__avx2.cpp), so a tile equals the dots it replaces bit for bit.
#include <immintrin.h>

#include "formats/ggml_blocks.h"
#include "kernels/ggml_dot.h"

namespace lowbit::kernels {
namespace {

float half(std::uint16_t h) { return _cvtsh_ss(h); }

__m256i nibbles(const std::uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_insertf128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

float fold(__m256 acc) {
  alignas(32) float a[8];
  _mm256_store_ps(a, acc);
  return ggml_hsum8(a);
}

// Signed weight codes of block ib of a Q4_0 or Q8_0 row.
template <class Block>
__m256i codes(const Block& b);
template <>
__m256i codes(const ggml::block_q4_0& b) {
  return _mm256_sub_epi8(nibbles(b.qs), _mm256_set1_epi8(8));
}
template <>
__m256i codes(const ggml::block_q8_0& b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
}

template <class Block, int C>
void tile(const std::byte* w, std::size_t w_row_bytes, const std::byte* x, std::size_t x_row_bytes, std::int64_t n,
          float* out) {
  const Block* a[4];
  const ggml::block_q8_0* b[C];
  for (int r = 0; r < 4; ++r) a[r] = reinterpret_cast<const Block*>(w + static_cast<std::size_t>(r) * w_row_bytes);
  for (int c = 0; c < C; ++c)
    b[c] = reinterpret_cast<const ggml::block_q8_0*>(x + static_cast<std::size_t>(c) * x_row_bytes);
  __m256 acc[4][C];
  for (auto& row : acc)
    for (auto& v : row) v = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::int64_t ib = 0; ib < n / 32; ++ib) {
    __m256i qb[C];
    float db[C];
    for (int c = 0; c < C; ++c) {
      qb[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[c][ib].qs));
      db[c] = half(b[c][ib].d);
    }
    for (int r = 0; r < 4; ++r) {
      const __m256i qa = codes(a[r][ib]);
      const __m256i ua = _mm256_sign_epi8(qa, qa);
      const float da = half(a[r][ib].d);
      for (int c = 0; c < C; ++c) {
        const __m256i p = _mm256_madd_epi16(ones, _mm256_maddubs_epi16(ua, _mm256_sign_epi8(qb[c], qa)));
        acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(da * db[c]), _mm256_cvtepi32_ps(p), acc[r][c]);
      }
    }
  }
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < 4; ++r) out[c * 4 + r] = fold(acc[r][c]);
}

}  // namespace

void ggml_dot_tile_q4_0_q8_0__avx2(const std::byte* w, std::size_t w_row_bytes, const std::byte* x,
                                   std::size_t x_row_bytes, std::int64_t n, int c, float* out) {
  if (c == 2)
    tile<ggml::block_q4_0, 2>(w, w_row_bytes, x, x_row_bytes, n, out);
  else
    tile<ggml::block_q4_0, 1>(w, w_row_bytes, x, x_row_bytes, n, out);
}

void ggml_dot_tile_q8_0_q8_0__avx2(const std::byte* w, std::size_t w_row_bytes, const std::byte* x,
                                   std::size_t x_row_bytes, std::int64_t n, int c, float* out) {
  if (c == 2)
    tile<ggml::block_q8_0, 2>(w, w_row_bytes, x, x_row_bytes, n, out);
  else
    tile<ggml::block_q8_0, 1>(w, w_row_bytes, x, x_row_bytes, n, out);
}

}  // namespace lowbit::kernels
