// Deterministic fork-join over an index range (see include/lowbit/parallel.h) on a
// process-wide pool of worker threads: generation calls parallel_for hundreds of times per
// token, and starting threads each time cost more than the work (~20 µs per thread). Which
// chunk runs where never changes a result: the chunks are fixed by (n, threads) alone.
#include "lowbit/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOWBIT_PAUSE() _mm_pause()
#else
#define LOWBIT_PAUSE() std::this_thread::yield()
#endif

namespace lowbit {
namespace {

// Workers spin this many pauses (~50 µs) for the next job before sleeping: back-to-back
// calls then start without a futex wake-up.
constexpr int kSpin = 20000;

class Pool {
 public:
  static Pool& get() {
    static Pool* pool = new Pool;  // never destroyed: no worker outlives its pool at exit
    return *pool;
  }

  // Runs chunk(0) here and chunk(1 .. chunks - 1) on workers; false when the pool is
  // already running a job (a nested or concurrent call), which then runs inline instead.
  bool try_run(std::size_t chunks, const std::function<void(std::size_t)>& chunk) {
    std::unique_lock<std::mutex> own(run_mu_, std::try_to_lock);
    if (!own.owns_lock()) return false;
    // A new worker starts from the generation before this job's, whenever it gets to run.
    const std::uint64_t before = gen_.load(std::memory_order_acquire);
    while (workers_.size() + 1 < chunks) {
      const std::size_t idx = workers_.size();
      workers_.emplace_back([this, idx, before] { work(idx, before); });
    }
    pending_.store(chunks - 1, std::memory_order_relaxed);
    {
      const std::lock_guard<std::mutex> lock(mu_);
      job_ = &chunk;
      chunks_ = chunks;
      gen_.fetch_add(1, std::memory_order_acq_rel);
    }
    cv_.notify_all();
    chunk(0);
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < kSpin)
        LOWBIT_PAUSE();
      else
        std::this_thread::yield();
    }
    return true;
  }

 private:
  void work(std::size_t idx, std::uint64_t seen) {
    for (;;) {
      int spin = 0;
      while (gen_.load(std::memory_order_acquire) == seen && spin < kSpin) {
        LOWBIT_PAUSE();
        ++spin;
      }
      const std::function<void(std::size_t)>* job;
      std::size_t chunks;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return gen_.load(std::memory_order_acquire) != seen; });
        seen = gen_.load(std::memory_order_acquire);
        job = job_;
        chunks = chunks_;
      }
      if (idx + 1 < chunks) {
        (*job)(idx + 1);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  std::mutex run_mu_;  // held by the call the pool is working for
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  std::atomic<std::uint64_t> gen_{0};
  std::atomic<std::size_t> pending_{0};
  const std::function<void(std::size_t)>* job_ = nullptr;
  std::size_t chunks_ = 0;
};

}  // namespace

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
  const std::size_t most = std::min<std::size_t>(units, static_cast<std::size_t>(threads));
  // Chunks of `per` units; the last may be shorter, none is empty.
  const std::size_t per = (units + most - 1) / most;
  const std::size_t chunks = (units + per - 1) / per;
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  std::vector<std::exception_ptr> errors(chunks);
  const std::function<void(std::size_t)> chunk = [&](std::size_t c) {
    try {
      fn(std::min(n, c * per * grain), std::min(n, (c + 1) * per * grain));
    } catch (...) {
      errors[c] = std::current_exception();
    }
  };
  if (!Pool::get().try_run(chunks, chunk))
    for (std::size_t c = 0; c < chunks; ++c) chunk(c);
  for (auto& err : errors)
    if (err) std::rethrow_exception(err);
}

}  // namespace lowbit
