// Deterministic fork-join over an index range: the range is split into `threads`
// contiguous chunks fixed by (n, threads) alone, so results never depend on scheduling.
// Work items must write disjoint outputs; reductions combine per-chunk partials in order.
#pragma once
#include <cstdint>
#include <cstddef>
#include <functional>

namespace lowbit {

// Multiply-adds below which a product runs on one thread: handing chunks to the pool costs
// a few microseconds, about what 2^17 multiply-adds of quantized weights take on one core.
constexpr std::int64_t kParallelMinWork = std::int64_t{1} << 17;

// Number of hardware threads (at least 1).
int hardware_threads();

// Calls fn(begin, end) on [0, n) split into at most `threads` chunks, each a multiple of
// `grain` long (except the last). threads <= 0 means hardware_threads().
void parallel_for(std::size_t n, int threads, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& fn);

}  // namespace lowbit
