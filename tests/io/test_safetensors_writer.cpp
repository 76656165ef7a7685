// Writer and reader against each other: round trips of every dtype (whole, streamed in
// pieces, empty and 0-d tensors), the header layout rules of the spec, the header-size
// bound, and atomicity: a failed or abandoned write leaves neither a temporary file nor
// a changed destination.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>

#include "lowbit/error.h"
#include "lowbit/safetensors.h"
#include "support/peer.h"
#include "support/files.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

struct Owned {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> bytes;
};

// Random tensors of every dtype in lowbit's table, in shapes that include 0-d and empty.
std::vector<Owned> random_tensors(std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Owned> out;
  const std::vector<std::vector<std::int64_t>> shapes = {{3, 5}, {}, {0, 7}, {2, 1, 3}, {11}};
  std::size_t k = 0;
  for (const DTypeInfo& info : dtype_table()) {
    const auto& shape = shapes[k++ % shapes.size()];
    Owned t{"t." + std::string(info.name) + "." + std::to_string(k), info.dtype, shape, {}};
    t.bytes.resize(*tensor_nbytes(info.dtype, shape));
    for (auto& b : t.bytes) b = static_cast<std::byte>(rng());
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<TensorData> as_data(const std::vector<Owned>& ts) {
  std::vector<TensorData> v;
  for (const auto& t : ts) v.push_back({t.name, t.dtype, t.shape, t.bytes});
  return v;
}

std::vector<TensorDecl> as_decls(const std::vector<Owned>& ts) {
  std::vector<TensorDecl> v;
  for (const auto& t : ts) v.push_back({t.name, t.dtype, t.shape});
  return v;
}

using lowbit::testing::slurp;

void expect_same(const SafetensorsFile& f, const std::vector<Owned>& ts) {
  ASSERT_EQ(f.tensors().size(), ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const TensorView& v = f.tensors()[i];  // written order is file order
    EXPECT_EQ(v.name, ts[i].name);
    EXPECT_EQ(v.dtype, ts[i].dtype);
    EXPECT_EQ(v.shape, ts[i].shape);
    ASSERT_EQ(v.data.size(), ts[i].bytes.size()) << v.name;
    EXPECT_TRUE(std::equal(v.data.begin(), v.data.end(), ts[i].bytes.begin())) << v.name;
    EXPECT_EQ(f.find(ts[i].name), &v);
  }
}

// Files in `dir` other than `keep`: a leftover temporary file would show up here.
std::vector<std::string> stray_files(const fs::path& dir, const std::set<std::string>& keep) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (!keep.count(e.path().filename().string())) out.push_back(e.path().filename().string());
  return out;
}

}  // namespace

TEST(SafetensorsWriter, RoundTripsEveryDtype) {
  const auto dir = lowbit::testing::scratch_dir();
  const auto ts = random_tensors(1);
  const SafetensorsMetadata md = {{"format", "pt"}, {"z-key", "caf\xc3\xa9\n\"q\""}, {"empty", ""}};
  write_safetensors(dir / "m.safetensors", as_data(ts), md);
  const auto f = SafetensorsFile::open(dir / "m.safetensors");
  expect_same(f, ts);
  EXPECT_EQ(f.metadata(), md);  // header order is kept
  EXPECT_EQ(f.metadata_value("z-key"), md[1].second);
  EXPECT_FALSE(f.metadata_value("missing"));
  EXPECT_EQ(stray_files(dir, {"m.safetensors"}), std::vector<std::string>{});
}

