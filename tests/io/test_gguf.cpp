// Unit tests of the GGUF reader and writer on their own: value types and getters, the
// writer's layout and validation, reader round trips (in memory and through files), and
// the atomic write (a failing fill leaves the destination untouched and no temp file).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>

#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "support/peer.h"
#include "support/files.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

using lowbit::testing::slurp;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) out.push_back(e.path().string());
  return out;
}

GgufWriter small_writer() {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("llama.block_count", GgufValue::u32(2));
  std::vector<float> x(64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.5f;
  w.add_tensor({"a", {32, 2}, ggml::Type::F32}, [x](std::span<std::byte> out) {
    std::memcpy(out.data(), x.data(), out.size());
  });
  w.add_tensor({"b", {64, 3}, ggml::Type::Q8_0}, [](std::span<std::byte> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 7);
  });
  return w;
}

}  // namespace

TEST(GgufValue, ScalarsConvertOnlyWhereExact) {
  EXPECT_EQ(GgufValue::u8(200).as_int(), 200);
  EXPECT_EQ(GgufValue::i8(-3).as_int(), -3);
  EXPECT_EQ(GgufValue::u16(65535).as_uint(), 65535u);
  EXPECT_EQ(GgufValue::i64(-1).as_int(), -1);
  EXPECT_THROW((void)GgufValue::i64(-1).as_uint(), Error);
  EXPECT_EQ(GgufValue::u64(~0ull).as_uint(), ~0ull);
  EXPECT_THROW((void)GgufValue::u64(~0ull).as_int(), Error);
  EXPECT_EQ(GgufValue::f32(0.1f).as_float(), static_cast<double>(0.1f));
  EXPECT_EQ(GgufValue::f64(0.1).as_float(), 0.1);
  EXPECT_THROW((void)GgufValue::f32(1).as_int(), Error);
  EXPECT_THROW((void)GgufValue::u32(1).as_float(), Error);
  EXPECT_TRUE(GgufValue::boolean(true).as_bool());
  EXPECT_THROW((void)GgufValue::u8(1).as_bool(), Error);
  EXPECT_EQ(GgufValue::string("hi").as_string(), "hi");
  EXPECT_THROW((void)GgufValue::string("hi").as_int(), Error);
  EXPECT_THROW((void)GgufValue::u8(1).size(), Error);
  const std::string msg = error_of([] { (void)GgufValue::string("abc").as_uint(); });
  EXPECT_NE(msg.find("str 'abc'"), std::string::npos) << msg;
}

TEST(GgufValue, ArraysAndElements) {
  const std::vector<std::int16_t> v{-2, 5, 300};
  const GgufValue a = GgufValue::array<std::int16_t>(v);
  EXPECT_EQ(a.element_type(), GgufType::I16);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.as_int_array(), (std::vector<std::int64_t>{-2, 5, 300}));
  EXPECT_EQ(a.element(2), GgufValue::i16(300));
  EXPECT_THROW((void)a.element(3), Error);
  EXPECT_THROW((void)a.as_float_array(), Error);
  const std::vector<float> f{0.5f, -1.0f};
  EXPECT_EQ(GgufValue::array<float>(f).as_float_array(), (std::vector<double>{0.5, -1.0}));
  EXPECT_EQ(GgufValue::bool_array({true, false}).as_bool_array(), (std::vector<bool>{true, false}));
  const GgufValue s = GgufValue::string_array({"a", "bc"});
  EXPECT_EQ(s.element(1), GgufValue::string("bc"));
  const GgufValue n = GgufValue::array_of_arrays({a, s});
  EXPECT_EQ(n.as_array_of_arrays()[1], s);
  EXPECT_EQ(n.element(0), a);
  EXPECT_THROW((void)GgufValue::array_of_arrays({GgufValue::u8(1)}), Error);
  EXPECT_THROW((void)GgufValue::scalar_array(GgufType::Bool, 1, {std::byte{2}}), Error);
  EXPECT_THROW((void)GgufValue::scalar_array(GgufType::U32, 2, std::vector<std::byte>(7)), Error);
  EXPECT_EQ(n.describe(), "arr[arr; 2]");
}

