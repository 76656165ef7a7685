// The pieces of the tensor copy engine (TMA) the Hopper kernels share: mbarriers that count
// a stage's bytes, box copies of 2-D and 4-D tensor maps, the driver's map encoder reached
// through the runtime (no link against libcuda) and a per-thread cache of encoded maps.
#pragma once
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace lowbit::cuda::detail {

__device__ __forceinline__ void mbar_init(std::uint32_t bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(std::uint32_t bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(std::uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Returns once the barrier's phase of this parity has completed.
__device__ __forceinline__ void mbar_wait(std::uint32_t bar, unsigned parity) {
  unsigned done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}
// A box of the 2-D tensor map at (inner coordinate c0 = k, outer c1 = row) into shared
// memory, counted on the mbarrier; rows past the tensor's end arrive as zeros.
__device__ __forceinline__ void tma_load(std::uint32_t dst, const CUtensorMap* map, int c0, int c1,
                                         std::uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          dst),
      "l"(reinterpret_cast<std::uint64_t>(map)), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}
// The same for a 4-D map (coordinates innermost first).
__device__ __forceinline__ void tma_load_4d(std::uint32_t dst, const CUtensorMap* map, int c0, int c1, int c2, int c3,
                                            std::uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], "
      "[%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<std::uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                 const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                 CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

inline EncodeTiled encode_tiled() {
  static const EncodeTiled fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
      return EncodeTiled{nullptr};
    return reinterpret_cast<EncodeTiled>(p);
  }();
  return fn;
}

// What a map is a pure function of: the tensor's address, two extents, the box and which
// kind of map the caller builds from them.
struct TmaKey {
  const void* p = nullptr;
  long long a = 0, b = 0;
  int box = 0, kind = 0;
  bool operator==(const TmaKey& o) const { return p == o.p && a == o.a && b == o.b && box == o.box && kind == o.kind; }
};

// The map for key, encoded by encode(CUtensorMap*) -> CUresult the first time and kept per
// thread among the last few, so a call does not ask the driver to encode its maps again;
// null when encoding fails. The pointer holds only until the thread's next lookup, which
// may encode into the same entry: copy the map out first. Kinds name the map builders, one
// each, so equal keys mean equal maps.
template <class Encode>
const CUtensorMap* cached_tensor_map(const TmaKey& key, Encode&& encode) {
  struct Entry {
    TmaKey key;
    CUtensorMap map;
  };
  constexpr int kEntries = 16;
  thread_local Entry cache[kEntries];
  thread_local int next = 0;
  for (const Entry& e : cache)
    if (e.key.p != nullptr && e.key == key) return &e.map;
  Entry& e = cache[next];
  e.key = TmaKey{};  // invalid until encoded
  if (encode(&e.map) != CUDA_SUCCESS) return nullptr;
  e.key = key;
  next = (next + 1) % kEntries;
  return &e.map;
}

}  // namespace lowbit::cuda::detail
