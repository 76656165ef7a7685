// MappedFile: contents match what was written, empty files work, moves transfer
// ownership, and failures name the path and the OS reason; pages given back read the
// file again, and memory outside the map is never touched.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "lowbit/error.h"
#include "lowbit/mmap_file.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

std::string error_of(const std::filesystem::path& p) {
  try {
    (void)MappedFile::open(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(MappedFile, MapsTheFileContents) {
  const auto dir = lowbit::testing::scratch_dir();
  std::mt19937 rng(7);
  std::string content(100000, '\0');
  for (char& c : content) c = static_cast<char>(rng());
  std::ofstream(dir / "f.bin", std::ios::binary) << content;

  const MappedFile f = MappedFile::open(dir / "f.bin");
  ASSERT_EQ(f.size(), content.size());
  EXPECT_EQ(std::memcmp(f.data(), content.data(), content.size()), 0);
  EXPECT_EQ(f.path(), dir / "f.bin");
}

TEST(MappedFile, EmptyFileIsAnEmptySpan) {
  const auto dir = lowbit::testing::scratch_dir();
  std::ofstream(dir / "empty.bin").close();
  const MappedFile f = MappedFile::open(dir / "empty.bin");
  EXPECT_EQ(f.size(), 0u);
  EXPECT_TRUE(f.bytes().empty());
}

TEST(MappedFile, MoveTransfersTheMapping) {
  const auto dir = lowbit::testing::scratch_dir();
  std::ofstream(dir / "f.bin", std::ios::binary) << "hello mapped world";
  MappedFile a = MappedFile::open(dir / "f.bin");
  const std::byte* p = a.data();
  MappedFile b = std::move(a);
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.size(), 0u);
  MappedFile c;
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(c.data()), c.size()), "hello mapped world");
}

TEST(MappedFile, MissingFileNamesPathAndErrno) {
  const auto p = lowbit::testing::scratch_dir() / "does-not-exist.safetensors";
  const std::string msg = error_of(p);
  EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::strerror(ENOENT)), std::string::npos) << msg;
}

TEST(MappedFile, DirectoryIsRefused) {
  const auto dir = lowbit::testing::scratch_dir();
  const std::string msg = error_of(dir);
  EXPECT_NE(msg.find(dir.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
}

TEST(MappedFile, DroppedPagesReadTheFileAgainAndOtherMemoryIsLeftAlone) {
  const auto dir = lowbit::testing::scratch_dir();
  std::mt19937 rng(8);
  std::string content(300000, '\0');  // ~73 pages, neither end page-aligned below
  for (char& c : content) c = static_cast<char>(rng());
  std::ofstream(dir / "d.bin", std::ios::binary) << content;
  const MappedFile f = MappedFile::open(dir / "d.bin");
  ASSERT_EQ(std::memcmp(f.data(), content.data(), content.size()), 0);
  f.drop_pages(f.bytes().subspan(1234, 200000));
  f.drop_pages(f.bytes());
  EXPECT_EQ(std::memcmp(f.data(), content.data(), content.size()), 0);
  // A span that is not inside the map (here, heap memory) is ignored: DONTNEED on
  // anonymous memory would zero it.
  std::vector<std::byte> heap(1 << 20, std::byte{0x5a});
  f.drop_pages(heap);
  EXPECT_TRUE(std::all_of(heap.begin(), heap.end(), [](std::byte b) { return b == std::byte{0x5a}; }));
}
