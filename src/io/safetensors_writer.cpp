// Atomic, streaming safetensors writer: the header is fixed up front, tensor bytes are
// streamed into a temporary file beside the destination, and only a complete, fsynced
// file is renamed into place. The header is serialised exactly as the reference
// implementation does (compact JSON, spaces to a multiple of 8) so equal inputs give
// equal bytes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/safetensors.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::size_t kBufferBytes = 1 << 20;

// JSON string literal, escaped as serde_json does (same escapes, lowercase \u00xx).
std::string json_string(const std::string& s) { return json(s).dump(); }

void check_utf8(const std::string& s, const char* what) {
  if (auto bad = first_invalid_utf8(s)) fail("safetensors writer: ", what, " is not UTF-8 (byte ", *bad, ")");
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::string safetensors_header(std::span<const TensorDecl> tensors, const SafetensorsMetadata& metadata) {
  std::string h = "{";
  if (!metadata.empty()) {
    std::set<std::string_view> keys;
    h += "\"__metadata__\":{";
    for (std::size_t i = 0; i < metadata.size(); ++i) {
      const auto& [k, v] = metadata[i];
      check_utf8(k, "metadata key");
      check_utf8(v, "metadata value");
      if (!keys.insert(k).second) fail("safetensors writer: duplicate metadata key '", k, "'");
      if (i) h += ',';
      h += json_string(k) + ':' + json_string(v);
    }
    h += '}';
  }
  std::set<std::string_view> names;
  std::uint64_t offset = 0;
  for (const TensorDecl& t : tensors) {
    check_utf8(t.name, "tensor name");
    if (t.name == "__metadata__") fail("safetensors writer: '__metadata__' cannot name a tensor");
    if (!names.insert(t.name).second) fail("safetensors writer: duplicate tensor name '", t.name, "'");
    const auto nbytes = tensor_nbytes(t.dtype, t.shape);
    if (!nbytes) fail("safetensors writer: tensor '", t.name, "': negative dimension or size overflow");
    std::uint64_t end;
    if (__builtin_add_overflow(offset, *nbytes, &end)) fail("safetensors writer: tensor '", t.name, "': data section overflows 64 bits");
    if (h.size() > 1) h += ',';
    h += json_string(t.name) + ":{\"dtype\":\"" + std::string(dtype_info(t.dtype).safetensors_name) + "\",\"shape\":[";
    for (std::size_t i = 0; i < t.shape.size(); ++i) h += (i ? "," : "") + std::to_string(t.shape[i]);
    h += "],\"data_offsets\":[" + std::to_string(offset) + ',' + std::to_string(end) + "]}";
    offset = end;
  }
  h += '}';
  h.append((8 - h.size() % 8) % 8, ' ');
  return h;
}

SafetensorsWriter::SafetensorsWriter(fs::path out, std::vector<TensorDecl> tensors, SafetensorsMetadata metadata)
    : out_(std::move(out)), decls_(std::move(tensors)) {
  const std::string header = safetensors_header(decls_, metadata);
  for (const TensorDecl& t : decls_) {
    data_size_ += *tensor_nbytes(t.dtype, t.shape);  // checked by safetensors_header
    ends_.push_back(data_size_);
  }

  // Same directory as the destination, so rename() is atomic (never across filesystems).
  const fs::path dir = out_.has_parent_path() ? out_.parent_path() : fs::path(".");
  std::random_device rd;
  for (int attempt = 0; fd_ < 0; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rd()));
    temp_path_ = dir / (out_.filename().string() + ".tmp-" + suffix);
    // 0666 lets the umask decide the final permissions, as for any newly created file.
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && (errno != EEXIST || attempt > 100))
      fail(out_.string(), ": cannot create temporary file ", temp_path_.string(), ": ", errno_text());
  }
  buffer_.reserve(kBufferBytes);
  try {
    std::byte len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<std::byte>((header.size() >> (8 * i)) & 0xFF);
    write_raw(len, 8);
    write_raw(reinterpret_cast<const std::byte*>(header.data()), header.size());
  } catch (...) {
    abandon();
    throw;
  }
}

SafetensorsWriter::~SafetensorsWriter() {
  if (!committed_) abandon();
}

void SafetensorsWriter::abandon() noexcept {
  failed_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
}

