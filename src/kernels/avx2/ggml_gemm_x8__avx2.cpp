// AVX2 tiles over eight-row panels (ggml_gemm_x8.h): 8 weight rows x up to 4 activation
// rows, int32 lane r = row r's exact block dot, then one cvt + fma per block (Q4_K: per
// sub-block pair or super-block) and row set; the same float operations in the same
// order as the reference twins, bit for bit.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/ggml_gemm_x8.h"

namespace lowbit::kernels {
namespace {

// Four activation codes 4k..4k+3 of a block in every 32-bit lane.
__m256i codes4(const std::int8_t* qs, int k) {
  std::int32_t v;
  std::memcpy(&v, qs + 4 * k, 4);
  return _mm256_set1_epi32(v);
}

// The running sum stays one chain in the order written: without this GCC reassociates a
// tile's adds into a tree of independent maddubs results and spills most of the 16 ymm
// registers (Q4_K with four rows: 157 stack accesses per call).
__m256i chained(__m256i v) {
  asm("" : "+x"(v));
  return v;
}

__m256 row_scales(const std::uint16_t* d) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d)));
}

// Requests the bytes kPrefetchAhead past a block about to be read: panels are read in
// address order, and at one or two activations on long rows the hardware prefetcher
// alone left a core well short (M = 1 at 4096x14336 and 14336x4096: Q4_0 1.16-1.45x, Q4_K
// 1.34-1.48x faster with it; 2 and 8 KB ahead did about as well as 4). It costs where the
// matrix sits in L3 (Q4_K 4096x4096, one thread: 0.89x; Q4_0 there 1.05x), and with more
// activations or on a small model's short rows (5-10 % slower) it is left off.
constexpr std::size_t kPrefetchAhead = 4096;
template <class Block>
bool streams(const Block*, std::int64_t nb, int c) {
  return c <= 2 && static_cast<std::size_t>(nb) * sizeof(Block) >= 16384;
}
template <class Block>
void prefetch_ahead(const Block* b) {
  for (std::size_t o = 0; o < sizeof(Block); o += 64)
    _mm_prefetch(reinterpret_cast<const char*>(b) + kPrefetchAhead + o, _MM_HINT_T0);
}

// Q4_0: unsigned nibbles u = q + 8 times signed activation codes; a pair of products is
// at most 2 * 15 * 127 in magnitude, so eight maddubs results add in int16 (30480 <
// 2^15) before one madd widens them; the dot is then sum(u * x) - 8 * sum(x), exact.
// Q4_1 (Panel block_q4_1x8): the nibbles are its codes, so no offset; its mins meet the
// activation's s in a second accumulator, out = acc + acc_min.
template <class P>
struct TileQ4 {
  using Panel = P;
  static constexpr bool kMins = std::is_same_v<P, block_q4_1x8>;
  template <int C>
  static void run(const P* w, const GgmlX8Activation* const* x, std::int64_t nb, float* out);
};
template <class P>
template <int C>
void TileQ4<P>::run(const P* w, const GgmlX8Activation* const* x, std::int64_t nb, float* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  __m256 acc[C], acc_min[C];
  for (int c = 0; c < C; ++c) acc[c] = acc_min[c] = _mm256_setzero_ps();
  const bool stream = streams(w, nb, C);
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    if (stream) prefetch_ahead(w + ib);
    __m256i s16[C];
    for (auto& s : s16) s = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[ib].qs + 32 * p));
      const __m256i lo = _mm256_and_si256(packed, m4), hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), m4);
      for (int c = 0; c < C; ++c) {
        s16[c] = chained(_mm256_add_epi16(s16[c], _mm256_maddubs_epi16(lo, codes4(x[c][ib].qs, p))));
        s16[c] = chained(_mm256_add_epi16(s16[c], _mm256_maddubs_epi16(hi, codes4(x[c][ib].qs, p + 4))));
      }
    }
    const __m256 dw = row_scales(w[ib].d);
    [[maybe_unused]] __m256 mw;
    if constexpr (kMins) mw = row_scales(w[ib].m);
    for (int c = 0; c < C; ++c) {
      __m256i dot = _mm256_madd_epi16(s16[c], ones);
      if constexpr (!kMins) dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(x[c][ib].sum8));
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw, _mm256_set1_ps(x[c][ib].d)), acc[c]);
      if constexpr (kMins) acc_min[c] = _mm256_fmadd_ps(mw, _mm256_set1_ps(x[c][ib].s), acc_min[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + 8 * c, kMins ? _mm256_add_ps(acc[c], acc_min[c]) : acc[c]);
}

