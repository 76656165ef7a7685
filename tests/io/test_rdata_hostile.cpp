// Unit tests of the R serialization / lazy-load decoder without a peer: small XDR
// streams written by hand (valid ones for each feature, hostile ones for each check) and
// the real janeaustenr files mutated: every refusal must be a lowbit::Error naming the
// source and the byte offset, never a crash or a huge allocation.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>

#include "lowbit/austen.h"
#include "lowbit/error.h"
#include "lowbit/rdata.h"
#include "support/peer.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

// SEXP flag words as R's serializer writes them.
constexpr std::uint32_t kSym = 1, kList = 2, kChar = 9, kLgl = 10, kInt = 13, kReal = 14, kStr = 16, kVec = 19,
                        kRaw = 24, kAltrep = 238, kNilValue = 254, kRef = 255;
constexpr std::uint32_t kAttr = 1u << 9, kTag = 1u << 10;
constexpr std::uint32_t kAsciiLevel = 64u << 12, kUtf8Level = 8u << 12, kLatin1Level = 4u << 12;

// An XDR serialization stream, built field by field (big-endian).
struct X {
  std::vector<std::byte> b;
  std::size_t size() const { return b.size(); }
  X& u32(std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::byte>((v >> s) & 0xFF));
    return *this;
  }
  X& i32(std::int32_t v) { return u32(static_cast<std::uint32_t>(v)); }
  X& f64(double d) {
    const auto u = std::bit_cast<std::uint64_t>(d);
    u32(static_cast<std::uint32_t>(u >> 32));
    return u32(static_cast<std::uint32_t>(u));
  }
  X& raw(std::string_view s) {
    for (char c : s) b.push_back(static_cast<std::byte>(c));
    return *this;
  }
  X& header(int version = 3, std::string_view enc = "UTF-8") {
    raw("X\n").i32(version).u32(0x00040202).u32(version == 3 ? 0x00030500 : 0x00020300);
    if (version == 3) i32(static_cast<std::int32_t>(enc.size())).raw(enc);
    return *this;
  }
  X& chars(std::string_view s, std::uint32_t levels = kAsciiLevel) {
    return u32(kChar | levels).i32(static_cast<std::int32_t>(s.size())).raw(s);
  }
  X& na() { return u32(kChar).i32(-1); }
  X& nil() { return u32(kNilValue); }
  X& sym(std::string_view name) { return u32(kSym).chars(name); }
  X& ref(std::uint32_t index) { return u32(kRef | (index << 8)); }
  X& strs(const std::vector<std::string>& v, std::uint32_t flags = kStr) {
    u32(flags).i32(static_cast<std::int32_t>(v.size()));
    for (const auto& s : v) chars(s);
    return *this;
  }
  X& ints(const std::vector<std::int32_t>& v, std::uint32_t flags = kInt) {
    u32(flags).i32(static_cast<std::int32_t>(v.size()));
    for (auto x : v) i32(x);
    return *this;
  }
  // attributes pairlist with one "names" entry (the symbol written out, or a reference)
  X& names_attr(const std::vector<std::string>& names, std::uint32_t names_ref = 0) {
    u32(kList | kTag);
    if (names_ref) ref(names_ref);
    else sym("names");
    return strs(names).nil();
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

// The error must name the source and say "offset N" (N given, or any offset).
void expect_error(const std::function<void()>& fn, const std::string& source, const std::vector<std::string>& parts,
                  std::optional<std::size_t> offset = std::nullopt) {
  const std::string e = error_of(fn);
  EXPECT_NE(e, "(no error)");
  EXPECT_NE(e.find(source), std::string::npos) << e;
  if (offset) EXPECT_NE(e.find("offset " + std::to_string(*offset) + ":"), std::string::npos) << e;
  else EXPECT_NE(e.find("offset "), std::string::npos) << e;
  for (const auto& p : parts) EXPECT_NE(e.find(p), std::string::npos) << "missing '" << p << "' in: " << e;
}

// For errors that concern a name rather than a byte position.
void expect_error_anywhere(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  const std::string e = error_of(fn);
  EXPECT_NE(e, "(no error)");
  for (const auto& p : parts) EXPECT_NE(e.find(p), std::string::npos) << "missing '" << p << "' in: " << e;
}

RValue parse(const X& x) { return parse_rds(x.b, "t.rds"); }

std::vector<std::byte> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::string s{std::istreambuf_iterator<char>(f), {}};
  std::vector<std::byte> v(s.size());
  std::memcpy(v.data(), s.data(), s.size());
  return v;
}

