// Causal attention exactly as llama.cpp's x86 CPU backend computes its non-flash path:
// K, V and Q rounded to fp16, q.k through tinyBLAS's fp16 lanes, soft_max_ext with
// ggml_v_expf in groups of eight summed in double, probabilities rounded to fp16, and
// p.v through tinyBLAS again. Every step in ggml's order, so results match bit for bit;
// the keys and values come from a KV cache, so decoding one token reads only its own row.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/ggml_dot.h"
#include "kernels/ggml_expf.h"
#include "kernels/quant_rows.h"
#include "lowbit/error.h"
#include "lowbit/parallel.h"
#include "model/decoder_ops.h"

namespace lowbit::model {

void attention_cached_ggml_cpu(const float* q, const KvView& kv, float* out, const AttentionShape& s, int threads) {
  const std::int64_t T = s.T, cap = kv.capacity;
  if (s.past + T > cap) fail("attention over ", s.past + T, " positions in a KV cache of ", cap);
  const int hd = s.head_dim;
  const int group = s.n_head / s.n_head_kv;
  const std::int64_t qstride = static_cast<std::int64_t>(s.n_head) * hd;
  const auto dot = kernels::ggml_dot_f16_tinyblas_kernel();
  const auto tile = kernels::ggml_dot_f16_tinyblas_tile_kernel();
  const auto expf8 = kernels::ggml_expf8_kernel();
  // fp16 rounding through the vector casts (bit for bit the scalar codec's).
  const auto& casts = kernels::quant_rows();
  const auto h16 = [&](float* x, std::int64_t n, std::uint16_t* scratch) {
    casts.fp32_to_fp16(x, n, scratch);
    casts.fp16_to_fp32(scratch, n, x);
  };
  parallel_for(static_cast<std::size_t>(s.n_head), threads, 1, [&](std::size_t h0, std::size_t h1) {
    std::vector<float> qh(static_cast<std::size_t>(T * hd));
    std::vector<float> w(static_cast<std::size_t>(3 * cap), 0.0f), p(static_cast<std::size_t>(cap));
    std::vector<std::uint16_t> half(std::max<std::size_t>(p.size(), qh.size()));
    for (std::size_t h = h0; h < h1; ++h) {
      const std::int64_t kvh = static_cast<std::int64_t>(h) / group;
      const float* kh = kv.k + kvh * cap * hd;  // fp16 values, rows of head_dim
      const float* vt = kv.v + kvh * hd * cap;  // fp16 values, rows of capacity
      for (std::int64_t t = 0; t < T; ++t)
        std::copy_n(q + t * qstride + static_cast<std::int64_t>(h) * hd, hd, qh.data() + t * hd);
      h16(qh.data(), T * hd, half.data());
      // Queries three at a time: the keys all three see go through 4 x 3 tiles (each
      // score still its own tinyBLAS dot), the rest of each query's keys alone.
      for (std::int64_t i0 = 0; i0 < T; i0 += 3) {
        const int g = static_cast<int>(std::min<std::int64_t>(3, T - i0));
        std::int64_t lo[3], ia[3];
        for (int u = 0; u < g; ++u) {
          ia[u] = s.past + i0 + u;  // the query's position
          lo[u] = s.window > 0 ? std::max<std::int64_t>(0, ia[u] - s.window + 1) : 0;
        }
        float* wq[3] = {w.data(), w.data() + cap, w.data() + 2 * cap};
        const float* qq = qh.data() + i0 * hd;
        // Scores of keys j0 <= j < j1 for queries u0..u0+c-1 (c = 1..3).
        auto scores = [&](int u0, int c, std::int64_t j0, std::int64_t j1) {
          std::int64_t j = j0;
          for (; j + 4 <= j1; j += 4) {
            float s12[12];
            tile(kh + j * hd, hd, qq + u0 * hd, hd, hd, c, s12);
            for (int u = 0; u < c; ++u)
              for (int r = 0; r < 4; ++r) wq[u0 + u][j + r] = s12[u * 4 + r] * s.scale;
          }
          for (; j < j1; ++j)
            for (int u = 0; u < c; ++u) wq[u0 + u][j] = dot(kh + j * hd, qq + (u0 + u) * hd, hd) * s.scale;
        };
        const std::int64_t c0 = lo[g - 1], c1 = std::max(c0, ia[0] + 1);  // keys every query sees
        scores(0, g, c0, c1);
        for (int u = 0; u < g; ++u) {
          scores(u, 1, lo[u], c0);
          scores(u, 1, c1, ia[u] + 1);
        }
        for (int u = 0; u < g; ++u) {
          const float* wu = wq[u];
          float mx = -std::numeric_limits<float>::infinity();
          for (std::int64_t j = lo[u]; j <= ia[u]; ++j) mx = std::max(mx, wu[j]);
          const std::int64_t n = (ia[u] + 1 + 7) / 8 * 8;  // the groups of eight that hold unmasked keys
          // ggml_vec_soft_max_f32: exp in groups of eight, each group folded in float and
          // added to a double; masked keys contribute exp(-inf) = 0.
          double sum = 0.0;
          for (std::int64_t gr = 0; gr < n; gr += 8) {
            float d[8];
            for (int l = 0; l < 8; ++l) d[l] = wu[gr + l] - mx;
            expf8(d, p.data() + gr);
            for (std::int64_t jj = gr; jj < gr + 8; ++jj)
              if (jj < lo[u] || jj > ia[u]) p[static_cast<std::size_t>(jj)] = 0.0f;
            sum += static_cast<double>(kernels::ggml_hsum8(p.data() + gr));
          }
          const auto inv = static_cast<float>(1.0 / sum);
          for (std::int64_t jj = 0; jj < n; ++jj) p[static_cast<std::size_t>(jj)] *= inv;
          h16(p.data(), n, half.data());
          float* o = out + (i0 + u) * qstride + static_cast<std::int64_t>(h) * hd;
          int d = 0;
          for (; d + 4 <= hd; d += 4) tile(vt + static_cast<std::int64_t>(d) * cap, cap, p.data(), n, n, 1, o + d);
          for (; d < hd; ++d) o[d] = dot(vt + static_cast<std::int64_t>(d) * cap, p.data(), n);
        }
      }
    }
  });
}

}  // namespace lowbit::model
