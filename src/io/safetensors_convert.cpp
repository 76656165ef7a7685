// tensor_to_f32: decodes a TensorView of any supported dtype to float32. Tensor data in a
// safetensors file is little-endian and carries no alignment guarantee, so every element
// is loaded with memcpy rather than through a typed pointer.
#include <bit>
#include <cstring>

#include "lowbit/bf16.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/fp8.h"
#include "lowbit/safetensors.h"

namespace lowbit {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; add byte swaps");

template <typename T, typename Convert>
void decode(std::span<const std::byte> in, std::vector<float>& out, Convert convert) {
  const std::size_t n = in.size() / sizeof(T);
  out.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, in.data() + i * sizeof(T), sizeof(T));
    out[i] = convert(v);
  }
}

template <typename T>
void cast(std::span<const std::byte> in, std::vector<float>& out) {
  decode<T>(in, out, [](T v) { return static_cast<float>(v); });
}

}  // namespace

std::vector<float> tensor_to_f32(const TensorView& t) {
  if (t.data.size() != static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype))
    fail("tensor '", t.name, "': ", t.data.size(), " bytes do not hold ", t.numel(), " ", dtype_name(t.dtype), " values");
  std::vector<float> out;
  switch (t.dtype) {
    case DType::F64: cast<double>(t.data, out); break;
    case DType::F32: cast<float>(t.data, out); break;
    case DType::F16: decode<std::uint16_t>(t.data, out, [](std::uint16_t v) { return fp16_to_fp32(v); }); break;
    case DType::BF16: decode<std::uint16_t>(t.data, out, [](std::uint16_t v) { return bf16_to_fp32(v); }); break;
    case DType::F8_E4M3: decode<std::uint8_t>(t.data, out, [](std::uint8_t v) { return fp8_e4m3fn_to_fp32(v); }); break;
    case DType::F8_E5M2: decode<std::uint8_t>(t.data, out, [](std::uint8_t v) { return fp8_e5m2_to_fp32(v); }); break;
    case DType::I8: cast<std::int8_t>(t.data, out); break;
    case DType::I16: cast<std::int16_t>(t.data, out); break;
    case DType::I32: cast<std::int32_t>(t.data, out); break;
    case DType::I64: cast<std::int64_t>(t.data, out); break;
    case DType::U8: cast<std::uint8_t>(t.data, out); break;
    case DType::U16: cast<std::uint16_t>(t.data, out); break;
    case DType::U32: cast<std::uint32_t>(t.data, out); break;
    case DType::U64: cast<std::uint64_t>(t.data, out); break;
    // BOOL is one byte, 0 or 1 as written; any other byte is read as true, not rejected.
    case DType::BOOL: decode<std::uint8_t>(t.data, out, [](std::uint8_t v) { return v ? 1.0f : 0.0f; }); break;
    default: fail("tensor '", t.name, "': no float32 conversion for dtype ", dtype_name(t.dtype));
  }
  return out;
}

}  // namespace lowbit
