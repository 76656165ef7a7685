// Writing a file so that readers see the old file or the whole new one, never a part:
// bytes go to a uniquely named temporary beside the destination (same filesystem, so
// rename() is atomic), commit() fsyncs, renames and fsyncs the directory; an AtomicFile
// dropped without commit() removes its temporary. Every lowbit writer goes through it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace lowbit {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path out);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t n);
  void commit();
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  std::filesystem::path out_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// The whole of `bytes` as `out`, atomically.
void write_file_atomic(const std::filesystem::path& out, std::string_view bytes);

}  // namespace lowbit
