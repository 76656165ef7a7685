// GgufValue: GGUF metadata values. Scalars and scalar arrays are kept as the file's
// little-endian bytes, so a value read and written again is bit-identical and equality
// is exact; typed getters convert on the way out and say what the value is otherwise.
#include <bit>
#include <cstring>
#include <limits>
#include <type_traits>

#include "lowbit/error.h"
#include "lowbit/gguf.h"

static_assert(std::endian::native == std::endian::little, "GGUF values are read by memcpy: little-endian hosts only");

namespace lowbit {
namespace {

constexpr std::uint32_t kTypeCount = 13;

bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64:
      return true;
    default:
      return false;
  }
}

bool is_fixed(GgufType t) { return gguf_scalar_size(t) != 0; }

template <typename T>
constexpr GgufType type_of() {
  if constexpr (std::is_same_v<T, std::uint8_t>) return GgufType::U8;
  else if constexpr (std::is_same_v<T, std::int8_t>) return GgufType::I8;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return GgufType::U16;
  else if constexpr (std::is_same_v<T, std::int16_t>) return GgufType::I16;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return GgufType::U32;
  else if constexpr (std::is_same_v<T, std::int32_t>) return GgufType::I32;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return GgufType::U64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return GgufType::I64;
  else if constexpr (std::is_same_v<T, float>) return GgufType::F32;
  else if constexpr (std::is_same_v<T, double>) return GgufType::F64;
  else static_assert(sizeof(T) == 0, "not a GGUF scalar type");
}

template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Integer i of a raw integer array (or the scalar when i == 0), as a 128-bit-free pair:
// `neg` tells whether the value is negative, `mag` is its two's-complement bits.
struct IntBits {
  bool neg;
  std::uint64_t bits;
};
IntBits int_at(GgufType t, const std::byte* p) {
  switch (t) {
    case GgufType::U8: return {false, load<std::uint8_t>(p)};
    case GgufType::I8: { auto v = load<std::int8_t>(p); return {v < 0, static_cast<std::uint64_t>(std::int64_t{v})}; }
    case GgufType::U16: return {false, load<std::uint16_t>(p)};
    case GgufType::I16: { auto v = load<std::int16_t>(p); return {v < 0, static_cast<std::uint64_t>(std::int64_t{v})}; }
    case GgufType::U32: return {false, load<std::uint32_t>(p)};
    case GgufType::I32: { auto v = load<std::int32_t>(p); return {v < 0, static_cast<std::uint64_t>(std::int64_t{v})}; }
    case GgufType::U64: return {false, load<std::uint64_t>(p)};
    case GgufType::I64: { auto v = load<std::int64_t>(p); return {v < 0, static_cast<std::uint64_t>(v)}; }
    default: fail("internal: int_at on ", gguf_type_name(t));
  }
}

std::int64_t to_int64(GgufType t, const std::byte* p) {
  const IntBits b = int_at(t, p);
  if (!b.neg && b.bits > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    fail("u64 value ", b.bits, " does not fit in int64");
  return static_cast<std::int64_t>(b.bits);
}

double float_at(GgufType t, const std::byte* p) {
  return t == GgufType::F32 ? double{load<float>(p)} : load<double>(p);
}

void check_bools(std::span<const std::byte> bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i)
    if (std::to_integer<unsigned>(bytes[i]) > 1)
      fail("bool byte ", i, " is ", std::to_integer<unsigned>(bytes[i]), " (GGUF bools are 0 or 1)");
}

template <typename T>
void put(std::string& out, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static constexpr const char* kNames[kTypeCount] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                     "bool", "str", "arr", "u64", "i64", "f64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < kTypeCount ? kNames[i] : "(invalid type)";
}

std::size_t gguf_scalar_size(GgufType t) {
  static constexpr std::size_t kSizes[kTypeCount] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  const auto i = static_cast<std::uint32_t>(t);
  return i < kTypeCount ? kSizes[i] : 0;
}

GgufValue GgufValue::scalar(GgufType t, std::span<const std::byte> bytes) {
  if (!is_fixed(t)) fail("GgufValue::scalar: ", gguf_type_name(t), " is not a fixed-size scalar type");
  if (bytes.size() != gguf_scalar_size(t))
    fail("GgufValue::scalar: ", gguf_type_name(t), " takes ", gguf_scalar_size(t), " bytes, got ", bytes.size());
  if (t == GgufType::Bool) check_bools(bytes);
  GgufValue v;
  v.type_ = t;
  v.raw_.assign(bytes.begin(), bytes.end());
  return v;
}

GgufValue GgufValue::scalar_array(GgufType elem, std::uint64_t n, std::vector<std::byte> bytes) {
  if (!is_fixed(elem)) fail("GgufValue::scalar_array: ", gguf_type_name(elem), " is not a fixed-size scalar type");
  if (n > kGgufMaxArrayElements) fail("GgufValue: array of ", n, " elements exceeds ggml's limit of ", kGgufMaxArrayElements);
  if (bytes.size() != n * gguf_scalar_size(elem))
    fail("GgufValue::scalar_array: ", n, " x ", gguf_type_name(elem), " needs ", n * gguf_scalar_size(elem),
         " bytes, got ", bytes.size());
  if (elem == GgufType::Bool) check_bools(bytes);
  GgufValue v;
  v.type_ = GgufType::Array;
  v.elem_ = elem;
  v.count_ = n;
  v.raw_ = std::move(bytes);
  return v;
}

