// GGUF I/O: a validating, zero-copy reader and an atomic, streaming writer for llama.cpp's
// model format (v3; v2 is read too, it has the same layout). Format: ggml's gguf.h/gguf.cpp
// and the gguf package; every count, length, type id, shape and offset is checked with
// overflow-checked arithmetic before a tensor byte is handed out.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/ggml_types.h"
#include "lowbit/mmap_file.h"

namespace lowbit {

// Metadata value types; the ids are the file's (ggml's enum gguf_type).
enum class GgufType : std::uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);  // ggml's spelling: "u8", "f32", "str", "arr", ...
// Bytes of one scalar of `t` in the file; 0 for String and Array.
std::size_t gguf_scalar_size(GgufType t);

inline constexpr std::uint32_t kGgufVersion = 3;
inline constexpr std::uint64_t kGgufDefaultAlignment = 32;
inline constexpr const char* kGgufAlignmentKey = "general.alignment";
// ggml's own limits (GGUF_MAX_STRING_LENGTH, GGUF_MAX_ARRAY_ELEMENTS): a file past them
// cannot load in llama.cpp, so lowbit refuses it too.
inline constexpr std::uint64_t kGgufMaxStringBytes = 1ull << 30;
inline constexpr std::uint64_t kGgufMaxArrayElements = 1ull << 30;
// Arrays of arrays are legal GGUF (the gguf package writes them; ggml's C reader does not
// read them). Real files never nest; the limits stop a tiny file from making the reader
// recurse deeply or build millions of value objects.
inline constexpr int kGgufMaxArrayDepth = 8;
inline constexpr std::uint64_t kGgufMaxNestedValues = 1u << 20;
// ggml's GGML_MAX_NAME (64) counts the terminating NUL: names of 64+ bytes do not load.
inline constexpr std::size_t kGgufMaxTensorName = 63;

// One metadata value: a scalar, a string, or an array of one element type (arrays of
// arrays allowed). Scalars and scalar arrays keep their little-endian bytes, so values
// copy through a reader and a writer bit for bit (NaN payloads, -0.0) and compare with ==.
class GgufValue {
 public:
  GgufValue() = default;  // a u8 0; exists so containers can default-construct

  static GgufValue u8(std::uint8_t v);
  static GgufValue i8(std::int8_t v);
  static GgufValue u16(std::uint16_t v);
  static GgufValue i16(std::int16_t v);
  static GgufValue u32(std::uint32_t v);
  static GgufValue i32(std::int32_t v);
  static GgufValue u64(std::uint64_t v);
  static GgufValue i64(std::int64_t v);
  static GgufValue f32(float v);
  static GgufValue f64(double v);
  static GgufValue boolean(bool v);
  static GgufValue string(std::string v);
  // Arrays. T is one of the fixed-size scalar types above (bool arrays: bool_array).
  template <typename T>
  static GgufValue array(std::span<const T> v);
  static GgufValue bool_array(const std::vector<bool>& v);
  static GgufValue string_array(std::vector<std::string> v);
  // An array whose elements are arrays (each with its own element type and length).
  static GgufValue array_of_arrays(std::vector<GgufValue> v);
  // A scalar of `t` from its little-endian bytes (exactly gguf_scalar_size(t) of them),
  // and an array of `n` scalars of `elem` from theirs (n * size bytes). Bool bytes must
  // be 0 or 1 (the spec calls anything else invalid).
  static GgufValue scalar(GgufType t, std::span<const std::byte> bytes);
  static GgufValue scalar_array(GgufType elem, std::uint64_t n, std::vector<std::byte> bytes);

  GgufType type() const { return type_; }
  bool is_array() const { return type_ == GgufType::Array; }
  GgufType element_type() const;   // arrays only
  std::uint64_t size() const;      // arrays only: element count

