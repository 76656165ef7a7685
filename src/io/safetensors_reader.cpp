// safetensors reader: validates the 8-byte length, the UTF-8 JSON header and every tensor
// entry (dtype, shape, offsets, sizes, contiguous non-overlapping coverage of the data
// section) before any view into the data is created. Checks follow the reference Rust
// implementation (safetensors 0.x `validate`), plus duplicate-key detection it gets from serde.
#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "io/shown_name.h"
#include "lowbit/error.h"
#include "lowbit/safetensors.h"

namespace lowbit {
namespace {

using json = nlohmann::json;

// A tensor entry after its own fields were checked, before the cross-entry checks.
struct Entry {
  std::string name;
  std::size_t header_index;  // position in the header, to order empty tensors sharing an offset
  DType dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin;
  std::uint64_t end;
};

// Names come from hostile files; keep control bytes out of error messages.
std::string shown(std::string_view s) { return shown_name(s); }

// A JSON value for an error message, cut short: hostile values can be megabytes long.
std::string brief(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 64) s = s.substr(0, 60) + "...";
  return s;
}

// Parses the header into a DOM, rejecting what nlohmann would silently accept: duplicate
// keys (it keeps the last) and nesting deeper than any valid header needs (a deep
// array is a cheap way to make a parser use memory). Also records key order, which
// nlohmann's std::map-based objects lose.
struct ParsedHeader {
  json root;
  std::vector<std::string> top_keys;       // root keys in header order
  std::vector<std::string> metadata_keys;  // __metadata__ keys in header order
};

ParsedHeader parse_header_json(std::string_view text, const std::string& src) {
  ParsedHeader out;
  std::vector<std::set<std::string>> open_objects;  // keys seen so far, per open object
  std::string top_key;                             // root key whose value is being parsed
  // Root object (depth 0) > tensor entry (1) > shape array (2) > its numbers (3).
  constexpr int kMaxDepth = 3;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    if (depth > kMaxDepth)
      fail(src, ": header nests deeper than a safetensors header can (depth ", depth,
           top_key.empty() ? std::string() : ", inside " + shown(top_key), ")");
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        open_objects.pop_back();
        break;
      case json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!open_objects.back().insert(key).second) {
          if (depth == 1)
            fail(src, ": duplicate key ", shown(key), " in the header (tensor names must be unique)");
          fail(src, ": duplicate key ", shown(key), " inside ", shown(top_key));
        }
        if (depth == 1) {
          top_key = key;
          out.top_keys.push_back(key);
        } else if (depth == 2 && top_key == "__metadata__") {
          out.metadata_keys.push_back(key);
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    out.root = json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error& e) {
    fail(src, ": header is not valid JSON (file offset ", 8 + (e.byte > 0 ? e.byte - 1 : 0), "): ", e.what());
  } catch (const json::exception& e) {
    fail(src, ": header is not valid JSON: ", e.what());
  }
  return out;
}

std::uint64_t as_offset(const json& v, const std::string& src, const std::string& name, const char* which) {
  if (!v.is_number_unsigned())
    fail(src, ": tensor ", name, ": data_offsets ", which, " must be a non-negative integer, got ", brief(v));
  return v.get<std::uint64_t>();
}

