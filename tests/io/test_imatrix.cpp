// Unit tests of the importance-matrix reader/writer without a peer: legacy .dat parsing
// and its strictness (lengths, duplicates, trailers), format detection, the size checks
// llama-quantize applies per tensor, legacy->GGUF conversion and GGUF write/read round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/imatrix.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

// A legacy .dat image, built field by field.
struct Dat {
  std::vector<std::byte> b;
  Dat& i32(std::int32_t v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    b.insert(b.end(), p, p + 4);
    return *this;
  }
  Dat& str(std::string_view s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    b.insert(b.end(), p, p + s.size());
    return *this;
  }
  Dat& floats(std::vector<float> v) {
    const auto* p = reinterpret_cast<const std::byte*>(v.data());
    b.insert(b.end(), p, p + 4 * v.size());
    return *this;
  }
  Dat& entry(std::string_view name, std::int32_t ncall, std::vector<float> v) {
    i32(static_cast<std::int32_t>(name.size())).str(name).i32(ncall).i32(static_cast<std::int32_t>(v.size()));
    return floats(std::move(v));
  }
};

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

Imatrix two_entries() {
  Imatrix m;
  m.datasets = {"a.txt"};
  m.chunk_count = 3;
  m.chunk_size = 512;
  m.entries["blk.0.attn_k.weight"] = {{1.0f, 2.0f, 3.0f, 4.0f}, {10}};
  m.entries["blk.0.ffn_up_exps.weight"] = {{1, 2, 3, 4, 5, 6}, {3, 0, 1}};
  return m;
}

}  // namespace

TEST(ImatrixDat, ParsesEntriesAndTrailer) {
  const Dat d = Dat().i32(2).entry("b.weight", 4, {1, 2}).entry("a.weight", 0, {3}).i32(7).i32(5).str("x.txt");
  const Imatrix m = Imatrix::parse(d.b, "x.dat");
  EXPECT_EQ(m.format, ImatrixFormat::LegacyDat);
  ASSERT_EQ(m.entries.size(), 2u);
  EXPECT_EQ(m.find("b.weight")->counts, std::vector<std::int64_t>{4});
  EXPECT_EQ(m.find("a.weight")->sums, std::vector<float>{3});
  EXPECT_EQ(m.chunk_count, 7);
  EXPECT_EQ(m.datasets, std::vector<std::string>{"x.txt"});
  // ncall <= 0 leaves the stored values as they are.
  EXPECT_EQ(m.values("a.weight"), std::vector<float>{3});
  EXPECT_EQ(m.values("b.weight"), (std::vector<float>{1.0f / 4.0f, 2.0f / 4.0f}));
}

TEST(ImatrixDat, TrailerIsOptionalButNotPartial) {
  const Dat base = Dat().i32(1).entry("w", 1, {1});
  EXPECT_NO_THROW((void)Imatrix::parse(base.b, "x.dat"));
  EXPECT_EQ(Imatrix::parse(Dat(base).i32(9).b, "x.dat").chunk_count, 9);   // chunk count only
  EXPECT_TRUE(Imatrix::parse(Dat(base).i32(9).i32(0).b, "x.dat").datasets.empty());
  Dat partial = Dat(base).i32(9);
  partial.b.resize(partial.b.size() + 2);
  EXPECT_NE(error_of([&] { (void)Imatrix::parse(partial.b, "x.dat"); }).find("x.dat"), std::string::npos);
  EXPECT_THROW((void)Imatrix::parse(Dat(base).i32(9).i32(4).str("ab").b, "x.dat"), Error);  // short name
  EXPECT_THROW((void)Imatrix::parse(Dat(base).i32(9).i32(1).str("ab").b, "x.dat"), Error);  // trailing byte
}

