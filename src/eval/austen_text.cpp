// The Austen corpus: finds janeaustenr's data folder, decodes the novels through the R
// lazy-load reader (src/io/rdata_reader.cpp) and builds the fixed calibration and
// evaluation texts. The splits are part of every reported number, so they never change.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "lowbit/austen.h"
#include "lowbit/error.h"
#include "lowbit/rdata.h"

namespace fs = std::filesystem;

namespace lowbit {

namespace {

constexpr std::string_view kDebRelative = ".deps/janeaustenr/usr/lib/R/site-library/janeaustenr/data";
constexpr std::string_view kSystemDir = "/usr/lib/R/site-library/janeaustenr/data";

bool has_data(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "Rdata.rdx", ec) && fs::is_regular_file(dir / "Rdata.rdb", ec);
}

void check_novel(std::string_view name) {
  for (std::string_view n : kAustenNovels)
    if (n == name) return;
  std::string all;
  for (std::string_view n : kAustenNovels) (all += all.empty() ? "" : ", ") += n;
  fail("unknown Austen novel '", name, "' (janeaustenr has: ", all, ")");
}

std::vector<std::string> novel_lines(const RLazyLoadDb& db, const fs::path& dir, std::string_view name) {
  check_novel(name);
  const RValue v = db.get(name);
  return r_character_vector(v, (dir / "Rdata.rdb").string() + "['" + std::string(name) + "']");
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::string_view austen_title(std::string_view novel) {
  if (novel == "sensesensibility") return "Sense and Sensibility";
  if (novel == "prideprejudice") return "Pride and Prejudice";
  if (novel == "mansfieldpark") return "Mansfield Park";
  if (novel == "emma") return "Emma";
  if (novel == "northangerabbey") return "Northanger Abbey";
  if (novel == "persuasion") return "Persuasion";
  return {};
}

fs::path austen_data_dir() {
  std::vector<fs::path> looked;
  if (const char* env = std::getenv("LOWBIT_AUSTEN_DIR"); env && *env) {
    // An explicit choice is not second-guessed: a wrong folder is an error, not a fallback.
    if (has_data(env)) return env;
    fail("LOWBIT_AUSTEN_DIR=", env, " holds no Rdata.rdx + Rdata.rdb (janeaustenr's data folder)");
  }
  std::error_code ec;
  std::vector<fs::path> roots;
  if (fs::path cwd = fs::current_path(ec); !ec) roots.push_back(cwd);
  // Test and CLI binaries live under build/<preset>/ of the checkout holding .deps/.
  if (fs::path exe = fs::read_symlink("/proc/self/exe", ec); !ec) roots.push_back(exe.parent_path());
  for (const fs::path& root : roots) {
    for (fs::path p = root;; p = p.parent_path()) {
      const fs::path dir = p / kDebRelative;
      if (has_data(dir)) return dir;
      looked.push_back(dir);
      if (p == p.parent_path() || p.empty()) break;
    }
  }
  if (has_data(kSystemDir)) return fs::path(kSystemDir);
  looked.emplace_back(kSystemDir);
  std::string where;
  for (const fs::path& p : looked) (where += where.empty() ? "" : ", ") += p.string();
  fail("janeaustenr data not found (run scripts/install-deps.sh or set LOWBIT_AUSTEN_DIR); looked in ", where);
}

std::vector<std::string> austen_novel(std::string_view name) {
  check_novel(name);
  const fs::path dir = austen_data_dir();
  return novel_lines(RLazyLoadDb::open(dir), dir, name);
}

std::string_view austen_split_name(AustenSplit s) {
  switch (s) {
    case AustenSplit::calibration: return "calibration";
    case AustenSplit::evaluation: return "evaluation";
    case AustenSplit::all: return "all";
  }
  return "?";
}

std::optional<AustenSplit> austen_split_from_name(std::string_view name) {
  for (AustenSplit s : {AustenSplit::calibration, AustenSplit::evaluation, AustenSplit::all})
    if (austen_split_name(s) == name) return s;
  return std::nullopt;
}

std::vector<std::string_view> austen_split_novels(AustenSplit s) {
  switch (s) {
    case AustenSplit::calibration: return {"sensesensibility"};
    case AustenSplit::evaluation: return {"prideprejudice"};
    case AustenSplit::all: return {kAustenNovels.begin(), kAustenNovels.end()};
  }
  return {};
}

std::string austen_text(AustenSplit s) {
  const std::vector<std::string_view> novels = austen_split_novels(s);
  return austen_text(novels);
}

std::string austen_text(std::span<const std::string_view> novels) {
  for (std::string_view n : novels) check_novel(n);
  const fs::path dir = austen_data_dir();
  const RLazyLoadDb db = RLazyLoadDb::open(dir);
  std::string text;
  bool first = true;
  for (std::string_view n : novels) {
    for (const std::string& line : novel_lines(db, dir, n)) {
      if (!first) text += '\n';
      text += line;
      first = false;
    }
  }
  return text;
}

void write_text_file_atomic(const fs::path& path, std::string_view text) {
  // Same directory as the destination, so rename() is atomic (never across filesystems).
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::random_device rd;
  fs::path temp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rd()));
    temp = dir / (path.filename().string() + ".tmp-" + suffix);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt > 100))
      fail(path.string(), ": cannot create temporary file ", temp.string(), ": ", errno_text());
  }
  try {
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) fail(path.string(), ": write to ", temp.string(), " failed: ", errno_text());
      done += static_cast<std::size_t>(w);
    }
    if (::fsync(fd) != 0) fail(path.string(), ": fsync of ", temp.string(), " failed: ", errno_text());
    const int f = std::exchange(fd, -1);
    if (::close(f) != 0) fail(path.string(), ": close of ", temp.string(), " failed: ", errno_text());
    if (::rename(temp.c_str(), path.c_str()) != 0)
      fail(path.string(), ": rename from ", temp.string(), " failed: ", errno_text());
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  // Make the rename itself durable; the data is already safe, so a failure here is not
  // worth failing the write over.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace lowbit
