// Eight-row panels (ggml_gemm_x8.h): the one-time repack of ggml rows, the activation
// blocks the tiles read, the kernel choice by CPU, and the matmul over threads.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string_view>

#include "kernels/ggml_gemm_x8.h"
#include "kernels/quant_rows.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/parallel.h"

namespace lowbit::kernels {

bool ggml_x8_supported(ggml::Type t) {
  return t == ggml::Type::Q4_0 || t == ggml::Type::Q4_1 || t == ggml::Type::Q5_0 || t == ggml::Type::Q8_0 ||
         t == ggml::Type::Q4_K;
}

namespace {
std::atomic<bool>& llamacpp_x86_order() {
  static std::atomic<bool> on = [] {
    const char* env = std::getenv("LOWBIT_LLAMACPP_X86_ORDER");
    return env && std::string_view(env) == "1";
  }();
  return on;
}
}  // namespace

bool ggml_x8_by_default(ggml::Type t) {
  if (t == ggml::Type::Q4_0 || t == ggml::Type::Q4_K) return true;
  return (t == ggml::Type::Q8_0 || t == ggml::Type::Q5_0 || t == ggml::Type::Q4_1) && !llamacpp_x86_order().load();
}

void ggml_x8_set_llamacpp_x86_order(bool on) { llamacpp_x86_order().store(on); }
bool ggml_x8_llamacpp_x86_order() { return llamacpp_x86_order().load(); }

namespace {

void repack_q4_K(std::span<const std::byte> rows_data, std::int64_t rows, std::int64_t nb, std::byte* out) {
  const auto* in = reinterpret_cast<const ggml::block_q4_K*>(rows_data.data());
  auto* o = reinterpret_cast<block_q4_Kx8*>(out);
  for (std::int64_t p = 0; p < rows / 8; ++p)
    for (std::int64_t ib = 0; ib < nb; ++ib) {
      block_q4_Kx8& dst = o[p * nb + ib];
      for (int r = 0; r < 8; ++r) {
        const ggml::block_q4_K& src = in[(p * 8 + r) * nb + ib];
        dst.d[r] = src.d;
        dst.dmin[r] = src.dmin;
        for (int s = 0; s < 8; ++s) ggml::get_scale_min(s, src.scales, dst.scales[8 * s + r], dst.mins[8 * s + r]);
        for (int j = 0; j < 4; ++j)
          for (int k = 0; k < 8; ++k) std::memcpy(dst.qs + 256 * j + 32 * k + 4 * r, src.qs + 32 * j + 4 * k, 4);
      }
    }
}

// Q5_0's fifth bits (qh, bit e = element e) into the panel's qh bytes 4 * r + t, bit p for
// element 4p + t and bit 4 + p for element 16 + 4p + t (ggml_gemm_x8.h), and back.
void q5_0_high_bits_to_panel(std::uint32_t qh, int r, std::uint8_t* panel_qh) {
  for (int t = 0; t < 4; ++t) {
    unsigned v = 0;
    for (int p = 0; p < 4; ++p) v |= ((qh >> (4 * p + t)) & 1u) << p | ((qh >> (16 + 4 * p + t)) & 1u) << (4 + p);
    panel_qh[4 * r + t] = static_cast<std::uint8_t>(v);
  }
}
std::uint32_t q5_0_high_bits_from_panel(const std::uint8_t* panel_qh, int r) {
  std::uint32_t qh = 0;
  for (int t = 0; t < 4; ++t)
    for (int p = 0; p < 4; ++p) {
      const unsigned v = panel_qh[4 * r + t];
      qh |= ((v >> p) & 1u) << (4 * p + t) | ((v >> (4 + p)) & 1u) << (16 + 4 * p + t);
    }
  return qh;
}

// Where the four-byte pieces of a Q4_0 / Q4_1 / Q5_0 / Q8_0 block sit: their count, their
// offset in the ggml block (after d, Q4_1's m, Q5_0's qh) and in the panel block (after
// the eight d, Q4_1's eight m, Q5_0's 32 qh bytes).
struct Pieces {
  int count;
  std::size_t row_qs, panel_qs;
};
Pieces pieces_of(ggml::Type t) {
  switch (t) {
    case ggml::Type::Q4_1: return {4, 4, 32};
    case ggml::Type::Q5_0: return {4, 6, 48};
    case ggml::Type::Q8_0: return {8, 2, 16};
    default: return {4, 2, 16};
  }
}

std::size_t panel_block_bytes(ggml::Type t) {
  switch (t) {
    case ggml::Type::Q4_0: return sizeof(block_q4_0x8);
    case ggml::Type::Q4_1: return sizeof(block_q4_1x8);
    case ggml::Type::Q5_0: return sizeof(block_q5_0x8);
    case ggml::Type::Q8_0: return sizeof(block_q8_0x8);
    default: return sizeof(block_q4_Kx8);
  }
}

}  // namespace

std::vector<std::byte> ggml_repack_x8(ggml::Type t, std::span<const std::byte> rows_data, std::int64_t rows,
                                      std::int64_t cols) {
  const std::int64_t bsize = ggml::traits(t).block_size;
  if (!ggml_x8_supported(t) || rows % 8 || cols % bsize)
    fail("ggml_repack_x8: ", ggml::traits(t).name, " ", rows, " x ", cols, " cannot be held in eight-row panels");
  const std::int64_t nb = cols / bsize;
  const std::size_t in_block = ggml::traits(t).type_size;
  const std::size_t out_block = panel_block_bytes(t);
  if (rows_data.size() != in_block * static_cast<std::size_t>(rows * nb))
    fail("ggml_repack_x8: ", rows_data.size(), " bytes for ", rows, " x ", cols, " ", ggml::traits(t).name);
  std::vector<std::byte> out(out_block * static_cast<std::size_t>(rows / 8 * nb));
  if (t == ggml::Type::Q4_K) {
    repack_q4_K(rows_data, rows, nb, out.data());
    return out;
  }
  // Q4_0, Q4_1, Q5_0 and Q8_0 move four bytes of a row at a time: 4 pieces of nibble
  // pairs for Q4_0, Q4_1 and Q5_0, 8 pieces of codes for Q8_0, after the fp16 d of the
  // eight rows (and Q4_1's mins, Q5_0's fifth bits).
  const Pieces pc = pieces_of(t);
  const bool q5 = t == ggml::Type::Q5_0, q41 = t == ggml::Type::Q4_1;
  for (std::int64_t p = 0; p < rows / 8; ++p)
    for (std::int64_t ib = 0; ib < nb; ++ib) {
      std::byte* dst = out.data() + out_block * static_cast<std::size_t>(p * nb + ib);
      for (int r = 0; r < 8; ++r) {
        const std::byte* src = rows_data.data() + in_block * static_cast<std::size_t>((p * 8 + r) * nb + ib);
        std::memcpy(dst + 2 * r, src, 2);
        if (q41) std::memcpy(dst + 16 + 2 * r, src + 2, 2);
        if (q5) {
          std::uint32_t qh;
          std::memcpy(&qh, src + 2, 4);
          q5_0_high_bits_to_panel(qh, r, reinterpret_cast<std::uint8_t*>(dst + 16));
        }
        for (int k = 0; k < pc.count; ++k) std::memcpy(dst + pc.panel_qs + 32 * k + 4 * r, src + pc.row_qs + 4 * k, 4);
      }
    }
  return out;
}

void ggml_x8_row(ggml::Type t, const std::byte* panels, std::int64_t cols, std::int64_t row, std::byte* out) {
  const std::int64_t nb = cols / ggml::traits(t).block_size, p = row / 8;
  const int r = static_cast<int>(row % 8);
  if (t == ggml::Type::Q4_K) {
    const auto* in = reinterpret_cast<const block_q4_Kx8*>(panels) + p * nb;
    auto* o = reinterpret_cast<ggml::block_q4_K*>(out);
    for (std::int64_t ib = 0; ib < nb; ++ib) {
      ggml::block_q4_K& dst = o[ib];
      dst.d = in[ib].d[r];
      dst.dmin = in[ib].dmin[r];
      std::memset(dst.scales, 0, sizeof(dst.scales));
      for (int s = 0; s < 8; ++s) ggml::put_scale_min(dst.scales, s, in[ib].scales[8 * s + r], in[ib].mins[8 * s + r]);
      for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 8; ++k) std::memcpy(dst.qs + 32 * j + 4 * k, in[ib].qs + 256 * j + 32 * k + 4 * r, 4);
    }
    return;
  }
  if (!ggml_x8_supported(t)) fail("ggml_x8_row: ", ggml::traits(t).name, " has no panels");
  const std::size_t in_block = ggml::traits(t).type_size;
  const std::size_t panel_block = panel_block_bytes(t);
  const Pieces pc = pieces_of(t);
  const bool q5 = t == ggml::Type::Q5_0, q41 = t == ggml::Type::Q4_1;
  for (std::int64_t ib = 0; ib < nb; ++ib) {
    const std::byte* src = panels + panel_block * static_cast<std::size_t>(p * nb + ib);
    std::byte* dst = out + in_block * static_cast<std::size_t>(ib);
    std::memcpy(dst, src + 2 * r, 2);
    if (q41) std::memcpy(dst + 2, src + 16 + 2 * r, 2);
    if (q5) {
      const std::uint32_t qh = q5_0_high_bits_from_panel(reinterpret_cast<const std::uint8_t*>(src + 16), r);
      std::memcpy(dst + 2, &qh, 4);
    }
    for (int k = 0; k < pc.count; ++k) std::memcpy(dst + pc.row_qs + 4 * k, src + pc.panel_qs + 32 * k + 4 * r, 4);
  }
}

