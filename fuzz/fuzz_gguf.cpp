// libFuzzer target for the GGUF reader: any input must either parse or throw
// lowbit::Error (ASan/UBSan catch the rest). Inputs that parse have every value and
// tensor byte touched, are copied through GgufWriter and parsed again, which must give
// back the same metadata and tensors; writing that copy again must give the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/gguf.h"

namespace {

[[noreturn]] void mismatch() { std::abort(); }

std::uint64_t touch(const lowbit::GgufValue& v) {
  std::uint64_t sum = v.describe().size();
  for (std::byte b : v.raw()) sum += std::to_integer<unsigned>(b);
  if (v.type() == lowbit::GgufType::String) sum += v.as_string().size();
  if (v.is_array()) {
    if (v.size() > 0 && !(v.element(0) == v.element(0))) mismatch();
    switch (v.element_type()) {
      case lowbit::GgufType::String:
        for (const auto& s : v.as_string_array()) sum += s.size();
        break;
      case lowbit::GgufType::Array:
        for (const auto& item : v.as_array_of_arrays()) sum += touch(item);
        break;
      default:
        if (v.raw().size() != v.size() * lowbit::gguf_scalar_size(v.element_type())) mismatch();
    }
  }
  return sum;
}

// The writer refuses tensor names ggml cannot load; such files are read but not copied.
bool writable(const lowbit::GgufFile& f) {
  for (const auto& t : f.tensors())
    if (t.name.empty() || t.name.size() > lowbit::kGgufMaxTensorName) return false;
  return true;
}

void round_trip(const lowbit::GgufFile& f) {
  lowbit::GgufWriter w;
  w.copy_metadata(f);
  for (const auto& t : f.tensors()) w.add_tensor(t);
  const std::vector<std::byte> image = w.to_bytes();
  const auto g = lowbit::GgufFile::parse(image, "round-trip");
  if (g.metadata() != f.metadata() || g.alignment() != f.alignment() || g.tensors().size() != f.tensors().size())
    mismatch();
  for (std::size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& a = f.tensors()[i];
    const auto& b = g.tensors()[i];
    if (a.name != b.name || a.n_dims != b.n_dims || a.ne != b.ne || a.type != b.type || a.nbytes != b.nbytes ||
        (a.nbytes && std::memcmp(a.data.data(), b.data.data(), a.nbytes) != 0))
      mismatch();
    if (g.find(a.name) != &b || b.offset % g.alignment() != 0) mismatch();
  }
  // The writer's layout is canonical: writing what it wrote gives the same bytes.
  lowbit::GgufWriter w2;
  w2.copy_metadata(g);
  for (const auto& t : g.tensors()) w2.add_tensor(t);
  if (w2.to_bytes() != image) mismatch();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Copy so that ASan sees reads past the end as heap overflows rather than reads of
  // the fuzzer's own larger buffer.
  std::vector<std::byte> bytes(size);
  if (size) std::memcpy(bytes.data(), data, size);
  try {
    const auto f = lowbit::GgufFile::parse(bytes, "fuzz-input");
    std::uint64_t sum = 0;
    for (const auto& kv : f.metadata()) {
      sum += kv.key.size() + touch(kv.value);
      if (f.find_kv(kv.key) != &kv) mismatch();
    }
    for (const auto& t : f.tensors()) {
      for (std::byte b : t.data) sum += std::to_integer<unsigned>(b);
      const auto n = lowbit::gguf_tensor_nbytes(t.type, t.shape());
      if (!n || *n != t.nbytes || t.data.size() != t.nbytes) mismatch();
      if (t.data.data() + t.data.size() > bytes.data() + bytes.size()) mismatch();
      if (f.data_offset() % f.alignment() != 0) mismatch();
    }
    if (writable(f)) {
      // Whatever the reader accepts (bar those names) the writer must take.
      try {
        round_trip(f);
      } catch (const lowbit::Error&) {
        mismatch();
      }
    }
    return sum == 0xFFFFFFFFFFFFFFFFull ? -1 : 0;
  } catch (const lowbit::Error&) {
    return 0;
  }
}
