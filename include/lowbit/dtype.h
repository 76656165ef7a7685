// Element types lowbit reads, writes and computes with: the float formats (fp64..fp8)
// and the seed table of integer types with their ranges and accumulation types. The
// table is data so the CLI can print it (`lowbit dtypes`) and readers can validate.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lowbit {

enum class DType : std::uint8_t {
  F64, F32, F16, BF16, F8_E4M3, F8_E5M2,
  I8, I16, I32, I64, U8, U16, U32, U64, BOOL,
  // Stored and passed through, not computed with: OCP MX's exponent-only scale type,
  // the 'fnuz' fp8 variants (one NaN, no -0, bias + 1) and complex64.
  F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, C64,
};

struct DTypeInfo {
  DType dtype;
  std::string_view name;              // lowbit's name: "f32", "int8", ...
  std::string_view safetensors_name;  // "F32", "I8", ... as the safetensors spec spells it
  std::size_t bytes;                  // storage size of one element
  bool is_float;
  bool is_signed;
  // Integer range as exact decimal strings (uint64 max does not fit int64); for floats
  // the largest finite value and the smallest positive normal and subnormal.
  std::string_view min_value;
  std::string_view max_value;
  std::string_view smallest_normal;     // floats only, "" for integers
  std::string_view smallest_subnormal;  // floats only, "" for integers
  // Type a dot product / sum of this type accumulates in without overflow for the
  // lengths lowbit uses (int8 x int8 -> int32, as gemmlowp and the seed table do).
  std::string_view accumulator;
};

// Every dtype, in enum order.
std::span<const DTypeInfo> dtype_table();
const DTypeInfo& dtype_info(DType t);
std::size_t dtype_size(DType t);
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_safetensors(std::string_view name);
std::optional<DType> dtype_from_name(std::string_view name);

}  // namespace lowbit
