// Deterministic fork-join over an index range (see include/lowbit/parallel.h).
// std::thread per call is enough at the granularity lowbit uses (a tensor or a
// row block per chunk); a pool can replace it behind the same signature.
#include "lowbit/parallel.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace lowbit {

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void parallel_for(std::size_t n, int threads, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n == 0) return;
  if (threads <= 0) threads = hardware_threads();
  if (grain == 0) grain = 1;
  const std::size_t units = (n + grain - 1) / grain;
  const std::size_t chunks = std::min<std::size_t>(units, static_cast<std::size_t>(threads));
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  const std::size_t per = (units + chunks - 1) / chunks;
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(chunks);
  for (std::size_t c = 0; c < chunks; ++c) {
    const std::size_t b = std::min(n, c * per * grain);
    const std::size_t e = std::min(n, (c + 1) * per * grain);
    if (b >= e) break;
    pool.emplace_back([&, c, b, e] {
      try {
        fn(b, e);
      } catch (...) {
        errors[c] = std::current_exception();
      }
    });
  }
  for (auto& t : pool) t.join();
  for (auto& err : errors)
    if (err) std::rethrow_exception(err);
}

}  // namespace lowbit
