// lowbit's GGUF reader and writer against llama.cpp's own two implementations
// (tests/peers/io_gguf.py): the PyPI gguf package (GGUFReader/GGUFWriter) and ggml's C
// API from llama-cpp-python's libggml-base.so. Each side reads what the other writes and
// must see the same metadata (bit-exact, in order) and the same tensor bytes; copies
// through lowbit of peer-written files (and of two real models) are byte-identical.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "support/peer.h"
#include "support/files.h"

using namespace lowbit;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using lowbit::testing::slurp;

json peer(const std::vector<std::string>& args) { return json::parse(lowbit::testing::run_peer("io_gguf.py", args)); }

std::string hex(std::string_view s) {
  static constexpr char k[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += k[c >> 4];
    out += k[c & 15];
  }
  return out;
}

// The peer's typed encoding of one scalar (see io_gguf.py): floats as bit patterns.
json scalar_json(GgufType t, std::span<const std::byte> b) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, b.data(), b.size());
  if (t == GgufType::F32 || t == GgufType::F64) return {{"bits", bits}};
  switch (t) {
    case GgufType::I8: return {{"v", std::int64_t{static_cast<std::int8_t>(bits)}}};
    case GgufType::I16: return {{"v", std::int64_t{static_cast<std::int16_t>(bits)}}};
    case GgufType::I32: return {{"v", std::int64_t{static_cast<std::int32_t>(bits)}}};
    case GgufType::I64: return {{"v", static_cast<std::int64_t>(bits)}};
    default: return {{"v", bits}};
  }
}

json encode(const GgufValue& v) {
  if (v.type() == GgufType::String) return {{"t", "str"}, {"hex", hex(v.as_string())}};
  if (!v.is_array()) {
    json j = scalar_json(v.type(), v.raw());
    j["t"] = gguf_type_name(v.type());
    return j;
  }
  json items = json::array();
  const GgufType e = v.element_type();
  if (e == GgufType::String) {
    for (const auto& s : v.as_string_array()) items.push_back({{"hex", hex(s)}});
  } else if (e == GgufType::Array) {
    for (const auto& a : v.as_array_of_arrays()) items.push_back(encode(a));
  } else {
    const std::size_t w = gguf_scalar_size(e);
    for (std::uint64_t i = 0; i < v.size(); ++i) items.push_back(scalar_json(e, v.raw().subspan(i * w, w)));
  }
  return {{"t", "arr"}, {"elem", gguf_type_name(e)}, {"v", items}};
}

json encode(const GgufMetadata& md) {
  json out = json::array();
  for (const auto& kv : md) out.push_back({{"key", kv.key}, {"value", encode(kv.value)}});
  return out;
}

std::string bytes_of(std::span<const std::byte> s) { return {reinterpret_cast<const char*>(s.data()), s.size()}; }

// lowbit's view of a file equals a peer's manifest. `padded_ne`: ggml reports 4 dims.
void expect_same(const GgufFile& f, const json& m, bool padded_ne, bool check_data = true) {
  EXPECT_EQ(f.version(), m["version"].get<std::uint32_t>());
  EXPECT_EQ(f.alignment(), m["alignment"].get<std::uint64_t>());
  EXPECT_EQ(f.data_offset(), m["data_offset"].get<std::uint64_t>());
  EXPECT_EQ(encode(f.metadata()), m["kv"]);
  ASSERT_EQ(f.tensors().size(), m["tensors"].size());
  for (std::size_t i = 0; i < f.tensors().size(); ++i) {
    const GgufTensor& t = f.tensors()[i];
    const json& p = m["tensors"][i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, p["name"].get<std::string>());
    const std::vector<std::int64_t> ne = padded_ne ? std::vector<std::int64_t>(t.ne.begin(), t.ne.end())
                                                   : std::vector<std::int64_t>(t.shape().begin(), t.shape().end());
    EXPECT_EQ(ne, p["ne"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(static_cast<std::uint32_t>(t.type), p["type"].get<std::uint32_t>());
    EXPECT_EQ(t.offset, p["offset"].get<std::uint64_t>());
    EXPECT_EQ(t.nbytes, p["nbytes"].get<std::uint64_t>());
    if (check_data) {
      EXPECT_TRUE(bytes_of(t.data) == slurp(p["bin"].get<std::string>()));
    }
  }
}

void copy_through_lowbit(const GgufFile& f, const fs::path& out) {
  GgufWriter w;
  w.copy_metadata(f);
  for (const GgufTensor& t : f.tensors()) w.add_tensor(t);
  w.write(out);
}

// Two mapped files are identical (streams real models without reading them into strings).
void expect_identical_files(const fs::path& a, const fs::path& b) {
  const MappedFile x = MappedFile::open(a), y = MappedFile::open(b);
  ASSERT_EQ(x.size(), y.size()) << a << " vs " << b;
  EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size()), 0) << a << " vs " << b;
}

