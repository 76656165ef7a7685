// GGUF reader: walks the header, KVs and tensor infos with a bounds-checked cursor, then
// checks every tensor's type, shape, size, alignment and byte range (no overlaps) before
// creating any view into the data. Rules follow ggml's gguf_init_from_file_impl (which
// llama.cpp loads with) and the gguf package's GGUFReader; differences are noted inline.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "io/shown_name.h"
#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/safetensors.h"  // first_invalid_utf8

namespace lowbit {
namespace {

constexpr std::uint64_t kMinKvBytes = 8 + 1 + 4 + 1;      // key length, 1-byte key, type, a u8
constexpr std::uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // name length, n_dims, type, offset

// Names and keys in errors: escaped and cut at 80 bytes (hostile names can be huge).
std::string shown(std::string_view s) { return shown_name(s, 80); }

// Bounds-checked little-endian reads over the image; every failure names the source,
// the item being read (`ctx`), what was read and at which file offset.
class Cursor {
 public:
  Cursor(std::span<const std::byte> b, const std::string& src) : b_(b), src_(src) {}

  std::uint64_t pos() const { return pos_; }
  std::uint64_t remaining() const { return b_.size() - pos_; }
  const std::byte* here() const { return b_.data() + pos_; }

  void need(std::uint64_t n, const std::string& ctx, const char* what) const {
    if (n > remaining())
      fail(src_, ": ", ctx, ": file ends inside the ", what, " at offset ", pos_, " (", n, " bytes needed, ",
           remaining(), " left)");
  }
  template <typename T>
  T read(const std::string& ctx, const char* what) {
    need(sizeof(T), ctx, what);
    T v;
    std::memcpy(&v, here(), sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::span<const std::byte> take(std::uint64_t n, const std::string& ctx, const char* what) {
    need(n, ctx, what);
    std::span<const std::byte> s(here(), static_cast<std::size_t>(n));
    pos_ += n;
    return s;
  }
  std::string string(const std::string& ctx, const char* what) {
    const std::uint64_t at = pos_;
    const auto n = read<std::uint64_t>(ctx, what);
    if (n > kGgufMaxStringBytes)
      fail(src_, ": ", ctx, ": ", what, " length ", n, " at offset ", at, " exceeds ggml's limit of ",
           kGgufMaxStringBytes, " bytes");
    if (n > remaining())
      fail(src_, ": ", ctx, ": ", what, " length ", n, " at offset ", at, " runs past the end of the file (",
           remaining(), " bytes left)");
    const auto s = take(n, ctx, what);
    return {reinterpret_cast<const char*>(s.data()), s.size()};
  }

 private:
  std::span<const std::byte> b_;
  const std::string& src_;
  std::uint64_t pos_ = 0;
};

// Smallest number of file bytes one element of `t` can take (bounds lying counts).
std::uint64_t min_element_bytes(GgufType t) {
  if (t == GgufType::String) return 8;
  if (t == GgufType::Array) return 4 + 8;
  return gguf_scalar_size(t);
}

GgufType checked_type(std::uint32_t id, const std::string& src, const std::string& ctx, const char* what,
                      std::uint64_t at) {
  if (id > static_cast<std::uint32_t>(GgufType::F64))
    fail(src, ": ", ctx, ": invalid ", what, " ", id, " at offset ", at, " (GGUF value types are 0..12)");
  return static_cast<GgufType>(id);
}

// Parses values; `nested_` counts array-of-array elements over the whole file.
class ValueParser {
 public:
  ValueParser(Cursor& c, const std::string& src) : c_(c), src_(src) {}

  GgufValue value(GgufType t, const std::string& ctx) {
    if (t == GgufType::Array) return array(ctx, 1);
    if (t == GgufType::String) return GgufValue::string(c_.string(ctx, "string value"));
    const std::uint64_t at = c_.pos();
    const auto bytes = c_.take(gguf_scalar_size(t), ctx, "value");
    if (t == GgufType::Bool && std::to_integer<unsigned>(bytes[0]) > 1)
      fail(src_, ": ", ctx, ": bool value ", std::to_integer<unsigned>(bytes[0]), " at offset ", at,
           " is neither 0 nor 1");
    return GgufValue::scalar(t, bytes);
  }

 private:
  // The array body after its type id: element type, count, elements.
  GgufValue array(const std::string& ctx, int depth) {
    if (depth > kGgufMaxArrayDepth)
      fail(src_, ": ", ctx, ": arrays nest deeper than ", kGgufMaxArrayDepth, " levels at offset ", c_.pos());
    const std::uint64_t at = c_.pos();
    const GgufType elem = checked_type(c_.read<std::uint32_t>(ctx, "array element type"), src_, ctx,
                                       "array element type", at);
    const std::uint64_t count_at = c_.pos();
    const auto n = c_.read<std::uint64_t>(ctx, "array length");
    if (n > kGgufMaxArrayElements)
      fail(src_, ": ", ctx, ": array length ", n, " at offset ", count_at, " exceeds ggml's limit of ",
           kGgufMaxArrayElements);
    // Every element takes at least min bytes, so a count the file cannot hold is a lie,
    // caught before anything is allocated for it.
    if (n > c_.remaining() / min_element_bytes(elem))
      fail(src_, ": ", ctx, ": array of ", n, " ", gguf_type_name(elem), " at offset ", count_at,
           " cannot fit in the ", c_.remaining(), " bytes left in the file");
    // Reserve at most a little: the bound above still allows 1 element per 8 bytes.
    const std::size_t reserve = static_cast<std::size_t>(std::min<std::uint64_t>(n, 4096));
    if (elem == GgufType::String) {
      std::vector<std::string> v;
      v.reserve(reserve);
      for (std::uint64_t i = 0; i < n; ++i) v.push_back(c_.string(ctx, "array string"));
      return GgufValue::string_array(std::move(v));
    }
    if (elem == GgufType::Array) {
      nested_ += n;
      if (nested_ > kGgufMaxNestedValues)
        fail(src_, ": ", ctx, ": more than ", kGgufMaxNestedValues, " nested arrays in the file (offset ",
             count_at, ")");
      std::vector<GgufValue> v;
      v.reserve(reserve);
      for (std::uint64_t i = 0; i < n; ++i) v.push_back(array(ctx, depth + 1));
      return GgufValue::array_of_arrays(std::move(v));
    }
    const std::uint64_t data_at = c_.pos();
    const auto bytes = c_.take(n * gguf_scalar_size(elem), ctx, "array data");
    if (elem == GgufType::Bool)
      for (std::uint64_t i = 0; i < n; ++i)
        if (std::to_integer<unsigned>(bytes[i]) > 1)
          fail(src_, ": ", ctx, ": bool array element ", i, " is ", std::to_integer<unsigned>(bytes[i]),
               " at offset ", data_at + i, " (must be 0 or 1)");
    return GgufValue::scalar_array(elem, n, std::vector<std::byte>(bytes.begin(), bytes.end()));
  }

  Cursor& c_;
  const std::string& src_;
  std::uint64_t nested_ = 0;
};

std::string check_utf8(std::string s, const std::string& src, const std::string& ctx, const char* what,
                       std::uint64_t at) {
  // The gguf package decodes keys and names as UTF-8 and fails on anything else.
  if (auto bad = first_invalid_utf8(s))
    fail(src, ": ", ctx, ": ", what, " is not UTF-8 (byte ", *bad, " of the string at offset ", at, ")");
  return s;
}

std::string magic_text(std::span<const std::byte> b) {
  std::string s;
  for (std::size_t i = 0; i < 4 && i < b.size(); ++i) {
    const auto u = std::to_integer<unsigned char>(b[i]);
    s += (u >= 0x20 && u < 0x7F) ? static_cast<char>(u) : '?';
  }
  return s;
}

}  // namespace

std::optional<std::uint64_t> gguf_tensor_nbytes(ggml::Type t, std::span<const std::int64_t> ne) {
  const ggml::TypeTraits* tr = ggml::traits(static_cast<std::uint32_t>(t));
  if (!tr || ne.size() > 4) return std::nullopt;
  // ggml's rule: the element count must fit int64, multiplying dimension by dimension
  // (so [2^62, 4, 0] overflows but [2^62, 0, 4] does not).
  std::int64_t numel = 1;
  for (std::int64_t d : ne) {
    if (d < 0) return std::nullopt;
    if (__builtin_mul_overflow(numel, d, &numel)) return std::nullopt;
  }
  const std::int64_t ne0 = ne.empty() ? 1 : ne[0];
  if (ne0 % tr->block_size != 0) return std::nullopt;
  // ne0 is a multiple of the block size, so numel / block_size is exact.
  std::uint64_t n;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(numel / tr->block_size),
                             static_cast<std::uint64_t>(tr->type_size), &n))
    return std::nullopt;
  return n;
}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  MappedFile mapped = MappedFile::open(path);
  GgufFile f = parse(mapped.bytes(), path.string());
  f.file_ = std::move(mapped);  // views point into the mapping, which does not move
  return f;
}

