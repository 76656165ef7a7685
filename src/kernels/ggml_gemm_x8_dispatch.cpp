// Eight-row panels (ggml_gemm_x8.h): the one-time repack of ggml rows, the activation
// blocks the tiles read, the kernel choice by CPU, and the matmul over threads.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "kernels/ggml_gemm_x8.h"
#include "kernels/quant_rows.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/parallel.h"

namespace lowbit::kernels {

bool ggml_x8_supported(ggml::Type t) { return t == ggml::Type::Q4_0 || t == ggml::Type::Q8_0; }

bool ggml_x8_by_default(ggml::Type t) {
  static const bool q8_0 = [] {
    const char* env = std::getenv("LOWBIT_Q8_0_PANELS");
    return env && std::string_view(env) == "1";
  }();
  return t == ggml::Type::Q4_0 || (t == ggml::Type::Q8_0 && q8_0);
}

std::vector<std::byte> ggml_repack_x8(ggml::Type t, std::span<const std::byte> rows_data, std::int64_t rows,
                                      std::int64_t cols) {
  if (!ggml_x8_supported(t) || rows % 8 || cols % 32)
    fail("ggml_repack_x8: ", ggml::traits(t).name, " ", rows, " x ", cols, " cannot be held in eight-row panels");
  const std::int64_t nb = cols / 32;
  const bool q4 = t == ggml::Type::Q4_0;
  const std::size_t in_block = q4 ? sizeof(ggml::block_q4_0) : sizeof(ggml::block_q8_0);
  const std::size_t out_block = q4 ? sizeof(block_q4_0x8) : sizeof(block_q8_0x8);
  if (rows_data.size() != in_block * static_cast<std::size_t>(rows * nb))
    fail("ggml_repack_x8: ", rows_data.size(), " bytes for ", rows, " x ", cols, " ", ggml::traits(t).name);
  std::vector<std::byte> out(out_block * static_cast<std::size_t>(rows / 8 * nb));
  for (std::int64_t p = 0; p < rows / 8; ++p)
    for (std::int64_t ib = 0; ib < nb; ++ib) {
      std::byte* dst = out.data() + out_block * static_cast<std::size_t>(p * nb + ib);
      for (int r = 0; r < 8; ++r) {
        const std::byte* src = rows_data.data() + in_block * static_cast<std::size_t>((p * 8 + r) * nb + ib);
        std::memcpy(dst + 2 * r, src, 2);  // d
        // Both layouts move four bytes of a row at a time: 4 pieces of nibble pairs for
        // Q4_0, 8 pieces of codes for Q8_0.
        const int pieces = q4 ? 4 : 8;
        for (int k = 0; k < pieces; ++k) std::memcpy(dst + 16 + 32 * k + 4 * r, src + 2 + 4 * k, 4);
      }
    }
  return out;
}

std::vector<GgmlX8Activation> ggml_x8_activations(const std::byte* x, std::size_t x_row_bytes, std::int64_t m,
                                                  std::int64_t k) {
  const std::int64_t nb = k / 32;
  std::vector<GgmlX8Activation> out(static_cast<std::size_t>(m * nb));
  for (std::int64_t i = 0; i < m; ++i) {
    const auto* b = reinterpret_cast<const ggml::block_q8_0*>(x + static_cast<std::size_t>(i) * x_row_bytes);
    for (std::int64_t ib = 0; ib < nb; ++ib) {
      GgmlX8Activation& a = out[static_cast<std::size_t>(i * nb + ib)];
      a.d = fp16_to_fp32(b[ib].d);
      std::int32_t s = 0;
      for (int e = 0; e < 32; ++e) s += b[ib].qs[e];
      a.sum8 = 8 * s;
      std::memcpy(a.qs, b[ib].qs, 32);
    }
  }
  return out;
}

GgmlGemmX8Fn ggml_gemm_x8_kernel(ggml::Type t, bool reference) {
  const bool fast = !reference && fast_kernels_enabled();
  switch (t) {
    case ggml::Type::Q4_0: return fast ? ggml_gemm_q4_0x8_q8_0__avx2 : ggml_gemm_q4_0x8_q8_0__ref;
    case ggml::Type::Q8_0: return fast ? ggml_gemm_q8_0x8_q8_0__avx2 : ggml_gemm_q8_0x8_q8_0__ref;
    default: return nullptr;
  }
}

void ggml_mul_mat_x8(GgmlGemmX8Fn tile, const std::byte* panels, std::size_t panel_bytes, std::int64_t rows,
                     const std::byte* x, std::size_t x_row_bytes, std::int64_t m, std::int64_t k, float* y,
                     int threads) {
  const std::int64_t nb = k / 32;
  const auto act = ggml_x8_activations(x, x_row_bytes, m, k);
  if (rows * m * k < kParallelMinWork) threads = 1;
  // Threads take whole panels; 64 activation rows (k = 4096: 320 KB) stay in L2 while a
  // thread's panels stream past them, and each panel stays in L1 while those rows pass it
  // four at a time.
  parallel_for(static_cast<std::size_t>(rows / 8), threads, 4, [&](std::size_t p0, std::size_t p1) {
    float out[32];
    for (std::int64_t i0 = 0; i0 < m; i0 += 64) {
      const std::int64_t i1 = std::min(m, i0 + 64);
      for (std::size_t p = p0; p < p1; ++p) {
        for (std::int64_t i = i0; i < i1; i += 4) {
          const int c = static_cast<int>(std::min<std::int64_t>(4, i1 - i));
          tile(panels + p * panel_bytes, act.data() + static_cast<std::size_t>(i * nb), static_cast<std::size_t>(nb),
               k, c, out);
          for (int j = 0; j < c; ++j)
            std::memcpy(y + (i + j) * rows + static_cast<std::int64_t>(8 * p), out + 8 * j, 8 * sizeof(float));
        }
      }
    }
  });
}

}  // namespace lowbit::kernels