TEST(ImatrixDat, RefusesMalformedEntriesNamingThem) {
  auto err = [](const Dat& d) { return error_of([&] { (void)Imatrix::parse(d.b, "bad.dat"); }); };
  EXPECT_NE(err(Dat().i32(0)).find("entry count 0"), std::string::npos);
  // (Filler floats keep the entry count plausible, so the entry itself is what fails.)
  EXPECT_NE(err(Dat().i32(1).i32(-1).floats({0, 0, 0})).find("negative name length"), std::string::npos);
  EXPECT_NE(err(Dat().i32(1).i32(1).str("w").i32(1).i32(0).floats({0})).find("'w'"), std::string::npos);
  EXPECT_NE(err(Dat().i32(2).entry("w", 1, {1}).entry("w", 1, {2})).find("duplicate"), std::string::npos);
  EXPECT_NE(err(Dat().i32(1000).entry("w", 1, {1})).find("cannot fit"), std::string::npos);
  const std::string msg = err(Dat().i32(1).i32(1).str("w").i32(1).i32(100).floats({1, 2}));
  EXPECT_NE(msg.find("bad.dat"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'w'"), std::string::npos) << msg;
  EXPECT_NE(err(Dat()).find("empty file"), std::string::npos);
}

TEST(ImatrixDat, NamesStopAtNulAsInLlamaCpp) {
  const Dat d = Dat().i32(1).entry(std::string_view("w\0junk", 6), 1, {1});
  EXPECT_NE(Imatrix::parse(d.b, "x.dat").find("w"), nullptr);
}

TEST(Imatrix, ForTensorChecksSizesLikeLlamaQuantize) {
  const Imatrix m = two_entries();
  EXPECT_EQ(m.for_tensor("blk.0.attn_k.weight", std::vector<std::int64_t>{4, 8})->size(), 4u);
  EXPECT_THROW((void)m.for_tensor("blk.0.attn_k.weight", std::vector<std::int64_t>{8, 4}), Error);
  EXPECT_EQ(m.for_tensor("blk.0.ffn_up_exps.weight", std::vector<std::int64_t>{2, 5, 3})->size(), 6u);
  EXPECT_FALSE(m.for_tensor("missing", std::vector<std::int64_t>{4}).has_value());
  Imatrix t = m;
  t.entries["token_embd.weight"] = {{1, 2}, {1}};
  EXPECT_FALSE(t.for_tensor("token_embd.weight", std::vector<std::int64_t>{3, 9}).has_value());
  t.entries["blk.0.attn_k.weight"].sums[1] = std::numeric_limits<float>::infinity();
  EXPECT_THROW((void)t.for_tensor("blk.0.attn_k.weight", std::vector<std::int64_t>{4}), Error);
  EXPECT_THROW(t.check_finite(), Error);
  EXPECT_NO_THROW(m.check_finite());
  // An expert with count 0 gets 1s; the others sums / count.
  const std::vector<float> v = m.values("blk.0.ffn_up_exps.weight");
  EXPECT_EQ(v[2], 1.0f);
  EXPECT_EQ(v[3], 1.0f);
  EXPECT_EQ(v[0], 1.0f / 3.0f);
}

TEST(Imatrix, GgufWriteReadRoundTrip) {
  const auto dir = lowbit::testing::scratch_dir();
  const Imatrix m = two_entries();
  write_imatrix_gguf(dir / "im.gguf", m);
  const Imatrix r = Imatrix::load(dir / "im.gguf");
  EXPECT_EQ(r.format, ImatrixFormat::Gguf);
  EXPECT_EQ(r.datasets, m.datasets);
  EXPECT_EQ(r.chunk_count, m.chunk_count);
  EXPECT_EQ(r.chunk_size, m.chunk_size);
  ASSERT_EQ(r.entries.size(), m.entries.size());
  for (const auto& [name, e] : m.entries) {
    EXPECT_EQ(r.find(name)->sums, e.sums);
    EXPECT_EQ(r.find(name)->counts, e.counts);
  }
  const GgufFile f = GgufFile::open(dir / "im.gguf");
  EXPECT_EQ(f.get_string("general.type"), "imatrix");
  EXPECT_EQ(f.tensor("blk.0.ffn_up_exps.weight.in_sum2").shape().size(), 2u);
  EXPECT_EQ(f.tensor("blk.0.attn_k.weight.counts").shape().size(), 1u);

  Imatrix bad = m;
  bad.entries["x"] = {{1, 2, 3}, {1, 1}};
  EXPECT_THROW(write_imatrix_gguf(dir / "bad.gguf", bad), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.gguf"));
}

TEST(Imatrix, LegacyToGgufFollowsLlamaImatrixMerge) {
  const Dat d = Dat().i32(2).entry("a", 3, {6, 9}).entry("b", 5, {1}).i32(4).i32(1).str("d");
  const Imatrix legacy = Imatrix::parse(d.b, "x.dat");
  EXPECT_THROW(write_imatrix_gguf(lowbit::testing::scratch_dir() / "x.gguf", legacy), Error);
  const Imatrix g = legacy.legacy_to_gguf(512);
  EXPECT_EQ(g.format, ImatrixFormat::Gguf);
  EXPECT_EQ(g.chunk_size, 512);
  EXPECT_EQ(g.chunk_count, 5);  // largest count / chunk size
  EXPECT_EQ(g.find("a")->counts, std::vector<std::int64_t>{3 * 512});
  EXPECT_EQ(g.find("a")->sums, (std::vector<float>{6.0f * 512, 9.0f * 512}));
  EXPECT_EQ(g.datasets, legacy.datasets);
  // The values llama-quantize would then derive are the legacy ones again.
  EXPECT_EQ(g.values("a"), legacy.values("a"));
  EXPECT_THROW((void)g.legacy_to_gguf(512), Error);
}

TEST(Imatrix, GgufNeedsTheMetadataLlamaQuantizeNeeds) {
  GgufWriter w;
  w.set("general.type", GgufValue::string("imatrix"));
  w.set(kImatrixDatasetsKey, GgufValue::string_array({}));
  w.set(kImatrixChunkCountKey, GgufValue::u32(1));
  const std::vector<float> one{1.0f};
  w.add_tensor({"w.in_sum2", {1}, ggml::Type::F32}, std::as_bytes(std::span(one)));
  w.add_tensor({"w.counts", {1}, ggml::Type::F32}, std::as_bytes(std::span(one)));
  std::string msg = error_of([&] { (void)Imatrix::parse(w.to_bytes(), "im.gguf"); });
  EXPECT_NE(msg.find("imatrix.chunk_size"), std::string::npos) << msg;
  w.set(kImatrixChunkSizeKey, GgufValue::i32(512));
  msg = error_of([&] { (void)Imatrix::parse(w.to_bytes(), "im.gguf"); });
  EXPECT_NE(msg.find("must be u32"), std::string::npos) << msg;
  w.set(kImatrixChunkSizeKey, GgufValue::u32(512));
  EXPECT_EQ(Imatrix::parse(w.to_bytes(), "im.gguf").values("w"), std::vector<float>{1.0f});
}
