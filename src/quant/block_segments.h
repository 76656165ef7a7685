// Internal: walking a row of a tensor as runs of elements that share one parameter
// block. Every granularity reduces to "row r, columns [j0, j0+len) use block b", which
// lets quantize/dequantize handle tensor, any-axis channel and group in one loop.
#pragma once
#include <algorithm>
#include <cstdint>

#include "lowbit/quantize.h"

namespace lowbit {

template <typename Fn>
void for_each_segment(const BlockLayout& L, std::int64_t row, Fn&& fn) {
  if (L.cols == 0) return;
  if (L.num_blocks == 1) {
    fn(std::int64_t{0}, L.cols, std::int64_t{0});
  } else if (L.groups_per_row > 1 || (L.channels == 1 && L.num_blocks == L.rows)) {
    const std::int64_t g = L.group_size;
    for (std::int64_t gi = 0, j0 = 0; j0 < L.cols; ++gi, j0 += g)
      fn(j0, std::min(g, L.cols - j0), row * L.groups_per_row + gi);
  } else {
    // Channel granularity: flat index f = (o * channels + c) * inner + i.
    std::int64_t f = row * L.cols;
    const std::int64_t end = f + L.cols;
    while (f < end) {
      const std::int64_t c = (f / L.inner) % L.channels;
      const std::int64_t len = std::min(end - f, L.inner - f % L.inner);
      fn(f - row * L.cols, len, c);
      f += len;
    }
  }
}

}  // namespace lowbit