// The lazy-load index list(variables = list(NAME = c(off, len), ...), references = list(),
// compressed = C), serialized uncompressed (the reader accepts that as well as gzip).
X index_stream(const std::vector<std::pair<std::string, std::pair<std::int32_t, std::int32_t>>>& vars,
               std::uint32_t compressed_flags = kLgl, std::int32_t compressed = 1) {
  X x;
  x.header().u32(kVec | kAttr).i32(3);
  x.u32(kVec | kAttr).i32(static_cast<std::int32_t>(vars.size()));
  std::vector<std::string> names;
  for (const auto& [n, key] : vars) {
    x.ints({key.first, key.second});
    names.push_back(n);
  }
  x.names_attr(names);                 // defines symbol 1 = names
  x.u32(kVec).i32(0);                  // references
  x.ints({compressed}, compressed_flags);
  x.names_attr({"variables", "references", "compressed"}, 1);
  return x;
}

// A STRSXP object with an NA, and a plain character vector, stored uncompressed.
std::vector<std::byte> u32be(std::uint32_t v) {
  return {std::byte(v >> 24), std::byte((v >> 16) & 0xFF), std::byte((v >> 8) & 0xFF), std::byte(v & 0xFF)};
}

struct RealDb {
  std::vector<std::byte> rdx, rdb;
  fs::path dir;
};
RealDb real_db() {
  RealDb d;
  d.dir = austen_data_dir();
  d.rdx = read_file(d.dir / "Rdata.rdx");
  d.rdb = read_file(d.dir / "Rdata.rdb");
  return d;
}

}  // namespace

// ---------------------------------------------------------------- valid streams

TEST(RdataDecode, StringsEncodingsAndNa) {
  X x;
  x.header().u32(kStr).i32(5);
  x.chars("plain");
  x.chars("\xc2\xa3" "20,000", kUtf8Level);
  x.chars("caf\xe9", kLatin1Level);  // latin1 é becomes UTF-8 C3 A9
  x.na();
  x.chars("");
  const RValue v = parse(x);
  ASSERT_EQ(v.type, RType::String);
  ASSERT_EQ(v.strings.size(), 5u);
  EXPECT_EQ(*v.strings[0], "plain");
  EXPECT_EQ(*v.strings[1], "\xc2\xa3" "20,000");
  EXPECT_EQ(*v.strings[2], "caf\xc3\xa9");
  EXPECT_FALSE(v.strings[3].has_value());
  EXPECT_EQ(*v.strings[4], "");
  // NA is kept by the decoder, refused where text is needed.
  expect_error([&] { r_character_vector(v, "t.rds"); }, "t.rds", {"element 3", "NA"}, 23);
}

TEST(RdataDecode, NativeEncodingFromTheHeader) {
  X latin;
  latin.header(3, "latin1").u32(kStr).i32(1).u32(kChar).i32(1).raw("\xe9");
  EXPECT_EQ(*parse(latin).strings[0], "\xc3\xa9");
  X utf8;
  utf8.header(3, "UTF-8").u32(kStr).i32(1).u32(kChar).i32(2).raw("\xc3\xa9");
  EXPECT_EQ(*parse(utf8).strings[0], "\xc3\xa9");
  X other;
  other.header(3, "CP1252").u32(kStr).i32(1).u32(kChar).i32(1).raw("\x80");
  expect_error([&] { parse(other); }, "t.rds", {"CP1252"});
}