// Every fixed-size and string value type, scalar and array (empty arrays too: legal GGUF
// that the gguf package cannot write).
void add_every_value(GgufWriter& w) {
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("s.u8", GgufValue::u8(200));
  w.set("s.i8", GgufValue::i8(-100));
  w.set("s.u16", GgufValue::u16(60000));
  w.set("s.i16", GgufValue::i16(-30000));
  w.set("s.u32", GgufValue::u32(4000000000u));
  w.set("s.i32", GgufValue::i32(-2000000000));
  w.set("s.u64", GgufValue::u64(~0ull));
  w.set("s.i64", GgufValue::i64(std::numeric_limits<std::int64_t>::min()));
  w.set("s.f32", GgufValue::f32(-0.0f));
  w.set("s.f32.nan", GgufValue::f32(std::bit_cast<float>(0x7fa00001u)));  // a NaN with a payload
  w.set("s.f64", GgufValue::f64(1e-310));
  w.set("s.bool", GgufValue::boolean(true));
  w.set("s.str", GgufValue::string("\xc3\xa9t\xc3\xa9 \xe2\x98\x83"));
  w.set("s.str.empty", GgufValue::string(""));
  const std::vector<std::uint8_t> u8{0, 7, 255};
  const std::vector<std::int16_t> i16{-1, 2, -32768};
  const std::vector<std::uint32_t> u32{1, 2, 3, 4};
  const std::vector<std::int64_t> i64{-5, 1ll << 60};
  const std::vector<std::uint64_t> u64{~0ull};
  const std::vector<float> f32{1.5f, -0.0f, std::numeric_limits<float>::infinity()};
  const std::vector<double> f64{3.5, -1e300};
  const std::vector<std::int8_t> i8{-128, 127};
  const std::vector<std::uint16_t> u16{65535};
  const std::vector<std::int32_t> i32{-7};
  w.set("a.u8", GgufValue::array<std::uint8_t>(u8));
  w.set("a.i8", GgufValue::array<std::int8_t>(i8));
  w.set("a.u16", GgufValue::array<std::uint16_t>(u16));
  w.set("a.i16", GgufValue::array<std::int16_t>(i16));
  w.set("a.u32", GgufValue::array<std::uint32_t>(u32));
  w.set("a.i32", GgufValue::array<std::int32_t>(i32));
  w.set("a.u64", GgufValue::array<std::uint64_t>(u64));
  w.set("a.i64", GgufValue::array<std::int64_t>(i64));
  w.set("a.f32", GgufValue::array<float>(f32));
  w.set("a.f64", GgufValue::array<double>(f64));
  w.set("a.bool", GgufValue::bool_array({true, false, false}));
  w.set("a.str", GgufValue::string_array({"<s>", "", "\xe2\x96\x81the"}));
  w.set("a.empty.u32", GgufValue::array<std::uint32_t>({}));
  w.set("a.empty.str", GgufValue::string_array({}));
}

