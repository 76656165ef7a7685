// Every file in tests/data/hostile/ (made by make_hostile.py, described in its
// manifest.json) must be refused with lowbit::Error naming the file and, where the
// fault is in one tensor, that tensor. Run under ASan too: refusing must never crash.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/safetensors.h"
#include "support/peer.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

fs::path hostile_dir() { return lowbit::testing::source_dir() / "tests/data/hostile"; }

nlohmann::json manifest() {
  std::ifstream f(hostile_dir() / "manifest.json");
  return nlohmann::json::parse(f);
}

}  // namespace

TEST(SafetensorsHostile, ManifestCoversEveryFile) {
  std::set<std::string> listed;
  for (const auto& m : manifest()) listed.insert(m["path"].get<std::string>());
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(hostile_dir())) {
    const std::string name = entry.path().filename().string();
    if (name == "manifest.json" || name == "make_hostile.py") continue;
    ++files;
    EXPECT_TRUE(listed.count(name)) << name << " is not in manifest.json";
  }
  EXPECT_EQ(files, listed.size());
  EXPECT_GE(files, 19u);  // the cases the format's rules call for, see make_hostile.py
}

TEST(SafetensorsHostile, EveryFileIsRefusedWithAnErrorNamingIt) {
  for (const auto& m : manifest()) {
    const fs::path path = hostile_dir() / m["path"].get<std::string>();
    const bool checkpoint = m["kind"] == "checkpoint";
    SCOPED_TRACE(path.string() + ": " + m["why"].get<std::string>());
    std::string msg;
    try {
      if (checkpoint) {
        (void)SafetensorsCheckpoint::open(path);
      } else {
        (void)SafetensorsFile::open(path);
      }
      ADD_FAILURE() << "accepted";
      continue;
    } catch (const Error& e) {
      msg = e.what();
    }
    // A checkpoint's error names the index or the shard file inside the folder.
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    if (!m["tensor"].is_null()) {
      EXPECT_NE(msg.find("'" + m["tensor"].get<std::string>() + "'"), std::string::npos) << msg;
    }
  }
}

TEST(SafetensorsHostile, EveryFileIsRefusedFromMemoryToo) {
  // parse() is what the fuzzer drives; it must agree with open() on every file.
  for (const auto& m : manifest()) {
    if (m["kind"] != "file") continue;
    const fs::path path = hostile_dir() / m["path"].get<std::string>();
    std::ifstream f(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), {});
    EXPECT_THROW((void)SafetensorsFile::parse(std::as_bytes(std::span(bytes)), path.string()), Error) << path;
  }
}