// Q5_0: unsigned codes u = q + 16 (the nibble with the fifth bit moved to bit 4) times
// signed activation codes; a pair of products reaches 2 * 31 * 127, so int16 holds four
// maddubs results (31496 < 2^15): the low-nibble pieces sum in one register and the high
// ones in another, each widened by madd, and the dot is sum(u * x) - 16 * sum(x), exact.
struct TileQ5_0 {
  using Panel = block_q5_0x8;
  template <int C>
  static void run(const block_q5_0x8* w, const GgmlX8Activation* const* x, std::int64_t nb, float* out);
};
template <int C>
void TileQ5_0::run(const block_q5_0x8* w, const GgmlX8Activation* const* x, std::int64_t nb, float* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m16 = _mm256_set1_epi8(0x10), ones = _mm256_set1_epi16(1);
  __m256 acc[C];
  for (auto& a : acc) a = _mm256_setzero_ps();
  const bool stream = streams(w, nb, C);
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    if (stream) prefetch_ahead(w + ib);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[ib].qh));
    __m256i s32[C];
    for (int h = 0; h < 2; ++h) {
      __m256i s16[C];
      for (auto& s : s16) s = _mm256_setzero_si256();
      for (int p = 0; p < 4; ++p) {
        const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[ib].qs + 32 * p));
        // Bit p (low nibbles) or 4 + p (high) of the qh byte moves to bit 4; the 16-bit
        // shifts carry bits across bytes only into positions the mask drops.
        const __m256i u =
            h ? _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(packed, 4), m4),
                                _mm256_and_si256(_mm256_srli_epi16(qh, p), m16))
              : _mm256_or_si256(_mm256_and_si256(packed, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4 - p), m16));
        for (int c = 0; c < C; ++c)
          s16[c] = chained(_mm256_add_epi16(s16[c], _mm256_maddubs_epi16(u, codes4(x[c][ib].qs, p + 4 * h))));
      }
      for (int c = 0; c < C; ++c)
        s32[c] = h ? _mm256_add_epi32(s32[c], _mm256_madd_epi16(s16[c], ones)) : _mm256_madd_epi16(s16[c], ones);
    }
    const __m256 dw = row_scales(w[ib].d);
    for (int c = 0; c < C; ++c) {
      const __m256i dot = _mm256_sub_epi32(s32[c], _mm256_set1_epi32(2 * x[c][ib].sum8));
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw, _mm256_set1_ps(x[c][ib].d)), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + 8 * c, acc[c]);
}

// Q8_0: signed x signed through the sign trick; pairs reach 2 * 127 * 127, so every
// maddubs result is widened to int32 at once.
struct TileQ8_0 {
  using Panel = block_q8_0x8;
  template <int C>
  static void run(const block_q8_0x8* w, const GgmlX8Activation* const* x, std::int64_t nb, float* out);
};
// Row r's exact dot of block w with codes x in lane r of s32.
__m256i q8_0_block_dot(const block_q8_0x8& w, const std::int8_t* x, __m256i s32) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int k = 0; k < 8; ++k) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * k));
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(codes4(x, k), q));
    s32 = chained(_mm256_add_epi32(s32, _mm256_madd_epi16(p, ones)));
  }
  return s32;
}

template <int C>
void TileQ8_0::run(const block_q8_0x8* w, const GgmlX8Activation* const* x, std::int64_t nb, float* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[C];
  for (auto& a : acc) a = _mm256_setzero_ps();
  const bool stream = streams(w, nb, C);
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    if (stream) prefetch_ahead(w + ib);
    __m256i s32[C];
    for (auto& s : s32) s = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[ib].qs + 32 * k));
      const __m256i aq = _mm256_sign_epi8(q, q);
      for (int c = 0; c < C; ++c) {
        const __m256i p = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(codes4(x[c][ib].qs, k), q));
        s32[c] = chained(_mm256_add_epi32(s32[c], _mm256_madd_epi16(p, ones)));
      }
    }
    const __m256 dw = row_scales(w[ib].d);
    for (int c = 0; c < C; ++c)
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32[c]), _mm256_mul_ps(dw, _mm256_set1_ps(x[c][ib].d)), acc[c]);
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + 8 * c, acc[c]);
}

