// A batch tile's width as a compile-time constant: the AVX2 tiles keep one running sum per
// activation in registers only when the count is known to the compiler, so callers
// dispatch their run-time width through this once per tile.
#pragma once
#include <type_traits>

#include "kernels/ggml_dot.h"

namespace lowbit::kernels {

// Calls f(std::integral_constant<int, C>{}) with C = c for c in 1..kGgmlTileCols (wider
// asks get kGgmlTileCols).
template <class F>
void with_tile_cols(int c, F&& f) {
  static_assert(kGgmlTileCols == 8);
  switch (c) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 5: f(std::integral_constant<int, 5>{}); break;
    case 6: f(std::integral_constant<int, 6>{}); break;
    case 7: f(std::integral_constant<int, 7>{}); break;
    default: f(std::integral_constant<int, 8>{}); break;
  }
}

}  // namespace lowbit::kernels