Entry parse_entry(const std::string& name, const json& v, std::size_t index, const std::string& src) {
  const std::string qn = shown(name);
  if (!v.is_object()) fail(src, ": tensor ", qn, ": entry must be a JSON object, got ", v.type_name());
  for (const auto& [key, _] : v.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail(src, ": tensor ", qn, ": unknown field ", shown(key));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) fail(src, ": tensor ", qn, ": missing field '", key, "'");

  Entry e{name, index, DType::U8, {}, 0, 0};
  const json& dt = v["dtype"];
  if (!dt.is_string()) fail(src, ": tensor ", qn, ": dtype must be a string, got ", brief(dt));
  const auto dtype = dtype_from_safetensors(dt.get_ref<const std::string&>());
  if (!dtype) fail(src, ": tensor ", qn, ": unknown or unsupported dtype ", shown(dt.get_ref<const std::string&>()));
  e.dtype = *dtype;

  const json& shape = v["shape"];
  if (!shape.is_array()) fail(src, ": tensor ", qn, ": shape must be an array, got ", shape.type_name());
  e.shape.reserve(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const json& d = shape[i];
    if (d.is_number_integer() && !d.is_number_unsigned())
      fail(src, ": tensor ", qn, ": shape[", i, "] is negative (", brief(d), ")");
    if (!d.is_number_unsigned())
      fail(src, ": tensor ", qn, ": shape[", i, "] must be a non-negative integer, got ", brief(d));
    const auto u = d.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail(src, ": tensor ", qn, ": shape[", i, "] = ", u, " does not fit in int64");
    e.shape.push_back(static_cast<std::int64_t>(u));
  }

  const json& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2)
    fail(src, ": tensor ", qn, ": data_offsets must be an array [begin, end], got ", brief(off));
  e.begin = as_offset(off[0], src, qn, "begin");
  e.end = as_offset(off[1], src, qn, "end");
  if (e.begin > e.end)
    fail(src, ": tensor ", qn, ": data_offsets begin ", e.begin, " is past end ", e.end);

  const auto nbytes = tensor_nbytes(e.dtype, e.shape);
  if (!nbytes) fail(src, ": tensor ", qn, ": shape ", brief(shape), " x ", dtype_size(e.dtype), " bytes overflows 64 bits");
  if (*nbytes != e.end - e.begin)
    fail(src, ": tensor ", qn, ": shape ", brief(shape), " of ", dt.get_ref<const std::string&>(), " needs ", *nbytes,
         " bytes but data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin);
  return e;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  MappedFile mapped = MappedFile::open(path);
  SafetensorsFile f = parse(mapped.bytes(), path.string());
  f.file_ = std::move(mapped);  // the views point into the mapping, which does not move
  return f;
}

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, std::string source) {
  SafetensorsFile f;
  f.source_ = std::move(source);
  const std::string& src = f.source_;
  const std::uint64_t size = bytes.size();
  if (size < 8) fail(src, ": ", size, " bytes is too short for the 8-byte header length");

  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(bytes[static_cast<std::size_t>(i)]);
  if (n > size - 8)
    fail(src, ": header length ", n, " (at offset 0) runs past the end of the file (", size - 8,
         " bytes follow the length)");
  if (n > kSafetensorsMaxHeaderBytes)
    fail(src, ": header length ", n, " (at offset 0) exceeds the limit of ", kSafetensorsMaxHeaderBytes, " bytes");
  f.header_size_ = n;

  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(n));
  if (auto bad = first_invalid_utf8(text)) fail(src, ": header is not UTF-8 (file offset ", 8 + *bad, ")");
  ParsedHeader header = parse_header_json(text, src);
  if (!header.root.is_object()) fail(src, ": header must be a JSON object, got ", header.root.type_name());

  const std::uint64_t data_size = size - 8 - n;
  std::vector<Entry> entries;
  entries.reserve(header.top_keys.size());
  for (std::size_t i = 0; i < header.top_keys.size(); ++i) {
    const std::string& key = header.top_keys[i];
    const json& value = header.root[key];
    if (key == "__metadata__") {
      if (!value.is_object()) fail(src, ": __metadata__ must be an object, got ", value.type_name());
      for (const std::string& mk : header.metadata_keys) {
        const json& mv = value[mk];
        if (!mv.is_string())
          fail(src, ": __metadata__ value of ", shown(mk), " must be a string, got ", brief(mv));
        f.metadata_.emplace_back(mk, mv.get<std::string>());
      }
      continue;
    }
    Entry e = parse_entry(key, value, i, src);
    if (e.end > data_size)
      fail(src, ": tensor ", shown(key), ": data_offsets [", e.begin, ", ", e.end, "] run past the data section (",
           data_size, " bytes from file offset ", 8 + n, ")");
    entries.push_back(std::move(e));
  }

  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.header_index) < std::tie(b.begin, b.end, b.header_index);
  });
  // The spec requires the tensors to tile the data section exactly; a hole or an
  // overlap means two readers may disagree on what the bytes are.
  std::uint64_t expected = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < expected)
      fail(src, ": tensor ", shown(e.name), ": data_offsets [", e.begin, ", ", e.end, "] overlap tensor ",
           shown(prev->name), " which ends at ", expected);
    if (e.begin > expected)
      fail(src, ": tensor ", shown(e.name), ": data_offsets begin ", e.begin, " leaves a hole of ", e.begin - expected,
           " bytes after ", expected, " (the data section must be covered contiguously)");
    expected = e.end;
    prev = &e;
  }
  if (expected != data_size)
    fail(src, ": tensors cover ", expected, " bytes of the ", data_size, "-byte data section (file offset ", 8 + n,
         "); the rest is not part of any tensor");

  const std::byte* data = bytes.data() + 8 + n;
  f.tensors_.reserve(entries.size());
  for (Entry& e : entries) {
    f.by_name_.emplace(e.name, f.tensors_.size());
    f.tensors_.push_back(TensorView{std::move(e.name), e.dtype, std::move(e.shape),
                                    {data + e.begin, static_cast<std::size_t>(e.end - e.begin)}});
  }
  return f;
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& SafetensorsFile::tensor(std::string_view name) const {
  if (const TensorView* t = find(name)) return *t;
  fail(source_, ": no tensor ", shown(name));
}

std::optional<std::string_view> SafetensorsFile::metadata_value(std::string_view key) const {
  for (const auto& [k, v] : metadata_)
    if (k == key) return v;
  return std::nullopt;
}

}  // namespace lowbit