TEST(SafetensorsWriter, StreamedPiecesEqualWholeTensors) {
  const auto dir = lowbit::testing::scratch_dir();
  const auto ts = random_tensors(2);
  write_safetensors(dir / "whole.safetensors", as_data(ts));
  {
    SafetensorsWriter w(dir / "pieces.safetensors", as_decls(ts));
    std::vector<std::byte> all;
    for (const auto& t : ts) all.insert(all.end(), t.bytes.begin(), t.bytes.end());
    // Uneven pieces that straddle tensor boundaries.
    std::mt19937 rng(3);
    std::size_t pos = 0;
    while (pos < all.size()) {
      const std::size_t n = std::min<std::size_t>(all.size() - pos, rng() % 13);
      w.append(std::span(all).subspan(pos, n));
      pos += n;
    }
    w.commit();
  }
  EXPECT_EQ(slurp(dir / "whole.safetensors"), slurp(dir / "pieces.safetensors"));
}

TEST(SafetensorsWriter, LargeTensorBypassesTheBuffer) {
  const auto dir = lowbit::testing::scratch_dir();
  std::vector<Owned> ts{{"big", DType::F32, {3, 1 << 18}, {}}, {"small", DType::U8, {5}, {}}};
  std::mt19937 rng(4);
  for (auto& t : ts) {
    t.bytes.resize(*tensor_nbytes(t.dtype, t.shape));
    for (auto& b : t.bytes) b = static_cast<std::byte>(rng());
  }
  write_safetensors(dir / "big.safetensors", as_data(ts));
  expect_same(SafetensorsFile::open(dir / "big.safetensors"), ts);
}

TEST(SafetensorsWriter, HeaderFollowsTheSpecLayout) {
  const auto dir = lowbit::testing::scratch_dir();
  for (int n = 0; n < 12; ++n) {  // name lengths that hit every padding remainder
    const std::vector<Owned> ts{{std::string(static_cast<std::size_t>(n) + 1, 'a'), DType::U8, {1}, {std::byte{9}}}};
    write_safetensors(dir / "p.safetensors", as_data(ts));
    const std::string bytes = slurp(dir / "p.safetensors");
    std::uint64_t len = 0;
    std::memcpy(&len, bytes.data(), 8);
    EXPECT_EQ(len % 8, 0u);
    EXPECT_EQ(bytes.size(), 8 + len + 1);
    EXPECT_EQ(bytes[8], '{');
    const std::string header = bytes.substr(8, len);
    const auto close = header.find_last_of('}');
    EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << "padding is spaces only";
    EXPECT_LT(header.size() - close - 1, 8u);
  }
}

TEST(SafetensorsWriter, EmptyModelIsValid) {
  const auto dir = lowbit::testing::scratch_dir();
  write_safetensors(dir / "e.safetensors", {});
  const auto f = SafetensorsFile::open(dir / "e.safetensors");
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_TRUE(f.metadata().empty());
}

TEST(SafetensorsWriter, ExceptionMidWriteLeavesNothingBehind) {
  const auto dir = lowbit::testing::scratch_dir();
  const auto ts = random_tensors(5);
  fs::path temp;
  try {
    SafetensorsWriter w(dir / "m.safetensors", as_decls(ts));
    temp = w.temp_path();
    EXPECT_EQ(temp.parent_path(), dir);  // same filesystem, so rename is atomic
    EXPECT_TRUE(fs::exists(temp));
    w.write(ts[0].name, ts[0].bytes);
    w.write(ts[1].name, ts[1].bytes);
    throw std::runtime_error("caller failed while producing the third tensor");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(dir / "m.safetensors"));
  EXPECT_EQ(stray_files(dir, {}), std::vector<std::string>{});
}

