// MappedFile: a read-only, private memory map of a whole file. Readers hand out spans
// into it instead of copying, so a tensor costs no memory until it is touched and a
// model larger than RAM can still be walked one tensor at a time.
#pragma once
#include <cstddef>
#include <filesystem>
#include <span>

namespace lowbit {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps `path` (a regular file) read-only. Throws lowbit::Error naming the path and the
  // errno text. An empty file maps to an empty span (mmap cannot map zero bytes).
  static MappedFile open(const std::filesystem::path& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  // Gives back the resident pages wholly inside `range` (madvise DONTNEED): a reader
  // that has copied a tensor out calls this so the copy and the map are not both held.
  // The bytes stay readable (the next touch reads them from the file again); a range
  // outside this map is ignored, so a parse() of a caller's buffer is never touched.
  void drop_pages(std::span<const std::byte> range) const noexcept;
  const std::filesystem::path& path() const { return path_; }

 private:
  void reset() noexcept;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::filesystem::path path_;
};

}  // namespace lowbit
