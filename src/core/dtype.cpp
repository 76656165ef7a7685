// The dtype table. Float limits are those of IEEE 754 binary64/32/16, bfloat16, and the
// OCP 8-bit Floating Point Specification (OFP8) rev 1.0 table 1 (E4M3: max 448, min normal
// 2^-6, min subnormal 2^-9; E5M2: max 57344, min normal 2^-14, min subnormal 2^-16);
// E8M0 from the OCP Microscaling (MX) spec v1.0 (2^-127 .. 2^127, 0xFF = NaN); the fnuz
// fp8s as ml_dtypes / ONNX define them (E4M3FNUZ max 240, E5M2FNUZ max 57344, bias + 1).
#include "lowbit/dtype.h"

#include <array>

#include "lowbit/error.h"

namespace lowbit {
namespace {

constexpr std::array<DTypeInfo, 19> kTable{{
    {DType::F64, "f64", "F64", 8, true, true, "-1.7976931348623157e308", "1.7976931348623157e308",
     "2.2250738585072014e-308", "4.9406564584124654e-324", "f64"},
    {DType::F32, "f32", "F32", 4, true, true, "-3.40282347e38", "3.40282347e38", "1.17549435e-38",
     "1.40129846e-45", "f32"},
    {DType::F16, "f16", "F16", 2, true, true, "-65504", "65504", "6.103515625e-05",
     "5.9604644775390625e-08", "f32"},
    {DType::BF16, "bf16", "BF16", 2, true, true, "-3.38953139e38", "3.38953139e38", "1.17549435e-38",
     "9.18354962e-41", "f32"},
    {DType::F8_E4M3, "fp8e4m3", "F8_E4M3", 1, true, true, "-448", "448", "0.015625", "0.001953125",
     "f32"},
    {DType::F8_E5M2, "fp8e5m2", "F8_E5M2", 1, true, true, "-57344", "57344", "6.103515625e-05",
     "1.52587890625e-05", "f32"},
    {DType::I8, "int8", "I8", 1, false, true, "-128", "127", "", "", "int32"},
    {DType::I16, "int16", "I16", 2, false, true, "-32768", "32767", "", "", "int64"},
    {DType::I32, "int32", "I32", 4, false, true, "-2147483648", "2147483647", "", "", "int64"},
    {DType::I64, "int64", "I64", 8, false, true, "-9223372036854775808", "9223372036854775807", "", "",
     "int64"},
    {DType::U8, "uint8", "U8", 1, false, false, "0", "255", "", "", "int32"},
    {DType::U16, "uint16", "U16", 2, false, false, "0", "65535", "", "", "int64"},
    {DType::U32, "uint32", "U32", 4, false, false, "0", "4294967295", "", "", "uint64"},
    {DType::U64, "uint64", "U64", 8, false, false, "0", "18446744073709551615", "", "", "uint64"},
    {DType::BOOL, "bool", "BOOL", 1, false, false, "0", "1", "", "", "int32"},
    {DType::F8_E8M0, "fp8e8m0", "F8_E8M0", 1, true, false, "5.877471754111438e-39", "1.7014118346046923e+38",
     "5.877471754111438e-39", "5.877471754111438e-39", "f32"},
    {DType::F8_E4M3FNUZ, "fp8e4m3fnuz", "F8_E4M3FNUZ", 1, true, true, "-240", "240", "0.0078125", "0.0009765625",
     "f32"},
    {DType::F8_E5M2FNUZ, "fp8e5m2fnuz", "F8_E5M2FNUZ", 1, true, true, "-57344", "57344", "3.0517578125e-05",
     "7.62939453125e-06", "f32"},
    {DType::C64, "c64", "C64", 8, true, true, "-3.40282347e38", "3.40282347e38", "1.17549435e-38",
     "1.40129846e-45", "c64"},
}};

}  // namespace

std::span<const DTypeInfo> dtype_table() { return kTable; }

const DTypeInfo& dtype_info(DType t) {
  const auto i = static_cast<std::size_t>(t);
  if (i >= kTable.size()) fail("invalid dtype id ", i);
  return kTable[i];
}

std::size_t dtype_size(DType t) { return dtype_info(t).bytes; }
std::string_view dtype_name(DType t) { return dtype_info(t).name; }

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  for (const auto& d : kTable)
    if (d.safetensors_name == name) return d.dtype;
  return std::nullopt;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& d : kTable)
    if (d.name == name) return d.dtype;
  return std::nullopt;
}

}  // namespace lowbit
