// parallel_for on its worker pool against its contract (include/lowbit/parallel.h), by
// exhaustive enumeration of small ranges: every index visited exactly once, chunks
// contiguous, grain-aligned and at most `threads` of them, fixed by (n, threads, grain)
// alone; nested and concurrent calls finish (they run inline) and exceptions reach the caller.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "lowbit/parallel.h"

using lowbit::parallel_for;

namespace {

std::vector<std::pair<std::size_t, std::size_t>> chunks_of(std::size_t n, int threads, std::size_t grain) {
  std::mutex mu;
  std::vector<std::pair<std::size_t, std::size_t>> seen;
  parallel_for(n, threads, grain, [&](std::size_t b, std::size_t e) {
    const std::lock_guard<std::mutex> lock(mu);
    seen.emplace_back(b, e);
  });
  std::sort(seen.begin(), seen.end());
  return seen;
}

}  // namespace

TEST(ParallelFor, ChunksCoverTheRangeOnceWithinTheContract) {
  for (std::size_t n = 1; n <= 70; ++n)
    for (int threads : {1, 2, 3, 4, 7})
      for (std::size_t grain : {1u, 2u, 3u, 8u, 64u}) {
        const auto c = chunks_of(n, threads, grain);
        ASSERT_FALSE(c.empty());
        EXPECT_LE(c.size(), static_cast<std::size_t>(threads));
        EXPECT_EQ(c.front().first, 0u);
        EXPECT_EQ(c.back().second, n);
        for (std::size_t i = 0; i < c.size(); ++i) {
          EXPECT_LT(c[i].first, c[i].second) << "empty chunk";
          if (i > 0) {
            EXPECT_EQ(c[i].first, c[i - 1].second) << "gap or overlap";
          }
          if (i + 1 < c.size()) {
            EXPECT_EQ(c[i].second % grain, 0u) << "chunk end off the grain";
          }
        }
        // The same (n, threads, grain) always gives the same chunks.
        EXPECT_EQ(chunks_of(n, threads, grain), c) << n << " " << threads << " " << grain;
      }
}

TEST(ParallelFor, NestedAndConcurrentCallsFinishAndCover) {
  std::atomic<int> total{0};
  parallel_for(8, 4, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i)
      parallel_for(10, 3, 1, [&](std::size_t b2, std::size_t e2) { total += static_cast<int>(e2 - b2); });
  });
  EXPECT_EQ(total.load(), 80);

  std::vector<std::thread> callers;
  std::vector<int> sums(4, 0);
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&, c] {
      for (int rep = 0; rep < 200; ++rep) {
        std::atomic<int> s{0};
        parallel_for(33, 2, 1, [&](std::size_t b, std::size_t e) { s += static_cast<int>(e - b); });
        sums[static_cast<std::size_t>(c)] += s.load();
      }
    });
  for (auto& t : callers) t.join();
  for (int s : sums) EXPECT_EQ(s, 200 * 33);
}

TEST(ParallelFor, AnExceptionInAChunkReachesTheCaller) {
  EXPECT_THROW(parallel_for(100, 4, 1,
                            [](std::size_t b, std::size_t) {
                              if (b > 0) throw std::runtime_error("chunk failed");
                            }),
               std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int> n{0};
  parallel_for(100, 4, 1, [&](std::size_t b, std::size_t e) { n += static_cast<int>(e - b); });
  EXPECT_EQ(n.load(), 100);
}