TEST(GgufValue, EqualityIsBitwise) {
  const float nan = std::bit_cast<float>(0x7fc00001u);
  EXPECT_EQ(GgufValue::f32(nan), GgufValue::f32(nan));
  EXPECT_NE(GgufValue::f32(nan), GgufValue::f32(std::bit_cast<float>(0x7fc00002u)));
  EXPECT_NE(GgufValue::f32(0.0f), GgufValue::f32(-0.0f));
  EXPECT_NE(GgufValue::u32(1), GgufValue::i32(1));
  EXPECT_NE(GgufValue::array<std::uint8_t>({}), GgufValue::string_array({}));
}

TEST(GgufWriter, SetKeepsPositionRemoveAndCopy) {
  GgufWriter w;
  w.set("a", GgufValue::u8(1));
  w.set("b", GgufValue::u8(2));
  w.set("a", GgufValue::string("x"));
  ASSERT_EQ(w.metadata().size(), 2u);
  EXPECT_EQ(w.metadata()[0].key, "a");
  EXPECT_EQ(w.metadata()[0].value, GgufValue::string("x"));
  EXPECT_TRUE(w.remove("a"));
  EXPECT_FALSE(w.remove("a"));
  EXPECT_EQ(w.find("b")->as_int(), 2);

  const std::vector<std::byte> img = small_writer().to_bytes();
  const GgufFile f = GgufFile::parse(img, "img");
  w.copy_metadata(f);
  ASSERT_EQ(w.metadata().size(), 3u);
  EXPECT_EQ(w.metadata()[1].key, "general.architecture");
}

TEST(GgufWriter, RefusesWhatReadersWouldNot) {
  GgufWriter w;
  EXPECT_THROW(w.set("", GgufValue::u8(1)), Error);
  EXPECT_THROW(w.set("bad\xff", GgufValue::u8(1)), Error);
  EXPECT_THROW(w.set(kGgufAlignmentKey, GgufValue::u64(32)), Error);
  EXPECT_THROW(w.set(kGgufAlignmentKey, GgufValue::u32(48)), Error);
  EXPECT_THROW(w.set(kGgufAlignmentKey, GgufValue::u32(0)), Error);
  auto nop = [](std::span<std::byte>) {};
  w.add_tensor({"t", {32}, ggml::Type::Q4_0}, nop);
  EXPECT_THROW(w.add_tensor({"t", {32}, ggml::Type::Q4_0}, nop), Error);           // duplicate
  EXPECT_THROW(w.add_tensor({"u", {33}, ggml::Type::Q4_0}, nop), Error);           // not whole blocks
  EXPECT_THROW(w.add_tensor({"u", {1, 1, 1, 1, 1}, ggml::Type::F32}, nop), Error);  // 5 dims
  EXPECT_THROW(w.add_tensor({"u", {-1}, ggml::Type::F32}, nop), Error);
  EXPECT_THROW(w.add_tensor({"u", {1ll << 62, 4}, ggml::Type::F32}, nop), Error);  // numel overflow
  EXPECT_THROW(w.add_tensor({"u", {4}, static_cast<ggml::Type>(4)}, nop), Error);  // retired id
  EXPECT_THROW(w.add_tensor({std::string(64, 'n'), {4}, ggml::Type::F32}, nop), Error);  // GGML_MAX_NAME
  EXPECT_NO_THROW(w.add_tensor({std::string(63, 'n'), {4}, ggml::Type::F32}, nop));
  const std::vector<std::byte> three(3);
  EXPECT_THROW(w.add_tensor({"v", {4}, ggml::Type::F32}, std::span<const std::byte>(three)), Error);
  EXPECT_EQ(w.tensor_count(), 2u);
}