  // Typed access; each throws lowbit::Error saying what the value is instead.
  std::int64_t as_int() const;     // any integer type; a u64 above INT64_MAX fails
  std::uint64_t as_uint() const;   // any integer type holding a value >= 0
  double as_float() const;         // f32 (widened exactly) or f64
  bool as_bool() const;
  const std::string& as_string() const;
  std::vector<std::int64_t> as_int_array() const;   // array of any integer type
  std::vector<double> as_float_array() const;       // array of f32 or f64
  std::vector<bool> as_bool_array() const;
  const std::vector<std::string>& as_string_array() const;
  std::span<const GgufValue> as_array_of_arrays() const;
  GgufValue element(std::uint64_t i) const;          // any array; a copy of element i
  // Little-endian bytes of a scalar or scalar array (empty for strings, nested arrays).
  std::span<const std::byte> raw() const { return raw_; }

  // Exact equality: same types, lengths and bytes (so NaN == NaN with the same bits).
  bool operator==(const GgufValue& o) const;

  // Appends the value as the file stores it after its type id (arrays: element type,
  // count, elements). Throws for values a file cannot hold (over ggml's limits).
  void serialize(std::string& out) const;
  std::string describe() const;  // short, for messages: "u32 7", "arr[str; 3]"

 private:
  GgufType type_ = GgufType::U8;
  GgufType elem_ = GgufType::U8;        // arrays
  std::uint64_t count_ = 0;             // arrays
  std::vector<std::byte> raw_ = std::vector<std::byte>(1);  // scalars, scalar arrays
  std::vector<std::string> strings_;    // String (one) and string arrays
  std::vector<GgufValue> items_;        // arrays of arrays
};

struct GgufKv {
  std::string key;
  GgufValue value;
  bool operator==(const GgufKv&) const = default;
};
// Key-value pairs in file order (order is kept so a file rewrites byte for byte).
using GgufMetadata = std::vector<GgufKv>;

// One tensor. ne is in ggml order: ne[0] is the row length (contiguous), ne[1] the
// number of rows, ...; entries past n_dims are 1. `data` points into the mapping (or the
// caller's buffer given to parse).
struct GgufTensor {
  std::string name;
  std::uint32_t n_dims = 0;
  std::array<std::int64_t, 4> ne{1, 1, 1, 1};
  ggml::Type type = ggml::Type::F32;
  std::uint64_t offset = 0;  // from the start of the data section
  std::uint64_t nbytes = 0;
  std::span<const std::byte> data;

  std::span<const std::int64_t> shape() const { return {ne.data(), n_dims}; }
  std::int64_t numel() const { return ne[0] * ne[1] * ne[2] * ne[3]; }  // checked by the reader
  std::int64_t nrows() const { return ne[1] * ne[2] * ne[3]; }
};

// Bytes of a tensor of `ne` of type `t`: nullopt if a dimension is negative, ne[0] is not
// a multiple of the block size, or a product overflows (elements must fit int64, as
// ggml requires).
std::optional<std::uint64_t> gguf_tensor_nbytes(ggml::Type t, std::span<const std::int64_t> ne);

class GgufFile {
 public:
  // Maps and validates a file. Throws lowbit::Error naming the file, the key or tensor
  // and the byte offset of the fault.
  static GgufFile open(const std::filesystem::path& path);
  // Validates an in-memory image without copying tensor data; the caller keeps `bytes`
  // alive as long as the result. open() uses this, so fuzzing it covers the reader.
  static GgufFile parse(std::span<const std::byte> bytes, std::string source);

  const std::string& source() const { return source_; }
  std::uint32_t version() const { return version_; }
  std::uint64_t alignment() const { return alignment_; }
  // Start of the data section: the end of the tensor infos rounded up to the alignment
  // (not rounded when the file has no tensors, as ggml does).
  std::uint64_t data_offset() const { return data_offset_; }
  std::uint64_t file_size() const { return file_size_; }