#define LOWBIT_GGUF_SCALAR(fn, T)                                      \
  GgufValue GgufValue::fn(T x) {                                       \
    return scalar(type_of<T>(), std::as_bytes(std::span<const T>(&x, 1))); \
  }
LOWBIT_GGUF_SCALAR(u8, std::uint8_t)
LOWBIT_GGUF_SCALAR(i8, std::int8_t)
LOWBIT_GGUF_SCALAR(u16, std::uint16_t)
LOWBIT_GGUF_SCALAR(i16, std::int16_t)
LOWBIT_GGUF_SCALAR(u32, std::uint32_t)
LOWBIT_GGUF_SCALAR(i32, std::int32_t)
LOWBIT_GGUF_SCALAR(u64, std::uint64_t)
LOWBIT_GGUF_SCALAR(i64, std::int64_t)
LOWBIT_GGUF_SCALAR(f32, float)
LOWBIT_GGUF_SCALAR(f64, double)
#undef LOWBIT_GGUF_SCALAR

GgufValue GgufValue::boolean(bool x) {
  const std::byte b{static_cast<unsigned char>(x ? 1 : 0)};
  return scalar(GgufType::Bool, std::span<const std::byte>(&b, 1));
}

GgufValue GgufValue::string(std::string s) {
  if (s.size() > kGgufMaxStringBytes) fail("GgufValue: string of ", s.size(), " bytes exceeds ggml's limit of ", kGgufMaxStringBytes);
  GgufValue v;
  v.type_ = GgufType::String;
  v.raw_.clear();
  v.strings_.push_back(std::move(s));
  return v;
}

template <typename T>
GgufValue GgufValue::array(std::span<const T> x) {
  const auto b = std::as_bytes(x);
  return scalar_array(type_of<T>(), x.size(), std::vector<std::byte>(b.begin(), b.end()));
}
template GgufValue GgufValue::array(std::span<const std::uint8_t>);
template GgufValue GgufValue::array(std::span<const std::int8_t>);
template GgufValue GgufValue::array(std::span<const std::uint16_t>);
template GgufValue GgufValue::array(std::span<const std::int16_t>);
template GgufValue GgufValue::array(std::span<const std::uint32_t>);
template GgufValue GgufValue::array(std::span<const std::int32_t>);
template GgufValue GgufValue::array(std::span<const std::uint64_t>);
template GgufValue GgufValue::array(std::span<const std::int64_t>);
template GgufValue GgufValue::array(std::span<const float>);
template GgufValue GgufValue::array(std::span<const double>);

GgufValue GgufValue::bool_array(const std::vector<bool>& x) {
  std::vector<std::byte> b(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) b[i] = std::byte{static_cast<unsigned char>(x[i] ? 1 : 0)};
  return scalar_array(GgufType::Bool, x.size(), std::move(b));
}

GgufValue GgufValue::string_array(std::vector<std::string> x) {
  if (x.size() > kGgufMaxArrayElements) fail("GgufValue: array of ", x.size(), " strings exceeds ggml's limit");
  for (const auto& s : x)
    if (s.size() > kGgufMaxStringBytes) fail("GgufValue: string of ", s.size(), " bytes exceeds ggml's limit");
  GgufValue v;
  v.type_ = GgufType::Array;
  v.elem_ = GgufType::String;
  v.count_ = x.size();
  v.raw_.clear();
  v.strings_ = std::move(x);
  return v;
}

GgufValue GgufValue::array_of_arrays(std::vector<GgufValue> x) {
  if (x.size() > kGgufMaxArrayElements) fail("GgufValue: array of ", x.size(), " arrays exceeds ggml's limit");
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!x[i].is_array()) fail("GgufValue::array_of_arrays: element ", i, " is ", x[i].describe(), ", not an array");
  GgufValue v;
  v.type_ = GgufType::Array;
  v.elem_ = GgufType::Array;
  v.count_ = x.size();
  v.raw_.clear();
  v.items_ = std::move(x);
  return v;
}

GgufType GgufValue::element_type() const {
  if (!is_array()) fail("GGUF value ", describe(), " is not an array");
  return elem_;
}

std::uint64_t GgufValue::size() const {
  if (!is_array()) fail("GGUF value ", describe(), " is not an array");
  return count_;
}

std::int64_t GgufValue::as_int() const {
  if (!is_integer(type_)) fail("GGUF value ", describe(), " is not an integer");
  return to_int64(type_, raw_.data());
}