void SafetensorsWriter::write_raw(const std::byte* p, std::size_t n) {
  if (buffer_.size() + n <= kBufferBytes) {
    buffer_.insert(buffer_.end(), p, p + n);
    return;
  }
  flush();
  if (n < kBufferBytes) {
    buffer_.insert(buffer_.end(), p, p + n);
    return;
  }
  write_all(p, n);
}

void SafetensorsWriter::flush() {
  write_all(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void SafetensorsWriter::write_all(const std::byte* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail(out_.string(), ": write to ", temp_path_.string(), " failed: ", errno_text());
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void SafetensorsWriter::append(std::span<const std::byte> bytes) {
  if (failed_ || committed_) fail(out_.string(), ": writer is ", committed_ ? "already committed" : "in a failed state");
  if (bytes.size() > data_size_ - written_) {
    failed_ = true;
    fail(out_.string(), ": ", bytes.size(), " bytes written past the declared data section (", data_size_ - written_,
         " bytes remained)");
  }
  try {
    write_raw(bytes.data(), bytes.size());
  } catch (...) {
    failed_ = true;
    throw;
  }
  written_ += bytes.size();
  // Past every finished tensor, but not past empty ones at the current offset: write()
  // may still name those.
  while (next_ < decls_.size() && ends_[next_] <= written_ && (next_ == 0 ? 0 : ends_[next_ - 1]) < written_) ++next_;
}

void SafetensorsWriter::write(std::string_view name, std::span<const std::byte> bytes) {
  if (failed_ || committed_) fail(out_.string(), ": writer is ", committed_ ? "already committed" : "in a failed state");
  // Skip past empty tensors declared before `name`; they need no bytes.
  const std::uint64_t begin = written_;
  std::size_t i = next_;
  while (i < decls_.size() && decls_[i].name != name && ends_[i] == begin) ++i;
  if (i == decls_.size() || decls_[i].name != name) {
    failed_ = true;
    fail(out_.string(), ": tensor '", name, "' written out of order; next expected is '",
         next_ < decls_.size() ? decls_[next_].name : std::string("(none: all written)"), "'");
  }
  // Only the current tensor can start before `begin`: append() already wrote part of it.
  const std::uint64_t start = i == 0 ? 0 : ends_[i - 1];
  if (start != begin) {
    failed_ = true;
    fail(out_.string(), ": tensor '", name, "' written whole after append() already wrote ", begin - start,
         " bytes of it");
  }
  if (bytes.size() != ends_[i] - start) {
    failed_ = true;
    fail(out_.string(), ": tensor '", name, "' has ", bytes.size(), " bytes, declared ", ends_[i] - start);
  }
  append(bytes);
}

void SafetensorsWriter::commit() {
  if (failed_ || committed_) fail(out_.string(), ": writer is ", committed_ ? "already committed" : "in a failed state");
  if (written_ != data_size_) {
    abandon();
    fail(out_.string(), ": commit with ", data_size_ - written_, " bytes of tensor data missing (tensor '",
         decls_[next_].name, "' is incomplete)");
  }
  try {
    flush();
    if (::fsync(fd_) != 0) fail(out_.string(), ": fsync of ", temp_path_.string(), " failed: ", errno_text());
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail(out_.string(), ": close of ", temp_path_.string(), " failed: ", errno_text());
    if (::rename(temp_path_.c_str(), out_.c_str()) != 0)
      fail(out_.string(), ": rename from ", temp_path_.string(), " failed: ", errno_text());
  } catch (...) {
    abandon();
    throw;
  }
  committed_ = true;
  temp_path_.clear();
  // Make the rename itself durable; the data is already safe, so a failure here is
  // not worth failing the write over.
  const fs::path dir = out_.has_parent_path() ? out_.parent_path() : fs::path(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void write_safetensors(const fs::path& out, std::span<const TensorData> tensors, const SafetensorsMetadata& metadata) {
  std::vector<TensorDecl> decls;
  decls.reserve(tensors.size());
  for (const TensorData& t : tensors) decls.push_back({t.name, t.dtype, t.shape});
  SafetensorsWriter w(out, std::move(decls), metadata);
  for (const TensorData& t : tensors) w.write(t.name, t.bytes);
  w.commit();
}

}  // namespace lowbit