  const GgufMetadata& metadata() const { return metadata_; }
  const GgufKv* find_kv(std::string_view key) const;
  const GgufValue& value(std::string_view key) const;  // throws naming the file if absent
  // Typed getters: throw naming the file and the key when the key is absent or the value
  // has another type (see GgufValue's getters for what converts).
  std::string get_string(std::string_view key) const;
  std::int64_t get_int(std::string_view key) const;
  std::uint64_t get_uint(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<std::int64_t> get_int_array(std::string_view key) const;
  std::vector<double> get_float_array(std::string_view key) const;

  // Tensors in the order of the tensor infos.
  std::span<const GgufTensor> tensors() const { return tensors_; }
  const GgufTensor* find(std::string_view name) const;
  const GgufTensor& tensor(std::string_view name) const;  // throws if absent
  // Drops the mapped pages of a tensor whose data was copied out (MappedFile::drop_pages).
  void drop_pages(std::span<const std::byte> bytes) const noexcept { file_.drop_pages(bytes); }

 private:
  MappedFile file_;
  std::string source_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = kGgufDefaultAlignment;
  std::uint64_t data_offset_ = 0;
  std::uint64_t file_size_ = 0;
  GgufMetadata metadata_;
  std::map<std::string, std::size_t, std::less<>> kv_index_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, std::size_t, std::less<>> by_name_;
};

// A tensor to write. ne has n_dims entries in ggml order and is written as given (ggml
// itself drops trailing 1s; the gguf package keeps them).
struct GgufTensorDecl {
  std::string name;
  std::vector<std::int64_t> ne;
  ggml::Type type = ggml::Type::F32;
};

// Fills `out` (exactly the tensor's nbytes) with the tensor's bytes. Called once per
// tensor, in order, while writing, so only one tensor is in memory at a time. Throwing
// abandons the write.
using GgufFill = std::function<void(std::span<std::byte> out)>;

// Builds a GGUF: metadata (ordered) + tensor list, then write() streams it to a temporary
// file beside the destination and renames it into place. Layout is ggml's: header, KVs,
// tensor infos, zero padding to the alignment, then each tensor at the next aligned
// offset, padded with zeros after it (after the last one too).
class GgufWriter {
 public:
  GgufWriter() = default;

  // Sets a key: replaces the value in place if the key exists (keeping its position),
  // else appends. general.alignment must be a u32 power of two.
  void set(std::string key, GgufValue value);
  bool remove(std::string_view key);  // false if absent
  const GgufValue* find(std::string_view key) const;
  const GgufMetadata& metadata() const { return metadata_; }
  // Every KV of `f` in its order, through set() (so existing keys keep their place).
  void copy_metadata(const GgufFile& f);

  // Tensors in write order. Names must be unique, at most kGgufMaxTensorName bytes of
  // UTF-8; n_dims <= 4; ne[0] a multiple of the type's block size.
  void add_tensor(GgufTensorDecl decl, GgufFill fill);
  // Bytes the caller keeps alive until write() returns (e.g. a tensor of a GgufFile).
  void add_tensor(GgufTensorDecl decl, std::span<const std::byte> bytes);
  void add_tensor(const GgufTensor& t);  // same name, shape, type and bytes
  std::size_t tensor_count() const { return tensors_.size(); }

  // general.alignment when set, else 32.
  std::uint64_t alignment() const;
  // Offset of each tensor from the data section, as the header will record them.
  std::vector<std::uint64_t> tensor_offsets() const;
  // The header: magic to the end of the tensor infos plus the padding.
  std::string header() const;

  // Atomic: bytes go to "<out>.tmp-XXXXXXXX" in out's directory, which is fsynced and
  // renamed over `out`. On any error (a throwing fill, a short write, a full disk) the
  // temporary file is removed, `out` is untouched, and lowbit::Error is thrown.
  void write(const std::filesystem::path& out) const;
  // The whole file in memory (tests, fuzzing, small files).
  std::vector<std::byte> to_bytes() const;

 private:
  struct Pending {
    GgufTensorDecl decl;
    std::uint64_t nbytes;
    GgufFill fill;                     // or
    std::span<const std::byte> bytes;  // borrowed
  };
  void stream(const std::function<void(const std::byte*, std::size_t)>& sink) const;

  GgufMetadata metadata_;
  std::map<std::string, std::size_t, std::less<>> key_index_;  // position in metadata_
  std::vector<Pending> tensors_;
  std::map<std::string, std::size_t, std::less<>> names_;
};

}  // namespace lowbit
