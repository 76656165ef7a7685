// GGUF writer: ggml's layout (header, KVs, tensor infos, zero padding to the alignment,
// each tensor at the next aligned offset followed by zero padding), streamed one tensor at
// a time into a temporary file beside the destination that is renamed into place only
// when complete. Everything a reader would refuse is refused here before a byte is written.
#include <sys/stat.h>

#include <cstring>

#include "lowbit/atomic_file.h"
#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/safetensors.h"  // first_invalid_utf8

namespace lowbit {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kBufferBytes = 1 << 20;

template <typename T>
void put(std::string& out, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}

void put_string(std::string& out, const std::string& s) {
  put<std::uint64_t>(out, s.size());
  out += s;
}

void check_name(const std::string& s, const char* what) {
  if (s.empty()) fail("GGUF writer: empty ", what);
  if (s.size() > kGgufMaxStringBytes) fail("GGUF writer: ", what, " of ", s.size(), " bytes is too long");
  if (auto bad = first_invalid_utf8(s)) fail("GGUF writer: ", what, " '", s.substr(0, 80), "' is not UTF-8 (byte ", *bad, ")");
}

// The reader's limits on arrays of arrays, so that lowbit reads back what it writes:
// `v`, an array at nesting level `depth` (1 for a KV's own array), may not exceed it.
void check_nesting(const GgufValue& v, const std::string& key, int depth, std::uint64_t& nested) {
  if (depth > kGgufMaxArrayDepth) fail("GGUF writer: key '", key, "': arrays nest deeper than ", kGgufMaxArrayDepth);
  if (v.element_type() != GgufType::Array) return;
  nested += v.size();
  if (nested > kGgufMaxNestedValues) fail("GGUF writer: more than ", kGgufMaxNestedValues, " nested arrays");
  for (const GgufValue& item : v.as_array_of_arrays()) check_nesting(item, key, depth + 1, nested);
}

std::uint64_t pad_to(std::uint64_t n, std::uint64_t align) {
  const std::uint64_t pad = (align - n % align) % align;
  std::uint64_t out;
  if (__builtin_add_overflow(n, pad, &out)) fail("GGUF writer: size overflows 64 bits");
  return out;
}

}  // namespace

void GgufWriter::set(std::string key, GgufValue value) {
  check_name(key, "metadata key");
  if (key == kGgufAlignmentKey) {
    // ggml reads the alignment only as a u32; anything else makes the file unloadable.
    if (value.type() != GgufType::U32) fail("GGUF writer: '", key, "' must be u32, got ", value.describe());
    const std::uint64_t a = value.as_uint();
    if (a == 0 || (a & (a - 1)) != 0) fail("GGUF writer: '", key, "' = ", a, " is not a nonzero power of two");
  }
  if (auto it = key_index_.find(key); it != key_index_.end()) {
    metadata_[it->second].value = std::move(value);
    return;
  }
  key_index_.emplace(key, metadata_.size());
  metadata_.push_back({std::move(key), std::move(value)});
}

bool GgufWriter::remove(std::string_view key) {
  auto it = key_index_.find(key);
  if (it == key_index_.end()) return false;
  metadata_.erase(metadata_.begin() + static_cast<std::ptrdiff_t>(it->second));
  key_index_.clear();  // positions after the removed key moved; removal is rare
  for (std::size_t i = 0; i < metadata_.size(); ++i) key_index_.emplace(metadata_[i].key, i);
  return true;
}

const GgufValue* GgufWriter::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

void GgufWriter::copy_metadata(const GgufFile& f) {
  for (const GgufKv& kv : f.metadata()) set(kv.key, kv.value);
}

std::uint64_t GgufWriter::alignment() const {
  const GgufValue* a = find(kGgufAlignmentKey);
  return a ? a->as_uint() : kGgufDefaultAlignment;
}

void GgufWriter::add_tensor(GgufTensorDecl decl, GgufFill fill) {
  check_name(decl.name, "tensor name");
  if (decl.name.size() > kGgufMaxTensorName)
    fail("GGUF writer: tensor name '", decl.name.substr(0, 80), "' is ", decl.name.size(),
         " bytes; ggml loads names of at most ", kGgufMaxTensorName);
  if (names_.count(decl.name)) fail("GGUF writer: duplicate tensor name '", decl.name, "'");
  if (decl.ne.size() > 4) fail("GGUF writer: tensor '", decl.name, "' has ", decl.ne.size(), " dimensions (ggml allows 4)");
  if (!ggml::traits(static_cast<std::uint32_t>(decl.type)))
    fail("GGUF writer: tensor '", decl.name, "' has unknown ggml type id ", static_cast<std::uint32_t>(decl.type));
  const auto nbytes = gguf_tensor_nbytes(decl.type, decl.ne);
  if (!nbytes) {
    const ggml::TypeTraits& tr = ggml::traits(decl.type);
    fail("GGUF writer: tensor '", decl.name, "': shape is negative, overflows, or its row length is not a multiple of the ",
         tr.name, " block size ", tr.block_size);
  }
  if (!fill) fail("GGUF writer: tensor '", decl.name, "' has no fill function");
  names_.emplace(decl.name, tensors_.size());
  tensors_.push_back({std::move(decl), *nbytes, std::move(fill), {}});
}

