// libFuzzer target for lowbit's quantized-safetensors reader: the bytes are parsed as a
// safetensors image, the lowbit.quantized metadata is folded into logical tensors, and
// every quantized tensor is reassembled from its parts and dequantized. Any input must
// end in success or lowbit::Error; crashes, leaks and UB are bugs.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/quantize.h"
#include "lowbit/quantized_model.h"
#include "lowbit/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto file = lowbit::SafetensorsFile::parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz-input");
    for (const auto& t : lowbit::logical_tensors(file)) {
      if (!t.scheme) continue;
      std::int64_t n = 1;
      for (auto d : t.shape) n *= d;
      if (n > (1 << 20)) continue;  // the header could declare a huge shape; parts must match it anyway
      const lowbit::QuantizedTensor q = lowbit::load_quantized(file, t);
      std::vector<float> out(static_cast<std::size_t>(q.numel()));
      lowbit::dequantize_tensor(q, out, 1);
    }
  } catch (const lowbit::Error&) {
  }
  return 0;
}
