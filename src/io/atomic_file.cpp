// AtomicFile (include/lowbit/atomic_file.h): temp file with O_EXCL and a random suffix,
// full writes retried on EINTR, fsync + rename + directory fsync on commit.
#include "lowbit/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>

#include "lowbit/error.h"

namespace lowbit {
namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path out) : out_(std::move(out)) {
  const std::filesystem::path dir = out_.has_parent_path() ? out_.parent_path() : std::filesystem::path(".");
  std::random_device rd;
  for (int attempt = 0; fd_ < 0; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rd()));
    temp_ = dir / (out_.filename().string() + ".tmp-" + suffix);
    // 0666 lets the umask decide the final permissions, as for any newly created file.
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && (errno != EEXIST || attempt > 100))
      fail(out_.string(), ": cannot create temporary file ", temp_.string(), ": ", errno_text());
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t n) {
  if (fd_ < 0) fail(out_.string(), ": write after commit");
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail(out_.string(), ": write to ", temp_.string(), " failed: ", errno_text());
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) fail(out_.string(), ": fsync of ", temp_.string(), " failed: ", errno_text());
  const int f = std::exchange(fd_, -1);
  if (::close(f) != 0) fail(out_.string(), ": close of ", temp_.string(), " failed: ", errno_text());
  if (::rename(temp_.c_str(), out_.c_str()) != 0)
    fail(out_.string(), ": rename from ", temp_.string(), " failed: ", errno_text());
  committed_ = true;
  // Make the rename itself durable; the data is already safe, so a failure here is not
  // worth failing the write over.
  const std::filesystem::path dir = out_.has_parent_path() ? out_.parent_path() : std::filesystem::path(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::filesystem::path& out, std::string_view bytes) {
  AtomicFile f(out);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

}  // namespace lowbit