void GgufWriter::add_tensor(GgufTensorDecl decl, std::span<const std::byte> bytes) {
  const std::string name = decl.name;
  // Validate through the fill overload, then swap the fill for the borrowed bytes.
  add_tensor(std::move(decl), GgufFill([](std::span<std::byte>) {}));
  Pending& p = tensors_.back();
  if (bytes.size() != p.nbytes) {
    tensors_.pop_back();
    names_.erase(name);
    fail("GGUF writer: tensor '", name, "' is given ", bytes.size(), " bytes, its shape needs ", p.nbytes);
  }
  p.fill = nullptr;
  p.bytes = bytes;
}

void GgufWriter::add_tensor(const GgufTensor& t) {
  add_tensor(GgufTensorDecl{t.name, std::vector<std::int64_t>(t.shape().begin(), t.shape().end()), t.type}, t.data);
}

std::vector<std::uint64_t> GgufWriter::tensor_offsets() const {
  const std::uint64_t align = alignment();
  std::vector<std::uint64_t> out;
  out.reserve(tensors_.size());
  std::uint64_t offset = 0;
  for (const Pending& p : tensors_) {
    out.push_back(offset);
    if (__builtin_add_overflow(offset, pad_to(p.nbytes, align), &offset))
      fail("GGUF writer: data section overflows 64 bits at tensor '", p.decl.name, "'");
  }
  return out;
}

std::string GgufWriter::header() const {
  const std::uint64_t align = alignment();
  std::uint64_t nested = 0;
  std::string h = "GGUF";
  put<std::uint32_t>(h, kGgufVersion);
  put<std::uint64_t>(h, tensors_.size());
  put<std::uint64_t>(h, metadata_.size());
  for (const GgufKv& kv : metadata_) {
    if (kv.value.is_array()) check_nesting(kv.value, kv.key, 1, nested);
    put_string(h, kv.key);
    put<std::uint32_t>(h, static_cast<std::uint32_t>(kv.value.type()));
    kv.value.serialize(h);
  }
  const std::vector<std::uint64_t> offsets = tensor_offsets();
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const GgufTensorDecl& d = tensors_[i].decl;
    put_string(h, d.name);
    put<std::uint32_t>(h, static_cast<std::uint32_t>(d.ne.size()));
    for (std::int64_t n : d.ne) put<std::int64_t>(h, n);
    put<std::uint32_t>(h, static_cast<std::uint32_t>(d.type));
    put<std::uint64_t>(h, offsets[i]);
  }
  // Both ggml and the gguf package pad here even when there are no tensors.
  h.append(pad_to(h.size(), align) - h.size(), '\0');
  return h;
}

void GgufWriter::stream(const std::function<void(const std::byte*, std::size_t)>& sink) const {
  const std::string h = header();
  sink(reinterpret_cast<const std::byte*>(h.data()), h.size());
  const std::uint64_t align = alignment();
  static constexpr std::byte kZeros[256] = {};
  std::vector<std::byte> buffer;
  for (const Pending& p : tensors_) {
    if (p.fill) {
      // Zeroed, so a fill that skips bytes still gives deterministic output.
      buffer.assign(static_cast<std::size_t>(p.nbytes), std::byte{0});
      p.fill(buffer);
      sink(buffer.data(), buffer.size());
    } else {
      sink(p.bytes.data(), p.bytes.size());
    }
    for (std::uint64_t pad = pad_to(p.nbytes, align) - p.nbytes; pad > 0;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(pad, sizeof kZeros));
      sink(kZeros, n);
      pad -= n;
    }
  }
}

std::vector<std::byte> GgufWriter::to_bytes() const {
  std::vector<std::byte> out;
  stream([&](const std::byte* p, std::size_t n) { out.insert(out.end(), p, p + n); });
  return out;
}

void GgufWriter::write(const fs::path& out) const {
  (void)header();  // every validation error before the file system is touched

  AtomicFile file(out);
  std::vector<std::byte> buffer;
  buffer.reserve(kBufferBytes);
  auto flush = [&] {
    file.write(buffer.data(), buffer.size());
    buffer.clear();
  };
  stream([&](const std::byte* p, std::size_t n) {
    if (buffer.size() + n > kBufferBytes) flush();
    if (n >= kBufferBytes) {
      file.write(p, n);
    } else {
      buffer.insert(buffer.end(), p, p + n);
    }
  });
  flush();
  file.commit();
}

}  // namespace lowbit