// One tensor of every ggml type lowbit knows (except those in `skip`), random bytes
// produced by fill callbacks at write time.
void add_every_type(GgufWriter& w, std::uint32_t seed, const std::vector<ggml::Type>& skip = {}) {
  int k = 0;
  for (std::uint32_t id = 0; id < 64; ++id) {
    const ggml::TypeTraits* tr = ggml::traits(id);
    if (!tr || std::find(skip.begin(), skip.end(), tr->type) != skip.end()) continue;
    std::vector<std::int64_t> ne{tr->block_size * (1 + k % 3)};
    for (int d = 1; d < 1 + k % 4; ++d) ne.push_back(1 + (k + d) % 3);  // 1-4 dims, some of size 1
    ++k;
    w.add_tensor({std::string("t.") + tr->name, ne, tr->type}, [seed, id](std::span<std::byte> out) {
      std::mt19937 rng(seed + id);
      for (std::byte& b : out) b = static_cast<std::byte>(rng() & 0xFF);
    });
  }
}

}  // namespace

// The gguf package's alignments to try: its default, the smallest, and larger ones.
const int kAlignments[] = {32, 1, 8, 64, 4096};

TEST(PeerGguf, ReadsEveryValueTypeAndTensorTheGgufPackageWrites) {
  const auto dir = lowbit::testing::scratch_dir();
  for (int align : kAlignments) {
    SCOPED_TRACE(align);
    const json m = peer({"write", dir.string(), std::to_string(align)});
    const GgufFile f = GgufFile::open(m["file"].get<std::string>());
    expect_same(f, m, /*padded_ne=*/false);
    EXPECT_EQ(f.alignment(), static_cast<std::uint64_t>(align));
    // Nested arrays and the typed getters, spot-checked against the manifest's values.
    EXPECT_EQ(f.value("a.nested.int").as_array_of_arrays().size(), 3u);
    EXPECT_EQ(f.value("a.nested.int").as_array_of_arrays()[0].as_int_array(), (std::vector<std::int64_t>{1, 2, 3}));
    EXPECT_EQ(f.get_uint("t.u64"), ~0ull);
    EXPECT_EQ(f.get_int("t.i16"), -32768);
    EXPECT_THROW((void)f.get_int("t.u64"), Error);  // does not fit int64
    EXPECT_TRUE(f.get_bool("t.bool.true"));
    EXPECT_EQ(f.get_string("general.architecture"), "llama");
    EXPECT_EQ(f.get_string_array("a.str").size(), 4u);
  }
}