std::uint64_t GgufValue::as_uint() const {
  if (!is_integer(type_)) fail("GGUF value ", describe(), " is not an integer");
  const IntBits b = int_at(type_, raw_.data());
  if (b.neg) fail("GGUF value ", describe(), " is negative");
  return b.bits;
}

double GgufValue::as_float() const {
  if (type_ != GgufType::F32 && type_ != GgufType::F64) fail("GGUF value ", describe(), " is not a float");
  return float_at(type_, raw_.data());
}

bool GgufValue::as_bool() const {
  if (type_ != GgufType::Bool) fail("GGUF value ", describe(), " is not a bool");
  return raw_[0] != std::byte{0};
}

const std::string& GgufValue::as_string() const {
  if (type_ != GgufType::String) fail("GGUF value ", describe(), " is not a string");
  return strings_[0];
}

std::vector<std::int64_t> GgufValue::as_int_array() const {
  if (!is_array() || !is_integer(elem_)) fail("GGUF value ", describe(), " is not an array of integers");
  std::vector<std::int64_t> out(count_);
  const std::size_t w = gguf_scalar_size(elem_);
  for (std::uint64_t i = 0; i < count_; ++i) out[i] = to_int64(elem_, raw_.data() + i * w);
  return out;
}

std::vector<double> GgufValue::as_float_array() const {
  if (!is_array() || (elem_ != GgufType::F32 && elem_ != GgufType::F64))
    fail("GGUF value ", describe(), " is not an array of floats");
  std::vector<double> out(count_);
  const std::size_t w = gguf_scalar_size(elem_);
  for (std::uint64_t i = 0; i < count_; ++i) out[i] = float_at(elem_, raw_.data() + i * w);
  return out;
}

std::vector<bool> GgufValue::as_bool_array() const {
  if (!is_array() || elem_ != GgufType::Bool) fail("GGUF value ", describe(), " is not an array of bools");
  std::vector<bool> out(count_);
  for (std::uint64_t i = 0; i < count_; ++i) out[i] = raw_[i] != std::byte{0};
  return out;
}

const std::vector<std::string>& GgufValue::as_string_array() const {
  if (!is_array() || elem_ != GgufType::String) fail("GGUF value ", describe(), " is not an array of strings");
  return strings_;
}

std::span<const GgufValue> GgufValue::as_array_of_arrays() const {
  if (!is_array() || elem_ != GgufType::Array) fail("GGUF value ", describe(), " is not an array of arrays");
  return items_;
}

GgufValue GgufValue::element(std::uint64_t i) const {
  if (!is_array()) fail("GGUF value ", describe(), " is not an array");
  if (i >= count_) fail("GGUF array index ", i, " is out of range for ", describe());
  if (elem_ == GgufType::String) return string(strings_[i]);
  if (elem_ == GgufType::Array) return items_[i];
  const std::size_t w = gguf_scalar_size(elem_);
  return scalar(elem_, std::span<const std::byte>(raw_).subspan(i * w, w));
}

bool GgufValue::operator==(const GgufValue& o) const {
  if (type_ != o.type_) return false;
  if (is_array() && (elem_ != o.elem_ || count_ != o.count_)) return false;
  return raw_ == o.raw_ && strings_ == o.strings_ && items_ == o.items_;
}

void GgufValue::serialize(std::string& out) const {
  switch (type_) {
    case GgufType::String:
      put<std::uint64_t>(out, strings_[0].size());
      out += strings_[0];
      return;
    case GgufType::Array:
      put<std::uint32_t>(out, static_cast<std::uint32_t>(elem_));
      put<std::uint64_t>(out, count_);
      if (elem_ == GgufType::String) {
        for (const auto& s : strings_) {
          put<std::uint64_t>(out, s.size());
          out += s;
        }
      } else if (elem_ == GgufType::Array) {
        for (const auto& item : items_) item.serialize(out);
      } else {
        out.append(reinterpret_cast<const char*>(raw_.data()), raw_.size());
      }
      return;
    default:
      out.append(reinterpret_cast<const char*>(raw_.data()), raw_.size());
  }
}

std::string GgufValue::describe() const {
  std::string s = gguf_type_name(type_);
  switch (type_) {
    case GgufType::String: {
      const std::string& v = strings_[0];
      std::string shown;
      for (char c : v.substr(0, 40)) shown += (static_cast<unsigned char>(c) < 0x20 ? '?' : c);
      return s + " '" + shown + (v.size() > 40 ? "...'" : "'");
    }
    case GgufType::Array:
      return s + "[" + gguf_type_name(elem_) + "; " + std::to_string(count_) + "]";
    case GgufType::Bool:
      return s + (as_bool() ? " true" : " false");
    case GgufType::F32:
    case GgufType::F64: {
      std::ostringstream os;
      os.precision(17);
      os << float_at(type_, raw_.data());
      return s + " " + os.str();
    }
    default: {
      const IntBits b = int_at(type_, raw_.data());
      return s + " " + (b.neg ? std::to_string(static_cast<std::int64_t>(b.bits)) : std::to_string(b.bits));
    }
  }
}

}  // namespace lowbit