std::vector<GgmlX8Activation> ggml_x8_activations(ggml::Type xt, const std::byte* x, std::size_t x_row_bytes,
                                                  std::int64_t m, std::int64_t k) {
  if (xt != ggml::Type::Q8_0 && xt != ggml::Type::Q8_1)
    fail("ggml_x8_activations: ", ggml::traits(xt).name, " is not an activation block type of the panels");
  const bool q8_1 = xt == ggml::Type::Q8_1;
  const std::size_t block = q8_1 ? sizeof(ggml::block_q8_1) : sizeof(ggml::block_q8_0);
  const std::int64_t nb = k / 32;
  std::vector<GgmlX8Activation> out(static_cast<std::size_t>(m * nb));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t ib = 0; ib < nb; ++ib) {
      const std::byte* b = x + static_cast<std::size_t>(i) * x_row_bytes + static_cast<std::size_t>(ib) * block;
      GgmlX8Activation& a = out[static_cast<std::size_t>(i * nb + ib)];
      std::uint16_t d, s16 = 0;  // both blocks start with fp16 d; Q8_1's s follows it
      std::memcpy(&d, b, 2);
      if (q8_1) std::memcpy(&s16, b + 2, 2);
      a.d = fp16_to_fp32(d);
      a.s = q8_1 ? fp16_to_fp32(s16) : 0.0f;
      std::memcpy(a.qs, b + (q8_1 ? 4 : 2), 32);
      std::int32_t sum = 0;
      for (const std::int8_t q : a.qs) sum += q;
      a.sum8 = 8 * sum;
    }
  return out;
}