TEST(GgufWriter, LayoutIsAlignedAndRoundTrips) {
  for (std::uint32_t align : {1u, 32u, 64u, 1024u}) {
    SCOPED_TRACE(align);
    GgufWriter w = small_writer();
    if (align != 32) w.set(kGgufAlignmentKey, GgufValue::u32(align));
    const std::vector<std::byte> img = w.to_bytes();
    const GgufFile f = GgufFile::parse(img, "img");
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), align);
    EXPECT_EQ(f.data_offset(), w.header().size());
    EXPECT_EQ(f.data_offset() % align, 0u);
    EXPECT_EQ(f.metadata(), w.metadata());
    ASSERT_EQ(f.tensors().size(), 2u);
    EXPECT_EQ(f.tensors()[1].offset, w.tensor_offsets()[1]);
    EXPECT_EQ(f.tensors()[1].offset % align, 0u);
    EXPECT_EQ(f.tensors()[0].nbytes, 256u);
    EXPECT_EQ(f.tensors()[1].nbytes, 3u * 2 * 34);
    EXPECT_EQ(f.tensor("b").data[5], static_cast<std::byte>(35));
    EXPECT_EQ(f.tensor("a").nrows(), 2);
    // Every tensor is padded after, the last one too (ggml reads the padded size).
    EXPECT_EQ((img.size() - f.data_offset()) % align, 0u);
    EXPECT_EQ(img.size(), f.data_offset() + w.tensor_offsets()[1] + ((204 + align - 1) / align) * align);
  }
}

TEST(GgufWriter, FillsOneTensorAtATimeInOrder) {
  GgufWriter w;
  std::vector<std::string> calls;
  for (const char* name : {"x", "empty", "y"}) {
    const std::int64_t n = std::string(name) == "empty" ? 0 : 256;
    w.add_tensor({name, {n}, ggml::Type::Q4_K}, [&calls, name](std::span<std::byte> out) {
      calls.push_back(std::string(name) + ":" + std::to_string(out.size()));
    });
  }
  (void)w.to_bytes();
  EXPECT_EQ(calls, (std::vector<std::string>{"x:144", "empty:0", "y:144"}));
}

TEST(GgufReader, NoTensorsMeansNoPaddedDataSection) {
  GgufWriter w;
  w.set("k", GgufValue::string("v"));
  const std::vector<std::byte> img = w.to_bytes();
  EXPECT_EQ(img.size() % 32, 0u);  // writers pad anyway
  const GgufFile f = GgufFile::parse(img, "img");
  EXPECT_LT(f.data_offset(), img.size());  // ggml does not round up without tensors
  // ... so a file cut right after its KVs is still whole.
  const GgufFile g = GgufFile::parse(std::span(img).first(f.data_offset()), "cut");
  EXPECT_EQ(g.metadata(), w.metadata());
}

TEST(GgufReader, AcceptsVersion2AndRefusesOthersClearly) {
  std::vector<std::byte> img = small_writer().to_bytes();
  img[4] = std::byte{2};
  EXPECT_EQ(GgufFile::parse(img, "v2").version(), 2u);
  img[4] = std::byte{1};
  EXPECT_NE(error_of([&] { (void)GgufFile::parse(img, "v1"); }).find("version 1"), std::string::npos);
  img[4] = std::byte{0};
  img[7] = std::byte{3};
  EXPECT_NE(error_of([&] { (void)GgufFile::parse(img, "be"); }).find("big-endian"), std::string::npos);
}

TEST(GgufReader, AccessorsNameTheFileAndKey) {
  const std::vector<std::byte> img = small_writer().to_bytes();
  const GgufFile f = GgufFile::parse(img, "model.gguf");
  EXPECT_EQ(f.find("zzz"), nullptr);
  EXPECT_EQ(f.find_kv("zzz"), nullptr);
  std::string msg = error_of([&] { (void)f.tensor("zzz"); });
  EXPECT_NE(msg.find("model.gguf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'zzz'"), std::string::npos) << msg;
  msg = error_of([&] { (void)f.get_string("llama.block_count"); });
  EXPECT_NE(msg.find("model.gguf: key 'llama.block_count'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a string"), std::string::npos) << msg;
  EXPECT_EQ(f.get_int("llama.block_count"), 2);
  EXPECT_EQ(f.file_size(), img.size());
}