GgufFile GgufFile::parse(std::span<const std::byte> bytes, std::string source) {
  GgufFile f;
  f.source_ = std::move(source);
  const std::string& src = f.source_;
  f.file_size_ = bytes.size();
  Cursor c(bytes, src);

  if (bytes.size() < 4) fail(src, ": ", bytes.size(), " bytes is too short for the GGUF magic");
  if (std::memcmp(bytes.data(), "GGUF", 4) != 0)
    fail(src, ": not a GGUF file: magic '", magic_text(bytes), "' at offset 0 (expected 'GGUF')");
  c.take(4, "header", "magic");
  const std::string hdr = "header";
  f.version_ = c.read<std::uint32_t>(hdr, "version");
  // A big-endian file's version 3 reads as 0x03000000 here; ggml tests the low half too.
  if (f.version_ != 0 && (f.version_ & 0xFFFF) == 0)
    fail(src, ": version field 0x", std::hex, f.version_, std::dec,
         " at offset 4 looks like a big-endian GGUF; lowbit reads little-endian files only");
  if (f.version_ == 1) fail(src, ": GGUF version 1 (offset 4) is not supported (ggml dropped it too)");
  if (f.version_ != 2 && f.version_ != 3)
    fail(src, ": unsupported GGUF version ", f.version_, " at offset 4 (lowbit reads versions 2 and 3)");

  const auto n_tensors = c.read<std::uint64_t>(hdr, "tensor count");
  const auto n_kv = c.read<std::uint64_t>(hdr, "key-value count");
  // ggml stores both as int64; beyond that, each item takes a minimum number of bytes.
  if (n_tensors > c.remaining() / kMinTensorInfoBytes)
    fail(src, ": tensor count ", n_tensors, " at offset 8 cannot fit in the ", c.remaining(),
         " bytes after the header (a tensor info takes at least ", kMinTensorInfoBytes, ")");
  if (n_kv > c.remaining() / kMinKvBytes)
    fail(src, ": key-value count ", n_kv, " at offset 16 cannot fit in the ", c.remaining(),
         " bytes after the header (a key-value pair takes at least ", kMinKvBytes, ")");
  if (n_kv * kMinKvBytes + n_tensors * kMinTensorInfoBytes > c.remaining())
    fail(src, ": ", n_kv, " key-value pairs and ", n_tensors, " tensor infos cannot fit in the ", c.remaining(),
         " bytes after the header");

  ValueParser values(c, src);
  f.metadata_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n_kv, 4096)));
  for (std::uint64_t i = 0; i < n_kv; ++i) {
    const std::uint64_t at = c.pos();
    const std::string item = "key-value pair #" + std::to_string(i);
    std::string key = check_utf8(c.string(item, "key"), src, item, "key", at);
    if (key.empty()) fail(src, ": ", item, ": empty key at offset ", at);
    const std::string ctx = "key " + shown(key);
    if (auto it = f.kv_index_.find(key); it != f.kv_index_.end())
      fail(src, ": ", ctx, ": duplicate key at offset ", at, " (first defined as key-value pair #", it->second, ")");
    const std::uint64_t type_at = c.pos();
    const GgufType t = checked_type(c.read<std::uint32_t>(ctx, "value type"), src, ctx, "value type", type_at);
    GgufValue v = values.value(t, ctx);
    f.kv_index_.emplace(key, f.metadata_.size());
    f.metadata_.push_back({std::move(key), std::move(v)});
  }

  if (const GgufKv* a = f.find_kv(kGgufAlignmentKey)) {
    if (a->value.type() != GgufType::U32)
      fail(src, ": key '", kGgufAlignmentKey, "' must be u32, got ", a->value.describe());
    const std::uint64_t al = a->value.as_uint();
    // ggml and the gguf package both accept any nonzero power of two.
    if (al == 0 || (al & (al - 1)) != 0)
      fail(src, ": key '", kGgufAlignmentKey, "' = ", al, " is not a nonzero power of two");
    f.alignment_ = al;
  }

  f.tensors_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n_tensors, 4096)));
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    const std::uint64_t at = c.pos();
    const std::string item = "tensor info #" + std::to_string(i);
    GgufTensor t;
    t.name = check_utf8(c.string(item, "tensor name"), src, item, "tensor name", at);
    // ggml refuses names of GGML_MAX_NAME (64) bytes or more; the gguf package does not,
    // so lowbit reads them (its writer refuses them, so its outputs load in llama.cpp).
    const std::string ctx = "tensor " + shown(t.name);
    if (f.by_name_.count(t.name))
      fail(src, ": ", ctx, ": duplicate tensor name (tensor info #", i, " at offset ", at, ")");
    const std::uint64_t dims_at = c.pos();
    t.n_dims = c.read<std::uint32_t>(ctx, "n_dims");
    if (t.n_dims > 4) fail(src, ": ", ctx, ": n_dims ", t.n_dims, " at offset ", dims_at, " exceeds ggml's 4");
    for (std::uint32_t d = 0; d < t.n_dims; ++d) {
      const std::uint64_t ne_at = c.pos();
      t.ne[d] = c.read<std::int64_t>(ctx, "dimension");
      if (t.ne[d] < 0) fail(src, ": ", ctx, ": ne[", d, "] = ", t.ne[d], " at offset ", ne_at, " is negative");
    }
    const std::uint64_t type_at = c.pos();
    const auto type_id = c.read<std::uint32_t>(ctx, "type");
    const ggml::TypeTraits* tr = ggml::traits(type_id);
    if (!tr) fail(src, ": ", ctx, ": unknown ggml type id ", type_id, " at offset ", type_at);
    t.type = tr->type;
    if (t.ne[0] % tr->block_size != 0)
      fail(src, ": ", ctx, ": row length ne[0] = ", t.ne[0], " is not a multiple of the ", tr->name,
           " block size ", tr->block_size, " (tensor info at offset ", at, ")");
    const auto nbytes = gguf_tensor_nbytes(t.type, t.ne);
    if (!nbytes)
      fail(src, ": ", ctx, ": shape [", t.ne[0], ", ", t.ne[1], ", ", t.ne[2], ", ", t.ne[3], "] of ", tr->name,
           " overflows 64 bits (tensor info at offset ", at, ")");
    t.nbytes = *nbytes;
    const std::uint64_t off_at = c.pos();
    t.offset = c.read<std::uint64_t>(ctx, "data offset");
    if (t.offset % f.alignment_ != 0)
      fail(src, ": ", ctx, ": data offset ", t.offset, " at offset ", off_at, " is not a multiple of the alignment ",
           f.alignment_);
    f.by_name_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment; ggml does not pad
  // when there are no tensors.
  f.data_offset_ = c.pos();
  if (n_tensors > 0) {
    const std::uint64_t pad = (f.alignment_ - f.data_offset_ % f.alignment_) % f.alignment_;
    if (pad > c.remaining())
      fail(src, ": the data section would start at offset ", f.data_offset_ + pad, ", past the end of the ",
           bytes.size(), "-byte file");
    f.data_offset_ += pad;
  }

  const std::uint64_t data_size = bytes.size() - std::min<std::uint64_t>(f.data_offset_, bytes.size());
  for (GgufTensor& t : f.tensors_) {
    std::uint64_t end;
    if (__builtin_add_overflow(t.offset, t.nbytes, &end) || end > data_size)
      fail(src, ": ", "tensor ", shown(t.name), ": data [", t.offset, ", +", t.nbytes, ") from the data section at ",
           f.data_offset_, " runs past the end of the file (", data_size, " bytes of data)");
    t.data = bytes.subspan(static_cast<std::size_t>(f.data_offset_ + t.offset), static_cast<std::size_t>(t.nbytes));
  }

  // Two tensors sharing bytes would let a writer to one corrupt the other; ggml's layout
  // never overlaps (it even requires back-to-back order), the gguf package does not check.
  std::vector<std::size_t> order(f.tensors_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return f.tensors_[a].offset < f.tensors_[b].offset;
  });
  std::uint64_t end = 0;
  const GgufTensor* owner = nullptr;
  for (std::size_t i : order) {
    const GgufTensor& t = f.tensors_[i];
    if (t.nbytes == 0) continue;
    if (owner && t.offset < end)
      fail(src, ": tensor ", shown(t.name), ": data [", t.offset, ", ", t.offset + t.nbytes, ") overlaps tensor ",
           shown(owner->name), " which ends at ", end, " (offsets from the data section at ", f.data_offset_, ")");
    end = t.offset + t.nbytes;
    owner = &t;
  }
  return f;
}