GgmlGemmX8Fn ggml_gemm_x8_kernel(ggml::Type t, bool reference) {
  const bool fast = !reference && fast_kernels_enabled();
  switch (t) {
    case ggml::Type::Q4_0: return fast ? ggml_gemm_q4_0x8_q8_0__avx2 : ggml_gemm_q4_0x8_q8_0__ref;
    case ggml::Type::Q4_1: return fast ? ggml_gemm_q4_1x8_q8_1__avx2 : ggml_gemm_q4_1x8_q8_1__ref;
    case ggml::Type::Q5_0: return fast ? ggml_gemm_q5_0x8_q8_0__avx2 : ggml_gemm_q5_0x8_q8_0__ref;
    case ggml::Type::Q8_0: return fast ? ggml_gemm_q8_0x8_q8_0__avx2 : ggml_gemm_q8_0x8_q8_0__ref;
    default: return nullptr;
  }
}

GgmlGemmX8PairFn ggml_gemm_x8_pair_kernel(ggml::Type t, bool reference) {
  if (t != ggml::Type::Q8_0) return nullptr;
  return !reference && fast_kernels_enabled() ? ggml_gemm_q8_0x8_q8_0_pair__avx2 : ggml_gemm_q8_0x8_q8_0_pair__ref;
}

GgmlGemmKx8Fn ggml_gemm_kx8_kernel(bool reference) {
  return !reference && fast_kernels_enabled() ? ggml_gemm_q4_Kx8_q8_K__avx2 : ggml_gemm_q4_Kx8_q8_K__ref;
}