// Two panels against one activation row, block by block: the same operations per panel
// as TileQ8_0::run<1>, so each lane equals the single tile's.
void q8_0_pair(const block_q8_0x8* w0, const block_q8_0x8* w1, const GgmlX8Activation* x, std::int64_t nb,
               float* out) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const bool stream = streams(w0, nb, 1);
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    if (stream) {
      prefetch_ahead(w0 + ib);
      prefetch_ahead(w1 + ib);
    }
    const __m256i s0 = q8_0_block_dot(w0[ib], x[ib].qs, _mm256_setzero_si256());
    const __m256i s1 = q8_0_block_dot(w1[ib], x[ib].qs, _mm256_setzero_si256());
    const __m256 dx = _mm256_set1_ps(x[ib].d);
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s0), _mm256_mul_ps(row_scales(w0[ib].d), dx), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s1), _mm256_mul_ps(row_scales(w1[ib].d), dx), acc1);
  }
  _mm256_storeu_ps(out, acc0);
  _mm256_storeu_ps(out + 8, acc1);
}

// Eight bytes (one per row) as int16 pairs: lanes 2r and 2r + 1 both hold v[r].
__m256i rows_dup16(const std::uint8_t* v) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(v));
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(b, b));
}
// Two such byte rows interleaved: lane 2r holds a[r], lane 2r + 1 holds b[r].
__m256i rows_pair16(const std::uint8_t* a, const std::uint8_t* b) {
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a)),
                                                _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b))));
}

// Q4_K: per sub-block, unsigned nibbles x codes in int16 as for Q4_0 (eight maddubs of
// pairs <= 2 * 15 * 127), times the row's 6-bit scale by madd; the mins pair with the
// activation's 32-sums (two bsums each, <= 32 * 127) in one madd per sub-block pair.
template <int C, bool PerPair>
void tile_q4_K(const block_q4_Kx8* w, const ggml::block_q8_K* const* x, std::int64_t nb, float* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[C], acc_min[C];
  for (int c = 0; c < C; ++c) acc[c] = acc_min[c] = _mm256_setzero_ps();
  const bool stream = streams(w, nb, C);
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    if (stream) prefetch_ahead(w + ib);
    const __m256 dw = row_scales(w[ib].d), dminw = row_scales(w[ib].dmin);
    [[maybe_unused]] __m256i isum[C], imin[C];
    if constexpr (!PerPair)
      for (int c = 0; c < C; ++c) isum[c] = imin[c] = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      __m256i pair[C];
      for (int h = 0; h < 2; ++h) {
        __m256i s16[C];
        for (auto& v : s16) v = _mm256_setzero_si256();
        for (int k = 0; k < 8; ++k) {
          const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[ib].qs + 256 * j + 32 * k));
          const __m256i q = _mm256_and_si256(h ? _mm256_srli_epi16(packed, 4) : packed, m4);
          for (int c = 0; c < C; ++c)
            s16[c] = chained(_mm256_add_epi16(s16[c], _mm256_maddubs_epi16(q, codes4(x[c][ib].qs + 64 * j + 32 * h, k))));
        }
        const __m256i sc = rows_dup16(w[ib].scales + 8 * (2 * j + h));
        for (int c = 0; c < C; ++c)
          pair[c] = h ? _mm256_add_epi32(pair[c], _mm256_madd_epi16(s16[c], sc)) : _mm256_madd_epi16(s16[c], sc);
      }
      const __m256i mins = rows_pair16(w[ib].mins + 16 * j, w[ib].mins + 16 * j + 8);
      for (int c = 0; c < C; ++c) {
        const std::int16_t* bs = x[c][ib].bsums + 4 * j;
        const auto lo = static_cast<std::uint16_t>(bs[0] + bs[1]), hi = static_cast<std::uint16_t>(bs[2] + bs[3]);
        const __m256i pm = _mm256_madd_epi16(mins, _mm256_set1_epi32(static_cast<std::int32_t>(lo | (std::uint32_t{hi} << 16))));
        if constexpr (PerPair) {
          const __m256 dx = _mm256_set1_ps(x[c][ib].d);
          acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pair[c]), _mm256_mul_ps(dw, dx), acc[c]);
          acc_min[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pm), _mm256_mul_ps(dminw, dx), acc_min[c]);
        } else {
          isum[c] = _mm256_add_epi32(isum[c], pair[c]);
          imin[c] = _mm256_add_epi32(imin[c], pm);
        }
      }
    }
    if constexpr (!PerPair)
      for (int c = 0; c < C; ++c) {
        const __m256 dx = _mm256_set1_ps(x[c][ib].d);
        acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_mul_ps(dw, dx), acc[c]);
        acc_min[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin[c]), _mm256_mul_ps(dminw, dx), acc_min[c]);
      }
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + 8 * c, _mm256_sub_ps(acc[c], acc_min[c]));
}