TEST(GgufTensorNbytes, FollowsGgmlRules) {
  EXPECT_EQ(gguf_tensor_nbytes(ggml::Type::Q4_K, std::vector<std::int64_t>{512, 3}), 2u * 144 * 3);
  EXPECT_EQ(gguf_tensor_nbytes(ggml::Type::F16, std::vector<std::int64_t>{}), 2u);  // 0-d: one element
  EXPECT_FALSE(gguf_tensor_nbytes(ggml::Type::Q4_K, std::vector<std::int64_t>{100}));
  // The element count must fit int64 as ggml multiplies it: [2^62, 0, 4] does, [2^62, 4, 0] not.
  EXPECT_EQ(gguf_tensor_nbytes(ggml::Type::I8, std::vector<std::int64_t>{1ll << 62, 0, 4}), 0u);
  EXPECT_FALSE(gguf_tensor_nbytes(ggml::Type::I8, std::vector<std::int64_t>{1ll << 62, 4, 0}));
  EXPECT_FALSE(gguf_tensor_nbytes(ggml::Type::F64, std::vector<std::int64_t>{1ll << 61}));  // 2^64 bytes
}

TEST(GgufWriterAtomic, FailingFillLeavesTargetUntouchedAndNoTempFile) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const fs::path out = dir / "model.gguf";
  std::ofstream(out) << "previous contents";
  GgufWriter w = small_writer();
  w.add_tensor({"c", {32}, ggml::Type::F32}, [](std::span<std::byte>) { fail("quantizer ran out of patience"); });
  const std::string msg = error_of([&] { w.write(out); });
  EXPECT_NE(msg.find("quantizer ran out of patience"), std::string::npos) << msg;
  EXPECT_EQ(slurp(out), "previous contents");
  EXPECT_TRUE(temp_files(dir).empty());

  // Exceptions that are not lowbit::Error pass through unchanged, with the same cleanup.
  GgufWriter w2 = small_writer();
  w2.add_tensor({"c", {32}, ggml::Type::F32}, [](std::span<std::byte>) { throw std::runtime_error("boom"); });
  EXPECT_THROW(w2.write(out), std::runtime_error);
  EXPECT_EQ(slurp(out), "previous contents");
  EXPECT_TRUE(temp_files(dir).empty());
}

TEST(GgufWriterAtomic, SuccessReplacesTargetAndLeavesNoTempFile) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const fs::path out = dir / "model.gguf";
  std::ofstream(out) << "previous contents";
  const GgufWriter w = small_writer();
  w.write(out);
  const std::vector<std::byte> img = w.to_bytes();
  EXPECT_TRUE(slurp(out) == std::string(reinterpret_cast<const char*>(img.data()), img.size()));
  EXPECT_TRUE(temp_files(dir).empty());
  const GgufFile f = GgufFile::open(out);
  EXPECT_EQ(f.source(), out.string());
  EXPECT_EQ(f.tensor("a").data.size(), 256u);
}

TEST(GgufWriterAtomic, MissingDirectoryIsAnErrorNamingThePath) {
  const fs::path out = lowbit::testing::scratch_dir() / "no" / "such" / "dir" / "x.gguf";
  const std::string msg = error_of([&] { small_writer().write(out); });
  EXPECT_NE(msg.find(out.string()), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out));
}

TEST(GgufWriter, NestingLimitsMatchTheReader) {
  // Found by fuzz_gguf: the writer refused an empty array of arrays at the 8th level that
  // the reader accepts. Now both allow 8 levels of arrays and refuse a 9th.
  GgufValue v = GgufValue::array_of_arrays({});
  for (int i = 0; i < 7; ++i) v = GgufValue::array_of_arrays({v});
  GgufWriter w;
  w.set("deep", v);
  const std::vector<std::byte> img = w.to_bytes();
  EXPECT_EQ(GgufFile::parse(img, "img").value("deep"), v);
  const std::vector<std::uint8_t> one{1};
  GgufValue u = GgufValue::array<std::uint8_t>(one);
  for (int i = 0; i < 7; ++i) u = GgufValue::array_of_arrays({u});
  w.set("deep", u);
  EXPECT_EQ(GgufFile::parse(w.to_bytes(), "img").value("deep"), u);
  w.set("deep", GgufValue::array_of_arrays({u}));
  EXPECT_THROW((void)w.to_bytes(), Error);
}
