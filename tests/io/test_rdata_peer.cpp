// lowbit's R lazy-load decoder against the PyPI `rdata` parser (tests/peers/io_rdata.py):
// every line of all six janeaustenr novels must be the same string, and the CLI's
// `lowbit corpus austen` files must be exactly the peer's lines of the split joined by "\n".
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "lowbit/austen.h"
#include "lowbit/error.h"
#include "lowbit/rdata.h"
#include "support/peer.h"
#include "support/files.h"

using namespace lowbit;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using lowbit::testing::slurp;

json peer_novels(const std::vector<std::string_view>& names) {
  std::vector<std::string> args(names.begin(), names.end());
  return json::parse(lowbit::testing::run_peer("io_rdata.py", args));
}

std::string peer_text(const json& p, const std::vector<std::string_view>& novels) {
  std::string text;
  bool first = true;
  for (std::string_view n : novels) {
    for (const auto& line : p.at(std::string(n))) {
      if (!first) text += '\n';
      text += line.get<std::string>();
      first = false;
    }
  }
  return text;
}

}  // namespace

TEST(PeerRdata, AllSixNovelsLineByLine) {
  const std::vector<std::string_view> all(kAustenNovels.begin(), kAustenNovels.end());
  const json p = peer_novels(all);
  const RLazyLoadDb db = RLazyLoadDb::open(austen_data_dir());
  EXPECT_EQ(db.names().size(), 6u);
  for (std::string_view name : all) {
    SCOPED_TRACE(std::string(name));
    EXPECT_TRUE(db.contains(name));
    const std::vector<std::string> ours = austen_novel(name);
    const auto theirs = p.at(std::string(name)).get<std::vector<std::string>>();
    ASSERT_EQ(ours.size(), theirs.size());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      if (ours[i] != theirs[i] && bad++ < 5)
        ADD_FAILURE() << name << " line " << i << ": lowbit '" << ours[i] << "' peer '" << theirs[i] << "'";
    }
    EXPECT_EQ(bad, 0u);
  }
}

TEST(PeerRdata, SplitTextsAreThePeersLinesJoined) {
  const std::vector<std::string_view> all(kAustenNovels.begin(), kAustenNovels.end());
  const json p = peer_novels(all);
  for (AustenSplit s : {AustenSplit::calibration, AustenSplit::evaluation, AustenSplit::all}) {
    SCOPED_TRACE(std::string(austen_split_name(s)));
    EXPECT_EQ(austen_text(s), peer_text(p, austen_split_novels(s)));
  }
}

TEST(PeerRdataCli, CorpusAustenWritesThePeersText) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const json p = peer_novels({"prideprejudice", "sensesensibility"});
  for (AustenSplit s : {AustenSplit::evaluation, AustenSplit::calibration}) {
    const std::string name(austen_split_name(s));
    SCOPED_TRACE(name);
    const fs::path out = dir / (name + ".txt");
    const auto r = lowbit::testing::run_command(lowbit::testing::shell_quote(lowbit::testing::cli_path().string()) +
                                                " corpus austen --split " + name + " --out " +
                                                lowbit::testing::shell_quote(out.string()));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("lines"), std::string::npos) << r.output;
    EXPECT_EQ(slurp(out), peer_text(p, austen_split_novels(s)));
  }
  // A single novel by name; only the destination file is left behind (atomic write).
  const auto r = lowbit::testing::run_command(lowbit::testing::shell_quote(lowbit::testing::cli_path().string()) +
                                              " corpus austen --split prideprejudice --out " +
                                              lowbit::testing::shell_quote((dir / "pp.txt").string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(slurp(dir / "pp.txt"), peer_text(p, {"prideprejudice"}));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 3u);
}
