// safetensors I/O: a validating, zero-copy reader (single files and sharded checkpoints
// with a transformers-style index.json) and an atomic, streaming writer. Format:
// https://github.com/huggingface/safetensors#format; every header field is checked,
// with overflow-checked arithmetic, before any tensor byte is handed out.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lowbit/dtype.h"
#include "lowbit/mmap_file.h"

namespace lowbit {

// A header longer than this is refused before it is read: real headers are a few MB at
// most (the reference implementation's own bound is 100 MB), and the JSON parser's
// memory grows with the header.
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100ull << 20;

// Ordered string->string pairs: the order of the header is kept so that a file can be
// rewritten byte-for-byte.
using SafetensorsMetadata = std::vector<std::pair<std::string, std::string>>;

// Bytes of a tensor of `shape` elements of `dtype`; nullopt if a dimension is negative
// or the product overflows 64 bits (even when a later dimension is zero, as the
// reference implementation does).
std::optional<std::uint64_t> tensor_nbytes(DType dtype, std::span<const std::int64_t> shape);

// Offset of the first byte that is not part of well-formed UTF-8 (overlong forms,
// surrogates and code points past U+10FFFF included), nullopt when `s` is valid.
std::optional<std::size_t> first_invalid_utf8(std::string_view s);

// One tensor of a safetensors file. `data` points into the mapped file (or the buffer
// given to SafetensorsFile::parse), little-endian, row-major, unaligned in general.
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> data;

  std::int64_t numel() const;  // 1 for a 0-d scalar
};

// The tensor's values as float32, whatever its dtype: floats are decoded exactly (F64 is
// rounded to nearest), integers and BOOL are converted as static_cast<float> does (as
// numpy's astype(float32) does too). Allocates numel() floats; meant for tests, the
// CLI and small tensors, not for streaming whole models.
std::vector<float> tensor_to_f32(const TensorView& t);

class SafetensorsFile {
 public:
  // Maps and validates a file. Throws lowbit::Error naming the file (and the tensor and
  // the offending field or offset where there is one).
  static SafetensorsFile open(const std::filesystem::path& path);
  // Validates an in-memory image of a file without copying it; the caller keeps `bytes`
  // alive as long as the result. `source` names it in errors. open() uses this too, so
  // fuzzing this entry point covers the reader without touching the filesystem.
  static SafetensorsFile parse(std::span<const std::byte> bytes, std::string source);

  const std::string& source() const { return source_; }
  // Tensors in file order (by data offset; empty tensors sharing an offset keep header order).
  std::span<const TensorView> tensors() const { return tensors_; }
  const TensorView* find(std::string_view name) const;
  const TensorView& tensor(std::string_view name) const;  // throws if absent
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  // Drops the mapped pages of a tensor whose data was copied out (MappedFile::drop_pages).
  void drop_pages(const TensorView& t) const noexcept { file_.drop_pages(t.data); }

  // __metadata__ in header order; empty when the header has none.
  const SafetensorsMetadata& metadata() const { return metadata_; }
  std::optional<std::string_view> metadata_value(std::string_view key) const;

  std::uint64_t header_size() const { return header_size_; }  // N, excluding the 8-byte length
  std::uint64_t data_offset() const { return 8 + header_size_; }

 private:
  MappedFile file_;
  std::string source_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::size_t, std::less<>> by_name_;
  SafetensorsMetadata metadata_;
  std::uint64_t header_size_ = 0;
};

// A model stored as one .safetensors file or as shards listed by an index.json
// ({"metadata": {...}, "weight_map": {tensor: shard file}}), as transformers saves it.
class SafetensorsCheckpoint {
 public:
  // `path`: a .safetensors file; an index.json; or a directory holding model.safetensors
  // or model.safetensors.index.json (checked in that order, as transformers does).
  // The index is validated: shard names stay inside the index's directory, every shard
  // exists and is valid, each listed tensor is in the shard the index names, no tensor
  // is listed twice or stored in two shards, and no shard holds an unlisted tensor.
  static SafetensorsCheckpoint open(const std::filesystem::path& path);