TEST(RdataDecode, NamedVectorsVersion2AndReferences) {
  X x;
  x.header(2).u32(kVec | kAttr).i32(2);
  x.ints({1, 2}, kInt | kAttr).names_attr({"a", "b"});  // symbol 1 = names
  x.u32(kReal).i32(2).f64(0.5).f64(-3.0);
  x.names_attr({"ints", "reals"}, 1);  // the second "names" is a reference
  const RValue v = parse(x);
  ASSERT_EQ(v.type, RType::List);
  EXPECT_EQ(v.names("t"), (std::vector<std::string>{"ints", "reals"}));
  const RValue* ints = v.find("ints", "t");
  ASSERT_NE(ints, nullptr);
  EXPECT_EQ(ints->ints, (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(ints->names("t"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(v.find("reals", "t")->reals, (std::vector<double>{0.5, -3.0}));
  EXPECT_EQ(v.find("nope", "t"), nullptr);
}

TEST(RdataDecode, PairlistsLogicalsRawAndSavePrefix) {
  X x;
  x.raw("RDX3\n").header();
  x.u32(kList | kTag).sym("a").ints({1, 0, INT32_MIN}, kLgl);
  x.u32(kList).u32(kRaw).i32(3).raw("xyz");
  x.nil();
  const RValue v = parse(x);
  ASSERT_EQ(v.type, RType::Pairlist);
  ASSERT_EQ(v.items.size(), 2u);
  EXPECT_EQ(v.tags, (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(v.items[0].type, RType::Logical);
  EXPECT_EQ(v.items[0].ints, (std::vector<std::int32_t>{1, 0, INT32_MIN}));
  EXPECT_EQ(v.items[1].raw.size(), 3u);
  EXPECT_EQ(v.names("t"), (std::vector<std::string>{"a", ""}));
}

TEST(RdataDecode, AltrepCompactSequencesAndWrappers) {
  auto info = [](X& x, std::string_view cls, std::int32_t type) {
    x.u32(kAltrep).u32(kList).sym(cls).u32(kList).sym("base").u32(kList).ints({type}).nil();
  };
  X seq;  // 1:10 as R 4.x writes it: state = (n, first, inc) as doubles
  seq.header();
  info(seq, "compact_intseq", 13);
  seq.u32(kReal).i32(3).f64(10).f64(1).f64(1).nil();
  const RValue s = parse(seq);
  ASSERT_EQ(s.type, RType::Integer);
  EXPECT_EQ(s.ints, (std::vector<std::int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));

  X down;  // 5:3 as doubles
  down.header();
  info(down, "compact_realseq", 14);
  down.u32(kReal).i32(3).f64(3).f64(5).f64(-1).nil();
  EXPECT_EQ(parse(down).reals, (std::vector<double>{5, 4, 3}));

  X wrap;  // wrap_integer: state = CONS(x, meta), a dotted pair
  wrap.header();
  info(wrap, "wrap_integer", 13);
  wrap.u32(kList).ints({7, 8}).ints({0, 1});
  wrap.names_attr({"p", "q"});
  const RValue w = parse(wrap);
  EXPECT_EQ(w.ints, (std::vector<std::int32_t>{7, 8}));
  EXPECT_EQ(w.names("t"), (std::vector<std::string>{"p", "q"}));

  X def;  // as.character(1:3)
  def.header();
  info(def, "deferred_string", 16);
  def.u32(kList);
  info(def, "compact_intseq", 13);
  def.u32(kReal).i32(3).f64(3).f64(1).f64(1).nil();
  def.ints({1}).nil();
  const RValue d = parse(def);
  ASSERT_EQ(d.type, RType::String);
  EXPECT_EQ(r_character_vector(d, "t"), (std::vector<std::string>{"1", "2", "3"}));
}

TEST(RdataDecode, LongPairlistIsNotNesting) {
  X x;
  x.header();
  for (int i = 0; i < 5000; ++i) x.u32(kList).ints({i});
  x.nil();
  EXPECT_EQ(parse(x).items.size(), 5000u);
}

TEST(RdataDecode, RealIndexAndNovelNames) {
  const RealDb d = real_db();
  const auto plain = r_gunzip(d.rdx, "Rdata.rdx", RLazyLoadDb::kMaxIndexBytes);
  const RValue index = parse_rds(plain, "Rdata.rdx");
  EXPECT_EQ(index.names("x"), (std::vector<std::string>{"variables", "references", "compressed"}));
  const RLazyLoadDb db = RLazyLoadDb::parse(d.rdx, d.rdb, "rdx", "rdb");
  std::vector<std::string> names = db.names();
  std::vector<std::string> expected(kAustenNovels.begin(), kAustenNovels.end());
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);
  const auto pp = r_character_vector(db.get("prideprejudice"), "pp");
  ASSERT_GT(pp.size(), 13000u);
  EXPECT_EQ(pp[0], "PRIDE AND PREJUDICE");
}

TEST(RdataDecode, UncompressedAndStoredDatabases) {
  X obj;
  obj.header().strs({"first line", "", "third"});
  // compress = FALSE: the .rdb holds the serialized bytes themselves.
  {
    const X idx = index_stream({{"x", {0, static_cast<std::int32_t>(obj.size())}}}, kLgl, 0);
    const RLazyLoadDb db = RLazyLoadDb::parse(idx.b, obj.b, "idx", "db");
    EXPECT_EQ(r_character_vector(db.get("x"), "x"), (std::vector<std::string>{"first line", "", "third"}));
  }
  // compress = 3 with type byte '0' (stored: R keeps data that xz does not shrink).
  {
    std::vector<std::byte> rdb = u32be(static_cast<std::uint32_t>(obj.size()));
    rdb.push_back(std::byte{'0'});
    rdb.insert(rdb.end(), obj.b.begin(), obj.b.end());
    const X idx = index_stream({{"x", {0, static_cast<std::int32_t>(rdb.size())}}}, kInt, 3);
    const RLazyLoadDb db = RLazyLoadDb::parse(idx.b, rdb, "idx", "db");
    EXPECT_EQ(db.get("x").strings.size(), 3u);
  }
}

TEST(RdataDecode, AustenSplitsAreFixedAndDisjoint) {
  EXPECT_EQ(austen_split_novels(AustenSplit::calibration), (std::vector<std::string_view>{"sensesensibility"}));
  EXPECT_EQ(austen_split_novels(AustenSplit::evaluation), (std::vector<std::string_view>{"prideprejudice"}));
  EXPECT_EQ(austen_split_novels(AustenSplit::all).size(), 6u);
  for (AustenSplit s : {AustenSplit::calibration, AustenSplit::evaluation, AustenSplit::all})
    EXPECT_EQ(austen_split_from_name(austen_split_name(s)), s);
  EXPECT_FALSE(austen_split_from_name("train").has_value());
  const std::string eval = austen_text(AustenSplit::evaluation);
  EXPECT_EQ(eval.substr(0, 19), "PRIDE AND PREJUDICE");
  EXPECT_NE(eval.back(), '\n');
  EXPECT_EQ(std::count(eval.begin(), eval.end(), '\n') + 1, 13030);
  EXPECT_EQ(eval.size(), 684767u);
  const std::string cal = austen_text(AustenSplit::calibration);
  EXPECT_EQ(std::count(cal.begin(), cal.end(), '\n') + 1, 12624);
  EXPECT_EQ(cal.size(), 673687u);
  expect_error_anywhere([] { austen_novel("ulysses"); }, {"unknown Austen novel 'ulysses'"});
}

// ---------------------------------------------------------------- hostile streams

TEST(RdataHostile, WrongMagicAndFormats) {
  X y;
  y.raw("Y\n").i32(3);
  expect_error([&] { parse(y); }, "t.rds", {"not R serialized data"}, 0);
  X a;
  a.raw("A\n3\n");
  expect_error([&] { parse(a); }, "t.rds", {"ascii"}, 0);
  X b;
  b.raw("B\n\x03\0\0\0");
  expect_error([&] { parse(b); }, "t.rds", {"native binary"}, 0);
  X gz;
  gz.raw("\x1f\x8b\x08\0");
  expect_error([&] { parse(gz); }, "t.rds", {"gzip"}, 0);
  X rda;
  rda.raw("RDA3\nA\n");
  expect_error([&] { parse(rda); }, "t.rds", {"save() file"}, 0);
  X v4;
  v4.raw("X\n").i32(4).i32(0).i32(0);
  expect_error([&] { parse(v4); }, "t.rds", {"version 4"}, 2);
  X enc;
  enc.raw("X\n").i32(3).i32(0).i32(0).i32(1000);
  expect_error([&] { parse(enc); }, "t.rds", {"encoding name length 1000"}, 14);
  expect_error([&] { parse(X{}); }, "t.rds", {"truncated"}, 0);
}

TEST(RdataHostile, EveryTruncationFails) {
  X x;
  x.header().u32(kVec | kAttr).i32(4);
  x.strs({"alpha", "beta"});
  x.u32(kList | kTag).sym("t").u32(kReal).i32(1).f64(2.5).nil();
  x.u32(kAltrep).u32(kList).sym("compact_intseq").u32(kList).sym("base").u32(kList).ints({13}).nil();
  x.u32(kReal).i32(3).f64(4).f64(1).f64(1).nil();
  x.u32(kRaw).i32(2).raw("ab");
  x.names_attr({"s", "p", "q", "r"}, 2);
  ASSERT_NO_THROW(parse(x));
  for (std::size_t n = 0; n < x.size(); ++n) {
    SCOPED_TRACE(n);
    const std::span<const std::byte> prefix(x.b.data(), n);
    expect_error([&] { parse_rds(prefix, "cut.rds"); }, "cut.rds", {});
  }
  X extra = x;
  extra.raw("!");
  expect_error([&] { parse(extra); }, "t.rds", {"1 trailing bytes"}, x.size());
}

TEST(RdataHostile, EveryTruncationOfTheRealIndexFails) {
  const RealDb d = real_db();
  const auto plain = r_gunzip(d.rdx, "Rdata.rdx", RLazyLoadDb::kMaxIndexBytes);
  for (std::size_t n = 0; n < plain.size(); ++n) {
    SCOPED_TRACE(n);
    expect_error([&] { parse_rds(std::span(plain.data(), n), "rdx-cut"); }, "rdx-cut", {});
  }
  // and every cut of the gzip file itself
  for (std::size_t n = 0; n < d.rdx.size(); ++n) {
    SCOPED_TRACE(n);
    expect_error([&] { RLazyLoadDb::parse(std::span(d.rdx.data(), n), d.rdb, "rdx-gz", "rdb"); }, "rdx-gz", {});
  }
}

TEST(RdataHostile, HugeLengths) {
  const std::size_t body = X().header().size();  // 23: object flags here, length at 27
  for (std::uint32_t type : {kStr, kInt, kReal, kVec, kRaw, kLgl}) {
    SCOPED_TRACE(type);
    X x;
    x.header().u32(type).i32(0x7fffffff);
    expect_error([&] { parse(x); }, "t.rds", {"length 2147483647"}, body + 4);
    X lv;  // long-vector length: -1 then two words
    lv.header().u32(type).i32(-1).u32(0xffffffff).u32(0xffffffff);
    expect_error([&] { parse(lv); }, "t.rds", {"length 18446744073709551615"}, body + 4);
    X neg;
    neg.header().u32(type).i32(-5);
    expect_error([&] { parse(neg); }, "t.rds", {"negative"}, body + 4);
  }
  X s;
  s.header().u32(kStr).i32(1).u32(kChar).i32(0x7ffffff0).raw("abc");
  expect_error([&] { parse(s); }, "t.rds", {"truncated", "string bytes"}, body + 16);
  X neg;
  neg.header().u32(kStr).i32(1).u32(kChar).i32(-2);
  expect_error([&] { parse(neg); }, "t.rds", {"negative string length -2"}, body + 12);
}

TEST(RdataHostile, DeepNesting) {
  X x;
  x.header();
  for (int i = 0; i < 1000; ++i) x.u32(kVec).i32(1);
  x.nil();
  expect_error([&] { parse(x); }, "t.rds", {"nested deeper than"});
  // through attributes as well: each level an integer whose names attribute is a list...
  X a;
  a.header();
  for (int i = 0; i < 1000; ++i) a.u32(kInt | kAttr).i32(0).u32(kList | kTag).sym("x");
  a.nil();
  expect_error([&] { parse(a); }, "t.rds", {"nested deeper than"});
}

TEST(RdataHostile, References) {
  const std::size_t body = X().header().size();
  X none;
  none.header().ref(1);
  expect_error([&] { parse(none); }, "t.rds", {"reference index 1 out of range", "0 entries"}, body);
  X unpacked;  // packed index 0: the index follows as its own word
  unpacked.header().u32(kList | kTag).sym("a").nil().u32(kList | kTag).ref(0).i32(7).nil().nil();
  expect_error([&] { parse(unpacked); }, "t.rds", {"reference index 7 out of range", "1 entries"});
  X zero;
  zero.header().ref(0).i32(0);
  expect_error([&] { parse(zero); }, "t.rds", {"reference index 0"}, body);
  // A big symbol referenced many times would copy its name each time: bounded.
  X amp;
  amp.header().u32(kList | kTag).sym(std::string(10000, 's')).nil();
  for (int i = 0; i < 200000; ++i) amp.u32(kList | kTag).ref(1).nil();
  amp.nil();
  expect_error([&] { parse(amp); }, "t.rds", {"budget"});
}

TEST(RdataHostile, DecodedSizeIsBounded) {
  // Each 4-byte NULL would become a whole node: one million of them exceed the budget
  // (64 MiB + 8 x 4 MB) although every length is within the input.
  X nulls;
  nulls.header().u32(kVec).i32(1000000);
  for (int i = 0; i < 1000000; ++i) nulls.nil();
  expect_error([&] { parse(nulls); }, "t.rds", {"budget"});
  // A hundred thousand are fine.
  X fewer;
  fewer.header().u32(kVec).i32(100000);
  for (int i = 0; i < 100000; ++i) fewer.nil();
  EXPECT_EQ(parse(fewer).items.size(), 100000u);
}

TEST(RdataHostile, WrongElementTypes) {
  const std::size_t body = X().header().size();
  X strel;
  strel.header().u32(kStr).i32(1).ints({1});
  expect_error([&] { parse(strel); }, "t.rds", {"element 0", "INTSXP", "expected CHARSXP"}, body + 8);
  X symname;
  symname.header().u32(kSym).ints({1});
  expect_error([&] { parse(symname); }, "t.rds", {"symbol name", "expected CHARSXP"}, body + 4);
  X nasym;
  nasym.header().u32(kSym).na();
  expect_error([&] { parse(nasym); }, "t.rds", {"symbol name is NA"});
  X bare;
  bare.header().chars("x");
  expect_error([&] { parse(bare); }, "t.rds", {"CHARSXP outside"}, body);
  X tag;
  tag.header().u32(kList | kTag).ints({1}).nil().nil();
  expect_error([&] { parse(tag); }, "t.rds", {"tag", "expected a symbol"}, body + 4);
  X attr;
  attr.header().u32(kInt | kAttr).i32(0).ints({1});
  expect_error([&] { parse(attr); }, "t.rds", {"attributes are a integer"}, body + 8);
  X untagged;
  untagged.header().u32(kInt | kAttr).i32(0).u32(kList).ints({1}).nil();
  expect_error([&] { parse(untagged); }, "t.rds", {"attribute 0 has no name"});
  X dotted;
  dotted.header().u32(kList).ints({1}).ints({2});
  expect_error([&] { parse(dotted); }, "t.rds", {"dotted pairs"});
  for (std::uint32_t t : {3u, 4u, 6u, 21u, 22u, 25u, 242u, 247u, 99u}) {
    SCOPED_TRACE(t);
    X u;
    u.header().u32(t);
    expect_error([&] { parse(u); }, "t.rds", {"unsupported R object type " + std::to_string(t)}, body);
  }
}

TEST(RdataHostile, BadStrings) {
  const std::size_t body = X().header().size();
  X utf;
  utf.header().u32(kStr).i32(1).chars("ok\xff", kUtf8Level);
  expect_error([&] { parse(utf); }, "t.rds", {"not valid UTF-8"}, body + 16 + 2);
  X ascii;
  ascii.header().u32(kStr).i32(1).chars("\xe9", kAsciiLevel);
  expect_error([&] { parse(ascii); }, "t.rds", {"marked ASCII"}, body + 16);
  X nat;
  nat.header(2).u32(kStr).i32(1).u32(kChar).i32(2).raw("\xc3(");
  expect_error([&] { parse(nat); }, "t.rds", {"not valid UTF-8"});
}

TEST(RdataHostile, Altrep) {
  auto info = [](X& x, std::string_view cls) {
    x.u32(kAltrep).u32(kList).sym(cls).u32(kList).sym("base").u32(kList).ints({13}).nil();
  };
  X unknown;
  unknown.header();
  info(unknown, "mmap_integer");
  unknown.nil().nil();
  expect_error([&] { parse(unknown); }, "t.rds", {"unsupported ALTREP class \"mmap_integer\""}, 23);
  X huge;  // 2^31 - 2 elements from 28 bytes of state
  huge.header();
  info(huge, "compact_intseq");
  huge.u32(kReal).i32(3).f64(2147483646.0).f64(1).f64(1).nil();
  expect_error([&] { parse(huge); }, "t.rds", {"budget"});
  X wide;
  wide.header();
  info(wide, "compact_intseq");
  wide.u32(kReal).i32(3).f64(10).f64(2147483640.0).f64(1).nil();
  expect_error([&] { parse(wide); }, "t.rds", {"integer range"});
  X frac;
  frac.header();
  info(frac, "compact_realseq");
  frac.u32(kReal).i32(3).f64(2.5).f64(1).f64(1).nil();
  expect_error([&] { parse(frac); }, "t.rds", {"not a non-negative integer"});
  X defreal;
  defreal.header();
  info(defreal, "deferred_string");
  defreal.u32(kList).u32(kReal).i32(1).f64(1.5).ints({1}).nil();
  expect_error([&] { parse(defreal); }, "t.rds", {"deferred_string of a double"});
  X badinfo;
  badinfo.header().u32(kAltrep).ints({1}).nil().nil();
  expect_error([&] { parse(badinfo); }, "t.rds", {"ALTREP class information"}, 27);
}

// ---------------------------------------------------------------- lazy-load database

TEST(RdataHostile, CorruptZlibInTheDatabase) {
  const RealDb d = real_db();
  const RLazyLoadDb good = RLazyLoadDb::parse(d.rdx, d.rdb, "rdx", "rdb");
  // The first object in the file starts at offset 0 (emma, by the index order).
  ASSERT_NO_THROW(good.get("emma"));
  std::vector<std::byte> bad = d.rdb;
  for (std::size_t i = 100; i < 140; ++i) bad[i] = std::byte{0x55};
  const RLazyLoadDb db = RLazyLoadDb::parse(d.rdx, bad, "rdx", "rdb");
  expect_error([&] { db.get("emma"); }, "rdb['emma']", {});
  // the other objects are untouched
  EXPECT_NO_THROW(db.get("persuasion"));
  // A zlib header that is not one.
  std::vector<std::byte> hdr = d.rdb;
  hdr[4] = std::byte{0x00};
  expect_error([&] { RLazyLoadDb::parse(d.rdx, hdr, "rdx", "rdb").get("emma"); }, "rdb['emma']",
               {"corrupt compressed data", "incorrect header check"});
}

TEST(RdataHostile, DeclaredSizeMismatch) {
  const RealDb d = real_db();
  auto with_len = [&](std::uint32_t len) {
    std::vector<std::byte> b = d.rdb;
    const auto l = u32be(len);
    std::copy(l.begin(), l.end(), b.begin());
    return b;
  };
  const auto p = reinterpret_cast<const unsigned char*>(d.rdb.data());
  const std::uint32_t real = (std::uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
  expect_error([&] { RLazyLoadDb::parse(d.rdx, with_len(real - 1), "rdx", "rdb").get("emma"); }, "rdb['emma']",
               {"more than the declared"});
  expect_error([&] { RLazyLoadDb::parse(d.rdx, with_len(real + 1), "rdx", "rdb").get("emma"); }, "rdb['emma']",
               {"the header declares " + std::to_string(real + 1)}, 4);
  expect_error([&] { RLazyLoadDb::parse(d.rdx, with_len(0xffffffffu), "rdx", "rdb").get("emma"); }, "rdb['emma']",
               {"exceeds the limit"}, 0);
}

TEST(RdataHostile, BadIndexEntries) {
  std::vector<std::byte> rdb(100, std::byte{0});
  auto open = [&](const X& idx) { return RLazyLoadDb::parse(idx.b, rdb, "idx", "db"); };
  expect_error([&] { open(index_stream({{"x", {90, 20}}})); }, "idx", {"variable 'x'", "lies outside", "100 bytes"});
  expect_error([&] { open(index_stream({{"x", {-1, 2}}})); }, "idx", {"bad (offset, length)"});
  expect_error([&] { open(index_stream({{"x", {INT32_MIN, 2}}})); }, "idx", {"bad (offset, length)"});
  expect_error([&] { open(index_stream({{"x", {1, 2}}, {"x", {3, 4}}})); }, "idx", {"appears twice"});
  expect_error([&] { open(index_stream({{"", {1, 2}}})); }, "idx", {"empty name"});
  expect_error([&] { open(index_stream({{"x", {1, 2}}}, kInt, 7)); }, "idx", {"'compressed' is 7"});
  {
    X idx;  // a key that is not a pair
    idx.header().u32(kVec | kAttr).i32(2).u32(kVec | kAttr).i32(1).ints({1, 2, 3}).names_attr({"x"});
    idx.ints({1}, kLgl).names_attr({"variables", "compressed"}, 1);
    expect_error([&] { open(idx); }, "idx", {"not an (offset, length) pair"});
  }
  {
    X idx;  // no 'variables'
    idx.header().u32(kVec | kAttr).i32(1).ints({1}, kLgl).names_attr({"compressed"});
    expect_error([&] { open(idx); }, "idx", {"no 'variables'"});
  }
  {
    X idx;  // NA among the variable names
    idx.header().u32(kVec | kAttr).i32(2).u32(kVec | kAttr).i32(1).ints({1, 2});
    idx.u32(kList | kTag).sym("names").u32(kStr).i32(1).na().nil();
    idx.ints({1}, kLgl).names_attr({"variables", "compressed"}, 1);
    expect_error([&] { open(idx); }, "idx", {"NA"});
  }
  {
    X idx;  // names of the wrong length
    idx.header().u32(kVec | kAttr).i32(1).ints({1}, kLgl).names_attr({"a", "b"});
    expect_error([&] { open(idx); }, "idx", {"2 names for 1 elements"});
  }
  X list;
  list.header().ints({1});
  expect_error([&] { open(list); }, "idx", {"expected a list"}, 23);
}

TEST(RdataHostile, CompressionTypeBytes) {
  std::vector<std::byte> rdb = u32be(16);
  for (char t : {'2', 'Z', 'Q'}) {
    SCOPED_TRACE(t);
    std::vector<std::byte> b = rdb;
    b.push_back(static_cast<std::byte>(t));
    b.resize(40, std::byte{1});
    const X idx = index_stream({{"x", {0, 40}}}, kInt, 3);
    const RLazyLoadDb db = RLazyLoadDb::parse(idx.b, b, "idx", "db");
    const std::string what = t == '2' ? "bzip2" : t == 'Z' ? "xz" : "unknown compression type byte 0x51";
    expect_error([&] { db.get("x"); }, "db['x']", {what}, 4);
  }
  // a stored object whose declared length disagrees with the blob
  std::vector<std::byte> b = u32be(99);
  b.push_back(std::byte{'0'});
  b.resize(30, std::byte{0});
  const X idx = index_stream({{"x", {0, 30}}}, kInt, 2);
  expect_error([&] { RLazyLoadDb::parse(idx.b, b, "idx", "db").get("x"); }, "db['x']", {"declares 99"}, 0);
  // shorter than the header
  const X tiny = index_stream({{"x", {0, 3}}}, kLgl, 1);
  expect_error([&] { RLazyLoadDb::parse(tiny.b, b, "idx", "db").get("x"); }, "db['x']", {"4-byte header"}, 0);
  // absent object
  expect_error_anywhere([&] { RLazyLoadDb::parse(tiny.b, b, "idx", "db").get("y"); }, {"db: no object 'y'"});
}

TEST(RdataHostile, CorruptGzipIndex) {
  const RealDb d = real_db();
  std::vector<std::byte> bad = d.rdx;
  bad[bad.size() / 2] ^= std::byte{0xff};
  expect_error([&] { RLazyLoadDb::parse(bad, d.rdb, "Rdata.rdx", "rdb"); }, "Rdata.rdx", {});
  std::vector<std::byte> trailing = d.rdx;
  trailing.push_back(std::byte{7});
  expect_error([&] { RLazyLoadDb::parse(trailing, d.rdb, "Rdata.rdx", "rdb"); }, "Rdata.rdx",
               {"1 bytes after the end"}, d.rdx.size());
  // Output beyond the limit is refused, not inflated (the guard against gzip bombs).
  const auto plain = r_gunzip(d.rdx, "x", RLazyLoadDb::kMaxIndexBytes);
  expect_error([&] { r_gunzip(d.rdx, "small", plain.size() - 1); }, "small", {"more than the limit"});
}

TEST(RdataHostile, DataDirectoryOverride) {
  const char* old = std::getenv("LOWBIT_AUSTEN_DIR");
  const std::string saved = old ? old : "";
  ::setenv("LOWBIT_AUSTEN_DIR", "/nonexistent/austen", 1);
  const std::string e = error_of([] { austen_data_dir(); });
  if (old) ::setenv("LOWBIT_AUSTEN_DIR", saved.c_str(), 1);
  else ::unsetenv("LOWBIT_AUSTEN_DIR");
  EXPECT_NE(e.find("LOWBIT_AUSTEN_DIR=/nonexistent/austen"), std::string::npos) << e;
  EXPECT_TRUE(fs::exists(austen_data_dir() / "Rdata.rdb"));
}

TEST(RdataCli, BadArgumentsFail) {
  const std::string cli = lowbit::testing::shell_quote(lowbit::testing::cli_path().string());
  const fs::path dir = lowbit::testing::scratch_dir();
  auto r = lowbit::testing::run_command(cli + " corpus austen --split train --out " +
                                        lowbit::testing::shell_quote((dir / "x.txt").string()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("unknown split 'train'"), std::string::npos) << r.output;
  r = lowbit::testing::run_command(cli + " corpus austen --split evaluation");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_FALSE(fs::exists(dir / "x.txt"));
  r = lowbit::testing::run_command(cli + " corpus austen --split evaluation --out " +
                                   lowbit::testing::shell_quote((dir / "missing-dir/x.txt").string()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("missing-dir"), std::string::npos) << r.output;
}