void ggml_mul_mat_x8(ggml::Type t, bool reference, const std::byte* panels, std::size_t panel_bytes,
                     std::int64_t rows, const std::byte* x, std::size_t x_row_bytes, std::int64_t m, std::int64_t k,
                     float* y, int threads) {
  // tile(panel, first activation row, count, out): Q4_K reads the Q8_K rows as they are,
  // Q4_0/Q4_1/Q5_0/Q8_0 read converted blocks (fp32 d and the code sum).
  std::vector<GgmlX8Activation> act;
  std::function<void(const std::byte*, std::int64_t, int, float*)> tile;
  if (t == ggml::Type::Q4_K) {
    const GgmlGemmKx8Fn fn = ggml_gemm_kx8_kernel(reference);
    const auto* xk = reinterpret_cast<const ggml::block_q8_K*>(x);
    const std::size_t stride = x_row_bytes / sizeof(ggml::block_q8_K);
    // Tiles start at multiples of 4, so none straddles m - m % 4.
    const std::int64_t grouped = m - m % 4;
    tile = [=](const std::byte* panel, std::int64_t i, int c, float* out) {
      fn(panel, xk + static_cast<std::size_t>(i) * stride, stride, k, c, i < grouped, out);
    };
  } else {
    const GgmlGemmX8Fn fn = ggml_gemm_x8_kernel(t, reference);
    if (!fn) fail("ggml_mul_mat_x8: no panel kernel for ", ggml::traits(t).name);
    act = ggml_x8_activations(t == ggml::Type::Q4_1 ? ggml::Type::Q8_1 : ggml::Type::Q8_0, x, x_row_bytes, m, k);
    const std::size_t nb = static_cast<std::size_t>(k / 32);
    tile = [&, fn, nb](const std::byte* panel, std::int64_t i, int c, float* out) {
      fn(panel, act.data() + static_cast<std::size_t>(i) * nb, nb, k, c, out);
    };
  }
  if (rows * m * k < kParallelMinWork) threads = 1;
  if (const GgmlGemmX8PairFn pair = m == 1 ? ggml_gemm_x8_pair_kernel(t, reference) : nullptr) {
    // Each thread pairs panel p with p + h, h half its range, and takes an odd one alone.
    parallel_for(static_cast<std::size_t>(rows / 8), threads, 4, [&](std::size_t p0, std::size_t p1) {
      float out[16];
      const std::size_t h = (p1 - p0) / 2;
      for (std::size_t p = p0; p < p0 + h; ++p) {
        pair(panels + p * panel_bytes, panels + (p + h) * panel_bytes, act.data(), k, out);
        std::memcpy(y + 8 * p, out, 8 * sizeof(float));
        std::memcpy(y + 8 * (p + h), out + 8, 8 * sizeof(float));
      }
      if ((p1 - p0) % 2) {
        tile(panels + (p1 - 1) * panel_bytes, 0, 1, out);
        std::memcpy(y + 8 * (p1 - 1), out, 8 * sizeof(float));
      }
    });
    return;
  }
  // Threads take whole panels; 64 activation rows (k = 4096: 320 KB) stay in L2 while a
  // thread's panels stream past them, and each panel stays in L1 while those rows pass it
  // four at a time.
  parallel_for(static_cast<std::size_t>(rows / 8), threads, 4, [&](std::size_t p0, std::size_t p1) {
    float out[32];
    for (std::int64_t i0 = 0; i0 < m; i0 += 64) {
      const std::int64_t i1 = std::min(m, i0 + 64);
      for (std::size_t p = p0; p < p1; ++p)
        for (std::int64_t i = i0; i < i1; i += 4) {
          const int c = static_cast<int>(std::min<std::int64_t>(4, i1 - i));
          tile(panels + p * panel_bytes, i, c, out);
          for (int j = 0; j < c; ++j)
            std::memcpy(y + (i + j) * rows + static_cast<std::int64_t>(8 * p), out + 8 * j, 8 * sizeof(float));
        }
    }
  });
}

}  // namespace lowbit::kernels
