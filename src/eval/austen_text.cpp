// The Austen corpus: finds janeaustenr's data folder, decodes the novels through the R
// lazy-load reader (src/io/rdata_reader.cpp) and builds the fixed calibration and
// evaluation texts. The splits are part of every reported number, so they never change.

#include <cstdlib>
#include <cstring>

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

}  // namespace lowbit