TEST(SafetensorsWriter, FailureLeavesAnExistingDestinationUntouched) {
  const auto dir = lowbit::testing::scratch_dir();
  const auto old_ts = random_tensors(6);
  write_safetensors(dir / "m.safetensors", as_data(old_ts));
  const std::string before = slurp(dir / "m.safetensors");
  const auto ts = random_tensors(7);

  // A wrongly sized tensor, an out-of-order tensor, and a commit with data missing.
  {
    SafetensorsWriter w(dir / "m.safetensors", as_decls(ts));
    EXPECT_THROW(w.write(ts[0].name, std::span(ts[0].bytes).first(ts[0].bytes.size() - 1)), Error);
    EXPECT_THROW(w.commit(), Error);  // a failed writer never commits
  }
  {
    SafetensorsWriter w(dir / "m.safetensors", as_decls(ts));
    EXPECT_THROW(w.write(ts[3].name, ts[3].bytes), Error);
  }
  {
    SafetensorsWriter w(dir / "m.safetensors", as_decls(ts));
    w.write(ts[0].name, ts[0].bytes);
    try {
      w.commit();
      ADD_FAILURE() << "commit with missing tensors succeeded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(ts[1].name), std::string::npos) << e.what();
    }
  }
  {
    SafetensorsWriter w(dir / "m.safetensors", as_decls(ts));
    w.append(std::span(ts[0].bytes).first(1));
    EXPECT_THROW(w.write(ts[0].name, ts[0].bytes), Error);  // half appended, then written whole
  }
  {
    SafetensorsWriter w(dir / "m.safetensors", as_decls(ts));
    std::vector<std::byte> too_much(w.data_size() + 1);
    EXPECT_THROW(w.append(too_much), Error);
  }
  EXPECT_EQ(slurp(dir / "m.safetensors"), before);
  EXPECT_EQ(stray_files(dir, {"m.safetensors"}), std::vector<std::string>{});
  expect_same(SafetensorsFile::open(dir / "m.safetensors"), old_ts);

  // And a successful write replaces it.
  write_safetensors(dir / "m.safetensors", as_data(ts));
  expect_same(SafetensorsFile::open(dir / "m.safetensors"), ts);
}

TEST(SafetensorsWriter, RefusesHeadersNoReaderWouldAccept) {
  const auto dir = lowbit::testing::scratch_dir();
  const auto out = dir / "m.safetensors";
  auto decl = [](std::string name, std::vector<std::int64_t> shape) { return TensorDecl{std::move(name), DType::F32, std::move(shape)}; };
  EXPECT_THROW(SafetensorsWriter(out, {decl("a", {1}), decl("a", {2})}), Error);
  EXPECT_THROW(SafetensorsWriter(out, {decl("__metadata__", {1})}), Error);
  EXPECT_THROW(SafetensorsWriter(out, {decl("bad\xff", {1})}), Error);
  EXPECT_THROW(SafetensorsWriter(out, {decl("neg", {-1})}), Error);
  EXPECT_THROW(SafetensorsWriter(out, {decl("huge", {1ll << 40, 1ll << 40})}), Error);
  EXPECT_THROW(SafetensorsWriter(out, {}, {{"k", "1"}, {"k", "2"}}), Error);
  EXPECT_THROW(SafetensorsWriter(dir / "no-such-dir" / "m.safetensors", {}), Error);
  EXPECT_EQ(stray_files(dir, {}), std::vector<std::string>{});
}

TEST(SafetensorsWriter, EmptyTensorsNeedNoBytes) {
  const auto dir = lowbit::testing::scratch_dir();
  std::vector<Owned> ts{{"e1", DType::F32, {0}, {}}, {"x", DType::U8, {2}, {std::byte{1}, std::byte{2}}},
                        {"e2", DType::I64, {4, 0}, {}}};
  SafetensorsWriter w(dir / "m.safetensors", as_decls(ts));
  w.write("x", ts[1].bytes);  // e1 is skipped over: it has no bytes
  w.commit();                 // e2 likewise
  expect_same(SafetensorsFile::open(dir / "m.safetensors"), ts);
}

TEST(SafetensorsReader, ParseFromMemoryMatchesOpen) {
  const auto dir = lowbit::testing::scratch_dir();
  const auto ts = random_tensors(8);
  write_safetensors(dir / "m.safetensors", as_data(ts), {{"a", "b"}});
  const std::string bytes = slurp(dir / "m.safetensors");
  const auto f = SafetensorsFile::parse(std::as_bytes(std::span(bytes)), "in-memory");
  expect_same(f, ts);
  EXPECT_EQ(f.source(), "in-memory");
  EXPECT_EQ(f.data_offset() + f.tensors().back().data.size() + (f.tensors().back().data.data() - f.tensors().front().data.data()),
            bytes.size());
}