TEST(PeerGguf, CopyThroughLowbitIsByteIdentical) {
  // Same metadata order, same tensor order, same alignment: the gguf package's layout is
  // ggml's (aligned header end, each tensor padded with zeros), so the bytes must match.
  const auto dir = lowbit::testing::scratch_dir();
  for (int align : kAlignments) {
    SCOPED_TRACE(align);
    const json m = peer({"write", dir.string(), std::to_string(align)});
    const GgufFile f = GgufFile::open(m["file"].get<std::string>());
    copy_through_lowbit(f, dir / "copy.gguf");
    EXPECT_TRUE(slurp(dir / "copy.gguf") == slurp(m["file"].get<std::string>()));
  }
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(PeerGgufGgml, ReadsWhatGgmlWritesAndCopiesItByteForByte) {
  const auto dir = lowbit::testing::scratch_dir();
  const json m = peer({"ggml-write", dir.string()});
  const GgufFile f = GgufFile::open(m["file"].get<std::string>());
  expect_same(f, m, /*padded_ne=*/true);
  // ggml drops trailing 1-dims when it writes (ggml_n_dims), but never below 1.
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").n_dims, 1u);
  EXPECT_EQ(f.tensor("blk.1.one.weight").n_dims, 1u);
  EXPECT_EQ(f.tensor("blk.0.exps.weight").n_dims, 3u);
  EXPECT_EQ(f.value("a.empty").size(), 0u);
  copy_through_lowbit(f, dir / "copy.gguf");
  EXPECT_TRUE(slurp(dir / "copy.gguf") == slurp(m["file"].get<std::string>()));
}

TEST(PeerGgufGgml, BothPeersReadWhatLowbitWrites) {
  const auto dir = lowbit::testing::scratch_dir();
  for (std::uint32_t align : {32u, 16u, 128u}) {
    SCOPED_TRACE(align);
    GgufWriter w;
    add_every_value(w);
    if (align != 32) w.set(kGgufAlignmentKey, GgufValue::u32(align));
    // The gguf package's file leaves out two types it gets wrong: 0.19.0 predates Q2_0
    // (id 42), and its size table has Q8_1 as 40-byte blocks (float d and s) where ggml's
    // block_q8_1 is 36 bytes (two halves + 32 int8), so it misreads any Q8_1 tensor.
    GgufWriter w_py = w;
    add_every_type(w, align);
    add_every_type(w_py, align, {ggml::Type::Q2_0, ggml::Type::Q8_1});
    const fs::path path = dir / ("lowbit" + std::to_string(align) + ".gguf");
    const fs::path path_py = dir / ("lowbit_py" + std::to_string(align) + ".gguf");
    w.write(path);
    w_py.write(path_py);
    EXPECT_TRUE(slurp(path) == bytes_of(w.to_bytes()));

    const GgufFile f = GgufFile::open(path);
    const GgufFile f_py = GgufFile::open(path_py);
    EXPECT_EQ(f.metadata(), w.metadata());
    ASSERT_EQ(f.tensors().size(), w.tensor_count());
    EXPECT_EQ(f.tensors().back().name, "t.q2_0");
    expect_same(f, peer({"ggml", path.string(), dir.string()}), /*padded_ne=*/true);
    expect_same(f_py, peer({"dump", path_py.string(), dir.string()}), /*padded_ne=*/false);
  }
}

TEST(PeerGgufGgml, NestedArraysReadByTheGgufPackageRefusedByGgml) {
  // GGUF allows arrays of arrays and the gguf package reads and writes them; ggml's C
  // reader (what llama.cpp loads with) refuses any file holding one.
  const auto dir = lowbit::testing::scratch_dir();
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  const std::vector<std::int32_t> a{1, 2}, b{3};
  const std::vector<double> c{0.5};
  w.set("nested", GgufValue::array_of_arrays({GgufValue::array<std::int32_t>(a), GgufValue::array<std::int32_t>(b),
                                              GgufValue::string_array({"x"}), GgufValue::array<double>(c)}));
  w.set("nested.deep", GgufValue::array_of_arrays({GgufValue::array_of_arrays({GgufValue::array<std::int32_t>(b)})}));
  const std::vector<float> x(8, 1.0f);
  w.add_tensor({"x", {8}, ggml::Type::F32}, std::as_bytes(std::span(x)));
  w.write(dir / "nested.gguf");
  const GgufFile f = GgufFile::open(dir / "nested.gguf");
  expect_same(f, peer({"dump", (dir / "nested.gguf").string(), dir.string()}), false);
  EXPECT_FALSE(peer({"ggml-accepts", (dir / "nested.gguf").string()})["accepts"].get<bool>());
  w.remove("nested");
  w.remove("nested.deep");
  w.write(dir / "flat.gguf");
  EXPECT_TRUE(peer({"ggml-accepts", (dir / "flat.gguf").string()})["accepts"].get<bool>());
}

namespace {

// llama.cpp's convert scripts wrote these with the gguf package: 49k-262k token
// vocabularies, quantized tensors; lowbit must agree with ggml on every KV and tensor
// info, and a copy must reproduce the file exactly.
void check_real_model(const char* name) {
  const auto dir = lowbit::testing::scratch_dir();
  const json m = peer({"model", name, dir.string()});
  const fs::path path = m["file"].get<std::string>();
  const GgufFile f = GgufFile::open(path);
  expect_same(f, m, /*padded_ne=*/true, /*check_data=*/false);
  EXPECT_GT(f.get_string_array("tokenizer.ggml.tokens").size(), 30000u);
  copy_through_lowbit(f, dir / "copy.gguf");
  expect_identical_files(dir / "copy.gguf", path);
  fs::remove(dir / "copy.gguf");
}

}  // namespace

TEST(PeerGgufModel, SmolLM2MatchesGgmlAndCopiesByteForByte) { check_real_model("smollm2"); }
TEST(PeerGgufModel, Gemma3MatchesGgmlAndCopiesByteForByte) { check_real_model("gemma3"); }
