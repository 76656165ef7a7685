// libFuzzer target for the importance-matrix reader (GGUF and legacy .dat): any input
// must either load or throw lowbit::Error. Inputs that load get llama-quantize's values
// for every entry, with the sizes they must have, the per-tensor lookup for the shape the
// entry implies, and (legacy form) the conversion to GGUF statistics.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/imatrix.h"

namespace {
[[noreturn]] void mismatch() { std::abort(); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(size);
  if (size) std::memcpy(bytes.data(), data, size);
  lowbit::Imatrix m;
  try {
    m = lowbit::Imatrix::parse(bytes, "fuzz-input");
  } catch (const lowbit::Error&) {
    return 0;
  }
  for (const auto& [name, e] : m.entries) {
    if (e.sums.empty() || e.counts.empty()) mismatch();
    const std::vector<float> v = m.values(name);
    if (v.size() != e.sums.size()) mismatch();
    // The shape llama-quantize would accept: ne[0] * ne[2] values.
    const std::int64_t n_mat = m.format == lowbit::ImatrixFormat::Gguf ? static_cast<std::int64_t>(e.counts.size()) : 1;
    const std::vector<std::int64_t> ne{static_cast<std::int64_t>(v.size()) / n_mat, 3, n_mat};
    try {
      const auto t = m.for_tensor(name, ne);
      if (!t || t->size() != v.size()) mismatch();
    } catch (const lowbit::Error&) {
      // only for non-finite values, which check_finite must then report too
      try {
        m.check_finite();
        mismatch();
      } catch (const lowbit::Error&) {
      }
    }
  }
  if (m.format == lowbit::ImatrixFormat::LegacyDat) {
    const lowbit::Imatrix g = m.legacy_to_gguf(512);
    if (g.entries.size() != m.entries.size()) mismatch();
  }
  return 0;
}