  // All tensors: in weight_map order for an index, in file order for a single file.
  std::span<const TensorView> tensors() const { return tensors_; }
  const TensorView* find(std::string_view name) const;
  const TensorView& tensor(std::string_view name) const;  // throws if absent
  // The shard file a tensor lives in.
  const std::filesystem::path& shard_path(std::string_view name) const;
  std::size_t shard_count() const { return shards_.size(); }
  const SafetensorsFile& shard(std::size_t i) const { return shards_.at(i); }
  // Drops the mapped pages of a tensor whose data was copied out, in whichever shard.
  void drop_pages(const TensorView& t) const noexcept {
    for (const auto& s : shards_) s.drop_pages(t);
  }
  // The index file, empty for a single-file checkpoint.
  const std::filesystem::path& index_path() const { return index_path_; }
  // metadata.total_size of the index, when present.
  std::optional<std::uint64_t> total_size() const { return total_size_; }

 private:
  std::vector<SafetensorsFile> shards_;
  std::vector<std::filesystem::path> shard_paths_;
  std::vector<TensorView> tensors_;
  std::vector<std::size_t> shard_of_;  // parallel to tensors_
  std::map<std::string, std::size_t, std::less<>> by_name_;
  std::filesystem::path index_path_;
  std::optional<std::uint64_t> total_size_;
};

// A tensor declared to the writer before any data is written.
struct TensorDecl {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
};

// Streaming, atomic writer. The whole header is fixed at construction; tensor bytes then
// arrive in declared order, so the caller never holds more than one tensor (or a piece
// of one). Bytes go to "<out>.tmp-XXXXXXXX" beside `out`; commit() fsyncs and renames it
// over `out`. Without commit() (an exception, an early return) the destructor deletes
// the temporary file and `out` is left as it was.
class SafetensorsWriter {
 public:
  SafetensorsWriter(std::filesystem::path out, std::vector<TensorDecl> tensors,
                    SafetensorsMetadata metadata = {});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // The next declared tensor, whole; `name` must be that tensor's name.
  void write(std::string_view name, std::span<const std::byte> bytes);
  // The next bytes of the data section, in declared order; may split or span tensors.
  void append(std::span<const std::byte> bytes);
  // Checks every declared byte arrived, then fsync + rename (+ fsync of the directory).
  void commit();

  const std::filesystem::path& temp_path() const { return temp_path_; }
  std::uint64_t data_size() const { return data_size_; }

 private:
  void flush();
  void write_raw(const std::byte* p, std::size_t n);
  void write_all(const std::byte* p, std::size_t n);  // the write(2) loop, EINTR-safe
  void abandon() noexcept;

  std::filesystem::path out_;
  std::filesystem::path temp_path_;
  std::vector<TensorDecl> decls_;
  std::vector<std::uint64_t> ends_;  // data_offsets end of each declared tensor
  std::uint64_t data_size_ = 0;
  std::uint64_t written_ = 0;        // data-section bytes received so far
  std::size_t next_ = 0;             // first tensor not yet completely written
  std::vector<std::byte> buffer_;
  int fd_ = -1;
  bool committed_ = false;
  bool failed_ = false;
};

// The header a writer would produce (JSON padded with spaces to a multiple of 8 bytes,
// without the 8-byte length prefix); offsets follow the declared order.
std::string safetensors_header(std::span<const TensorDecl> tensors, const SafetensorsMetadata& metadata);

// Whole tensors already in memory, written in the given order through SafetensorsWriter.
struct TensorData {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> bytes;
};
void write_safetensors(const std::filesystem::path& out, std::span<const TensorData> tensors,
                       const SafetensorsMetadata& metadata = {});

}  // namespace lowbit