const GgufKv* GgufFile::find_kv(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &metadata_[it->second];
}

const GgufValue& GgufFile::value(std::string_view key) const {
  if (const GgufKv* kv = find_kv(key)) return kv->value;
  fail(source_, ": no key ", shown(key));
}

namespace {
// Runs a typed getter, prefixing its error with the file and the key.
template <typename F>
auto with_context(const GgufFile& f, std::string_view key, F&& get) {
  const GgufValue& v = f.value(key);
  try {
    return get(v);
  } catch (const Error& e) {
    fail(f.source(), ": key ", shown(key), ": ", e.what());
  }
}
}  // namespace

std::string GgufFile::get_string(std::string_view key) const {
  return with_context(*this, key, [](const GgufValue& v) { return v.as_string(); });
}
std::int64_t GgufFile::get_int(std::string_view key) const {
  return with_context(*this, key, [](const GgufValue& v) { return v.as_int(); });
}
std::uint64_t GgufFile::get_uint(std::string_view key) const {
  return with_context(*this, key, [](const GgufValue& v) { return v.as_uint(); });
}
double GgufFile::get_float(std::string_view key) const {
  return with_context(*this, key, [](const GgufValue& v) { return v.as_float(); });
}
bool GgufFile::get_bool(std::string_view key) const {
  return with_context(*this, key, [](const GgufValue& v) { return v.as_bool(); });
}
std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  return with_context(*this, key, [](const GgufValue& v) { return v.as_string_array(); });
}
std::vector<std::int64_t> GgufFile::get_int_array(std::string_view key) const {
  return with_context(*this, key, [](const GgufValue& v) { return v.as_int_array(); });
}
std::vector<double> GgufFile::get_float_array(std::string_view key) const {
  return with_context(*this, key, [](const GgufValue& v) { return v.as_float_array(); });
}

const GgufTensor* GgufFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::tensor(std::string_view name) const {
  if (const GgufTensor* t = find(name)) return *t;
  fail(source_, ": no tensor ", shown(name));
}

}  // namespace lowbit