template <int C>
void tile_q4_K_of(const std::byte* panel, const ggml::block_q8_K* x, std::size_t x_stride, std::int64_t n,
                  bool per_pair, float* out) {
  const ggml::block_q8_K* rows[C];
  for (int j = 0; j < C; ++j) rows[j] = x + static_cast<std::size_t>(j) * x_stride;
  const auto* w = reinterpret_cast<const block_q4_Kx8*>(panel);
  if (per_pair)
    tile_q4_K<C, true>(w, rows, n / ggml::QK_K, out);
  else
    tile_q4_K<C, false>(w, rows, n / ggml::QK_K, out);
}

// c (1..4) activation rows, x_stride blocks apart.
template <class Tile>
void tile_of(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride, std::int64_t n, int c,
             float* out) {
  const GgmlX8Activation* rows[4];
  for (int j = 0; j < c; ++j) rows[j] = x + static_cast<std::size_t>(j) * x_stride;
  const auto* w = reinterpret_cast<const typename Tile::Panel*>(panel);
  switch (c) {
    case 1: Tile::template run<1>(w, rows, n / 32, out); break;
    case 2: Tile::template run<2>(w, rows, n / 32, out); break;
    case 3: Tile::template run<3>(w, rows, n / 32, out); break;
    default: Tile::template run<4>(w, rows, n / 32, out); break;
  }
}

}  // namespace

void ggml_gemm_q4_Kx8_q8_K__avx2(const std::byte* panel, const ggml::block_q8_K* x, std::size_t x_stride,
                                 std::int64_t n, int c, bool per_pair, float* out) {
  switch (c) {
    case 1: tile_q4_K_of<1>(panel, x, x_stride, n, per_pair, out); break;
    case 2: tile_q4_K_of<2>(panel, x, x_stride, n, per_pair, out); break;
    case 3: tile_q4_K_of<3>(panel, x, x_stride, n, per_pair, out); break;
    default: tile_q4_K_of<4>(panel, x, x_stride, n, per_pair, out); break;
  }
}

void ggml_gemm_q4_0x8_q8_0__avx2(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                 std::int64_t n, int c, float* out) {
  tile_of<TileQ4<block_q4_0x8>>(panel, x, x_stride, n, c, out);
}

void ggml_gemm_q4_1x8_q8_1__avx2(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                 std::int64_t n, int c, float* out) {
  tile_of<TileQ4<block_q4_1x8>>(panel, x, x_stride, n, c, out);
}

void ggml_gemm_q5_0x8_q8_0__avx2(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                 std::int64_t n, int c, float* out) {
  tile_of<TileQ5_0>(panel, x, x_stride, n, c, out);
}

void ggml_gemm_q8_0x8_q8_0__avx2(const std::byte* panel, const GgmlX8Activation* x, std::size_t x_stride,
                                 std::int64_t n, int c, float* out) {
  tile_of<TileQ8_0>(panel, x, x_stride, n, c, out);
}

void ggml_gemm_q8_0x8_q8_0_pair__avx2(const std::byte* panel0, const std::byte* panel1, const GgmlX8Activation* x,
                                      std::int64_t n, float* out) {
  q8_0_pair(reinterpret_cast<const block_q8_0x8*>(panel0), reinterpret_cast<const block_q8_0x8*>(panel1), x, n / 32,
            out);
}

}  // namespace lowbit::kernels