TEST(SafetensorsReader, TensorsComeInOffsetOrderWhateverTheHeaderOrder) {
  // Hand-built header listing the later tensor first; the data decides the order.
  const std::string json = R"({"second":{"dtype":"U8","shape":[2],"data_offsets":[1,3]},)"
                           R"("first":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  std::string file(8, '\0');
  const std::uint64_t n = json.size();
  std::memcpy(file.data(), &n, 8);
  file += json + "abc";
  const auto f = SafetensorsFile::parse(std::as_bytes(std::span(file)), "mem");
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].name, "first");
  EXPECT_EQ(f.tensors()[1].name, "second");
  EXPECT_EQ(std::to_integer<char>(f.tensor("second").data[0]), 'b');
}

TEST(SafetensorsReader, MissingTensorErrorNamesFileAndTensor) {
  const auto dir = lowbit::testing::scratch_dir();
  write_safetensors(dir / "m.safetensors", {});
  const auto f = SafetensorsFile::open(dir / "m.safetensors");
  try {
    (void)f.tensor("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "m.safetensors").string()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos);
  }
}

TEST(SafetensorsReader, HeaderLengthAboveTheLimitIsRefusedUnread) {
  // A sparse file big enough that the length fits inside it, so only the bound applies.
  const auto dir = lowbit::testing::scratch_dir();
  const auto p = dir / "big.safetensors";
  const std::uint64_t n = kSafetensorsMaxHeaderBytes + 1;
  {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(&n), 8);
  }
  fs::resize_file(p, 8 + n + 16);
  try {
    (void)SafetensorsFile::open(p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("limit"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsReader, NamesInErrorsAreSanitised) {
  const std::string json = "{\"a\\u0001\\n\":{\"dtype\":\"Q\",\"shape\":[1],\"data_offsets\":[0,1]}}";
  std::string file(8, '\0');
  const std::uint64_t n = json.size();
  std::memcpy(file.data(), &n, 8);
  file += json + "x";
  try {
    (void)SafetensorsFile::parse(std::as_bytes(std::span(file)), "mem");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'a\\x01\\x0a'"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsUtf8, AgreesWithTheDefinitionOnEveryShortSequence) {
  // Independent reference: decode by the Unicode table 3-7 ranges written as byte bounds.
  auto well_formed = [](const unsigned char* s, std::size_t n) {
    std::size_t i = 0;
    while (i < n) {
      const unsigned c = s[i];
      auto in = [&](std::size_t k, unsigned lo, unsigned hi) { return i + k < n && s[i + k] >= lo && s[i + k] <= hi; };
      if (c <= 0x7F) { i += 1; continue; }
      if (c >= 0xC2 && c <= 0xDF && in(1, 0x80, 0xBF)) { i += 2; continue; }
      if (c == 0xE0 && in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF)) { i += 3; continue; }
      if (((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) && in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF)) { i += 3; continue; }
      if (c == 0xED && in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF)) { i += 3; continue; }
      if (c == 0xF0 && in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF)) { i += 4; continue; }
      if (c >= 0xF1 && c <= 0xF3 && in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF)) { i += 4; continue; }
      if (c == 0xF4 && in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF)) { i += 4; continue; }
      return false;
    }
    return true;
  };
  std::mt19937 rng(11);
  const unsigned char interesting[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                       0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
  for (int iter = 0; iter < 200000; ++iter) {
    unsigned char buf[6];
    const std::size_t n = rng() % 7;
    for (std::size_t k = 0; k < n; ++k) buf[k] = interesting[rng() % sizeof interesting];
    const bool valid = !first_invalid_utf8({reinterpret_cast<const char*>(buf), n}).has_value();
    ASSERT_EQ(valid, well_formed(buf, n)) << "len " << n;
  }
}
