// libFuzzer target for the safetensors reader: any input must either parse or throw
// lowbit::Error (ASan/UBSan catch the rest). Inputs that parse are re-serialised with the
// writer's header code and parsed again, which must give back the same tensors, and
// every tensor is decoded with tensor_to_f32.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/safetensors.h"

namespace {

[[noreturn]] void mismatch() { std::abort(); }

void round_trip(const lowbit::SafetensorsFile& f) {
  std::vector<lowbit::TensorDecl> decls;
  for (const auto& t : f.tensors()) decls.push_back({t.name, t.dtype, t.shape});
  const std::string header = lowbit::safetensors_header(decls, f.metadata());
  std::vector<std::byte> image(8);
  for (int i = 0; i < 8; ++i) image[i] = static_cast<std::byte>((header.size() >> (8 * i)) & 0xFF);
  const auto* h = reinterpret_cast<const std::byte*>(header.data());
  image.insert(image.end(), h, h + header.size());
  for (const auto& t : f.tensors()) image.insert(image.end(), t.data.begin(), t.data.end());

  const auto g = lowbit::SafetensorsFile::parse(image, "round-trip");
  if (g.tensors().size() != f.tensors().size() || g.metadata() != f.metadata()) mismatch();
  for (std::size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& a = f.tensors()[i];
    const auto& b = g.tensors()[i];
    if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.data.size() != b.data.size() ||
        (a.data.size() && std::memcmp(a.data.data(), b.data.data(), a.data.size()) != 0))
      mismatch();
    if (g.find(a.name) != &b) mismatch();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Copy so that ASan sees reads past the end as heap overflows rather than reads of
  // the fuzzer's own larger buffer.
  std::vector<std::byte> bytes(size);
  if (size) std::memcpy(bytes.data(), data, size);
  try {
    const auto f = lowbit::SafetensorsFile::parse(bytes, "fuzz-input");
    std::uint64_t sum = 0;
    for (const auto& t : f.tensors()) {
      for (std::byte b : t.data) sum += std::to_integer<unsigned>(b);
      if (static_cast<std::uint64_t>(t.numel()) * lowbit::dtype_size(t.dtype) != t.data.size()) mismatch();
      if (lowbit::tensor_to_f32(t).size() != static_cast<std::size_t>(t.numel())) mismatch();
    }
    for (const auto& [k, v] : f.metadata()) sum += k.size() + v.size();
    round_trip(f);
    return sum == 0xFFFFFFFFFFFFFFFFull ? -1 : 0;
  } catch (const lowbit::Error&) {
    return 0;
  }
}
