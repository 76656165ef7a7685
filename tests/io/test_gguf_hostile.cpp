// Every file in tests/data/hostile_gguf/ (made by make_hostile.py, described in its
// manifest.json) must be refused with lowbit::Error naming the file, containing the
// manifest's expected text and, where the fault is in one key, tensor or imatrix entry,
// naming it. Run under ASan too: refusing must never crash or allocate from a lying count.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/imatrix.h"
#include "support/peer.h"
#include "support/files.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

fs::path hostile_dir() { return lowbit::testing::source_dir() / "tests/data/hostile_gguf"; }

nlohmann::json manifest() {
  std::ifstream f(hostile_dir() / "manifest.json");
  return nlohmann::json::parse(f);
}

using lowbit::testing::slurp;

void open_as(const nlohmann::json& m, const fs::path& path) {
  if (m["kind"] == "imatrix") {
    (void)Imatrix::load(path);
  } else {
    (void)GgufFile::open(path);
  }
}

void parse_as(const nlohmann::json& m, std::span<const std::byte> bytes, const std::string& source) {
  if (m["kind"] == "imatrix") {
    (void)Imatrix::parse(bytes, source);
  } else {
    (void)GgufFile::parse(bytes, source);
  }
}

}  // namespace

TEST(GgufHostile, ManifestCoversEveryFile) {
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
  EXPECT_GE(files, 60u);  // the rules make_hostile.py breaks, one file each
}

TEST(GgufHostile, EveryFileIsRefusedWithAnErrorNamingIt) {
  for (const auto& m : manifest()) {
    const fs::path path = hostile_dir() / m["path"].get<std::string>();
    SCOPED_TRACE(path.string() + ": " + m["why"].get<std::string>());
    std::string msg;
    try {
      open_as(m, path);
      ADD_FAILURE() << "accepted";
      continue;
    } catch (const Error& e) {
      msg = e.what();
    }
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(m["error"].get<std::string>()), std::string::npos) << msg;
    for (const char* field : {"key", "tensor"}) {
      if (!m[field].is_null()) {
        EXPECT_NE(msg.find("'" + m[field].get<std::string>() + "'"), std::string::npos) << msg;
      }
    }
  }
}

TEST(GgufHostile, EveryFileIsRefusedFromMemoryToo) {
  // parse() is what the fuzzers drive; it must agree with open()/load() on every file.
  for (const auto& m : manifest()) {
    const fs::path path = hostile_dir() / m["path"].get<std::string>();
    const std::string bytes = slurp(path);
    std::string msg;
    try {
      parse_as(m, std::as_bytes(std::span(bytes)), "memory:" + m["path"].get<std::string>());
      ADD_FAILURE() << path << " accepted";
    } catch (const Error& e) {
      msg = e.what();
    }
    EXPECT_NE(msg.find("memory:" + m["path"].get<std::string>()), std::string::npos) << msg;
  }
}

TEST(GgufHostile, EveryPrefixOfAValidFileIsRefusedOrWhole) {
  // Truncation everywhere: each prefix of a small valid file with every value type either
  // fails cleanly or (past the last tensor byte) parses to the same tensors.
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("s", GgufValue::string_array({"a", "bc", ""}));
  const std::vector<std::int32_t> ints{1, -2, 3};
  w.set("n", GgufValue::array_of_arrays({GgufValue::array<std::int32_t>(ints), GgufValue::string_array({"x"})}));
  w.set("f", GgufValue::f64(2.5));
  w.set("b", GgufValue::boolean(false));
  const std::vector<float> x(40, 1.0f);
  w.add_tensor({"x", {8, 5}, ggml::Type::F32}, std::as_bytes(std::span(x)));
  w.add_tensor({"y", {32}, ggml::Type::Q8_0}, std::as_bytes(std::span(x)).first(34));
  const std::vector<std::byte> img = w.to_bytes();
  const GgufFile whole = GgufFile::parse(img, "whole");
  const std::uint64_t needed = whole.data_offset() + whole.tensor("y").offset + 34;
  for (std::size_t n = 0; n < img.size(); ++n) {
    const auto prefix = std::span(img).first(n);
    if (n < needed) {
      EXPECT_THROW((void)GgufFile::parse(prefix, "cut"), Error) << n;
    } else {
      EXPECT_EQ(GgufFile::parse(prefix, "cut").metadata(), whole.metadata()) << n;
    }
  }
}
