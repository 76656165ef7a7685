// Decoder of R's XDR serialization (versions 2 and 3) and of R lazy-load databases, as
// R's src/main/serialize.c (ReadItem) and do_lazyLoadDBfetch define them. Every length,
// reference and nesting level is checked before use; errors name the source and the
// byte offset. Layout: docs/formats.md, "R serialized data (Austen text)".
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <set>

#include "lowbit/error.h"
#include "lowbit/rdata.h"
#include "lowbit/safetensors.h"  // first_invalid_utf8

namespace lowbit {

namespace {

// SEXPTYPE codes (Rinternals.h) and the pseudo-types only the serializer uses.
enum : int {
  kNilSxp = 0,
  kSymSxp = 1,
  kListSxp = 2,
  kCloSxp = 3,
  kEnvSxp = 4,
  kPromSxp = 5,
  kLangSxp = 6,
  kSpecialSxp = 7,
  kBuiltinSxp = 8,
  kCharSxp = 9,
  kLglSxp = 10,
  kIntSxp = 13,
  kRealSxp = 14,
  kCplxSxp = 15,
  kStrSxp = 16,
  kDotSxp = 17,
  kVecSxp = 19,
  kExprSxp = 20,
  kBcodeSxp = 21,
  kExtptrSxp = 22,
  kWeakrefSxp = 23,
  kRawSxp = 24,
  kObjSxp = 25,
  kAltrepSxp = 238,
  kAttrListSxp = 239,
  kAttrLangSxp = 240,
  kBaseEnvSxp = 241,
  kEmptyEnvSxp = 242,
  kBcRepRef = 243,
  kBcRepDef = 244,
  kGenericRefSxp = 245,
  kClassRefSxp = 246,
  kPersistSxp = 247,
  kPackageSxp = 248,
  kNamespaceSxp = 249,
  kBaseNamespaceSxp = 250,
  kMissingArgSxp = 251,
  kUnboundValueSxp = 252,
  kGlobalEnvSxp = 253,
  kNilValueSxp = 254,
  kRefSxp = 255,
};

// Flag word: bits 0-7 type, 8 is-object, 9 has-attributes, 10 has-tag, 12-27 "levels"
// (the gp field; for CHARSXP the encoding bits below).
constexpr std::uint32_t kIsObjectBit = 1u << 8;
constexpr std::uint32_t kHasAttrBit = 1u << 9;
constexpr std::uint32_t kHasTagBit = 1u << 10;
constexpr std::uint32_t kBytesMask = 1u << 1;
constexpr std::uint32_t kLatin1Mask = 1u << 2;
constexpr std::uint32_t kUtf8Mask = 1u << 3;
constexpr std::uint32_t kAsciiMask = 1u << 6;

// Objects nest this deep at most; R's own data sets use 3-4 levels. Bounds the recursion
// (pairlist chains are read iteratively and do not count).
constexpr int kMaxDepth = 128;
// R_CODESET_MAX: the longest native-encoding name a version-3 header carries.
constexpr std::int32_t kMaxEncodingName = 63;
// Decoded size budget: base + factor x input bytes (see Reader's constructor).
constexpr std::size_t kBudgetBase = std::size_t{64} << 20;
constexpr std::size_t kBudgetPerInputByte = 8;

const char* sexp_name(int t) {
  switch (t) {
    case kNilSxp: return "NILSXP";
    case kSymSxp: return "SYMSXP";
    case kListSxp: return "LISTSXP";
    case kCloSxp: return "CLOSXP (closure)";
    case kEnvSxp: return "ENVSXP (environment)";
    case kPromSxp: return "PROMSXP (promise)";
    case kLangSxp: return "LANGSXP (call)";
    case kSpecialSxp: return "SPECIALSXP";
    case kBuiltinSxp: return "BUILTINSXP";
    case kCharSxp: return "CHARSXP";
    case kLglSxp: return "LGLSXP";
    case kIntSxp: return "INTSXP";
    case kRealSxp: return "REALSXP";
    case kCplxSxp: return "CPLXSXP";
    case kStrSxp: return "STRSXP";
    case kDotSxp: return "DOTSXP";
    case kVecSxp: return "VECSXP";
    case kExprSxp: return "EXPRSXP";
    case kBcodeSxp: return "BCODESXP (bytecode)";
    case kExtptrSxp: return "EXTPTRSXP (external pointer)";
    case kWeakrefSxp: return "WEAKREFSXP";
    case kRawSxp: return "RAWSXP";
    case kObjSxp: return "OBJSXP (S4 object)";
    case kAltrepSxp: return "ALTREP_SXP";
    case kAttrListSxp: return "ATTRLISTSXP";
    case kAttrLangSxp: return "ATTRLANGSXP";
    case kBaseEnvSxp: return "BASEENV_SXP";
    case kEmptyEnvSxp: return "EMPTYENV_SXP";
    case kBcRepRef: return "BCREPREF";
    case kBcRepDef: return "BCREPDEF";
    case kGenericRefSxp: return "GENERICREFSXP";
    case kClassRefSxp: return "CLASSREFSXP";
    case kPersistSxp: return "PERSISTSXP";
    case kPackageSxp: return "PACKAGESXP";
    case kNamespaceSxp: return "NAMESPACESXP";
    case kBaseNamespaceSxp: return "BASENAMESPACE_SXP";
    case kMissingArgSxp: return "MISSINGARG_SXP";
    case kUnboundValueSxp: return "UNBOUNDVALUE_SXP";
    case kGlobalEnvSxp: return "GLOBALENV_SXP";
    case kNilValueSxp: return "NILVALUE_SXP";
    case kRefSxp: return "REFSXP";
    default: return "unknown SEXP type";
  }
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string hex_byte(unsigned char u) {
  static const char* digits = "0123456789abcdef";
  return {digits[u >> 4], digits[u & 15]};
}

std::string lower(std::string_view e) {
  std::string l(e);
  for (char& c : l)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return l;
}

bool is_latin1_name(std::string_view e) {
  const std::string l = lower(e);
  return l == "latin1" || l == "iso-8859-1" || l == "iso8859-1" || l == "iso_8859-1" || l == "latin-1";
}

bool is_utf8_name(std::string_view e) {
  const std::string l = lower(e);
  return l == "utf-8" || l == "utf8";
}

// The pairlist cells of one LISTSXP chain (iterative, so long pairlists cost no stack).
struct Cells {
  std::vector<RValue> items;
  std::vector<std::string> tags;
  std::unique_ptr<RValue> tail;  // a dotted pair's final CDR (only where allowed)
  std::vector<std::string> attr_names;
  std::vector<RValue> attr_values;
};

class Reader {
 public:
  Reader(std::span<const std::byte> b, const std::string& source) : b_(b), source_(source) {
    // Lengths are checked against the bytes left, but decoding still expands: a 4-byte
    // NULL becomes a whole RValue node, a reference copies a symbol's name, an ALTREP
    // sequence is three doubles. Every node, string and element is charged to this
    // budget, so memory stays linear in the input with a small factor.
    budget_ = kBudgetBase + kBudgetPerInputByte * b.size();
  }

  RValue parse() {
    read_header();
    RValue v = item(0);
    if (pos_ != b_.size()) bad(pos_, b_.size() - pos_, " trailing bytes after the serialized object");
    return v;
  }

 private:
  template <typename... Parts>
  [[noreturn]] void bad(std::size_t at, Parts&&... parts) const {
    fail(source_, ": offset ", at, ": ", std::forward<Parts>(parts)...);
  }

  std::size_t remaining() const { return b_.size() - pos_; }

  void need(std::size_t n, const char* what) const {
    if (n > remaining())
      bad(pos_, "truncated: ", what, " needs ", n, " bytes, ", remaining(), " left (stream is ", b_.size(),
          " bytes)");
  }

  std::uint32_t u32(const char* what) {
    need(4, what);
    const auto* p = reinterpret_cast<const unsigned char*>(b_.data() + pos_);
    pos_ += 4;
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
  }
  std::int32_t i32(const char* what) { return static_cast<std::int32_t>(u32(what)); }
  double f64(const char* what) {
    need(8, what);
    const auto* p = reinterpret_cast<const unsigned char*>(b_.data() + pos_);
    std::uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u = (u << 8) | p[i];
    pos_ += 8;
    return std::bit_cast<double>(u);
  }

  void spend(std::size_t bytes, std::size_t at, const char* what) {
    if (bytes > budget_)
      bad(at, what, " would expand past the decoder's output budget (64 MiB + ", kBudgetPerInputByte,
          " x the input size)");
    budget_ -= bytes;
  }

  void read_header() {
    if (b_.size() >= 2 && b_[0] == std::byte{0x1f} && b_[1] == std::byte{0x8b})
      bad(0, "gzip-compressed data (decompress it before decoding the serialized object)");
    // save() files put a 5-byte "RDX2\n"/"RDX3\n" in front of the same stream.
    if (b_.size() >= 5 && std::memcmp(b_.data(), "RDX", 3) == 0 && (b_[3] == std::byte{'2'} || b_[3] == std::byte{'3'}) &&
        b_[4] == std::byte{'\n'})
      pos_ = 5;
    else if (b_.size() >= 5 && std::memcmp(b_.data(), "RD", 2) == 0 && b_[4] == std::byte{'\n'})
      bad(0, "save() file in ascii or native binary format (only XDR \"RDX2\"/\"RDX3\" is supported)");
    need(2, "format magic");
    const char f0 = static_cast<char>(b_[pos_]), f1 = static_cast<char>(b_[pos_ + 1]);
    if (f1 == '\n' && f0 == 'A')
      bad(pos_, "ascii serialization format (\"A\\n\"); only XDR binary (\"X\\n\") is supported");
    if (f1 == '\n' && f0 == 'B')
      bad(pos_, "native binary serialization format (\"B\\n\"); only XDR binary (\"X\\n\") is supported");
    if (f0 != 'X' || f1 != '\n')
      bad(pos_, "not R serialized data (expected format magic \"X\\n\", found bytes 0x",
          hex_byte(static_cast<unsigned char>(f0)), " 0x", hex_byte(static_cast<unsigned char>(f1)), ")");
    pos_ += 2;
    const std::size_t vat = pos_;
    version_ = i32("format version");
    if (version_ != 2 && version_ != 3) bad(vat, "unsupported serialization format version ", version_, " (2 or 3)");
    (void)u32("writer R version");
    (void)u32("minimal reader R version");
    if (version_ == 3) {
      const std::size_t at = pos_;
      const std::int32_t n = i32("native encoding length");
      if (n < 0 || n > kMaxEncodingName) bad(at, "native encoding name length ", n, " (0..", kMaxEncodingName, ")");
      need(static_cast<std::size_t>(n), "native encoding name");
      native_encoding_.assign(reinterpret_cast<const char*>(b_.data() + pos_), static_cast<std::size_t>(n));
      pos_ += static_cast<std::size_t>(n);
    }
  }

  // ReadLENGTH: an int, or -1 followed by two words for long vectors. The caller passes
  // how many input bytes each element needs at least, so a length the rest of the stream
  // cannot hold is refused before anything is allocated.
  std::size_t length(std::size_t min_bytes_per_element, const char* what) {
    const std::size_t at = pos_;
    const std::int32_t n = i32("vector length");
    std::uint64_t len;
    if (n == -1) {
      const std::uint64_t hi = u32("long vector length (high word)");
      const std::uint64_t lo = u32("long vector length (low word)");
      len = (hi << 32) | lo;
    } else if (n < 0) {
      bad(at, "negative ", what, " length ", n);
    } else {
      len = static_cast<std::uint64_t>(n);
    }
    if (min_bytes_per_element && len > remaining() / min_bytes_per_element)
      bad(at, what, " length ", len, " needs at least ", min_bytes_per_element, " bytes per element, only ",
          remaining(), " bytes left");
    return static_cast<std::size_t>(len);
  }

  RValue item(int depth) {
    const std::size_t at = pos_;
    const std::uint32_t flags = u32("object flags");
    return item_with_flags(flags, at, depth);
  }

  RValue item_with_flags(std::uint32_t flags, std::size_t at, int depth) {
    if (depth > kMaxDepth) bad(at, "objects nested deeper than ", kMaxDepth, " levels");
    spend(sizeof(RValue), at, "decoded object tree");
    const int type = static_cast<int>(flags & 0xFF);
    const bool has_attr = flags & kHasAttrBit;
    RValue v;
    v.offset = at;
    v.is_object = flags & kIsObjectBit;
    switch (type) {
      case kNilValueSxp:
      case kNilSxp:
        return v;
      case kRefSxp: {
        std::uint32_t index = flags >> 8;
        if (index == 0) index = u32("reference index");
        if (index == 0 || index > refs_.size())
          bad(at, "reference index ", index, " out of range (the reference table has ", refs_.size(), " entries)");
        const std::string& name = refs_[index - 1];
        spend(name.size(), at, "reference");
        v.type = RType::Symbol;
        v.symbol = name;
        return v;
      }
      case kSymSxp: {
        const std::size_t cat = pos_;
        const std::uint32_t cflags = u32("symbol name flags");
        if ((cflags & 0xFF) != kCharSxp)
          bad(cat, "symbol name is a ", sexp_name(static_cast<int>(cflags & 0xFF)), ", expected CHARSXP");
        std::optional<std::string> name = charsxp(cflags, cat, depth + 1);
        if (!name) bad(cat, "symbol name is NA");
        v.type = RType::Symbol;
        v.symbol = std::move(*name);
        refs_.push_back(v.symbol);  // symbols enter the reference table as they are read
        return v;
      }
      case kListSxp:
      case kAttrListSxp: {
        Cells c = cells(flags, depth, false);
        v.type = RType::Pairlist;
        v.items = std::move(c.items);
        v.tags = std::move(c.tags);
        v.attr_names = std::move(c.attr_names);
        v.attr_values = std::move(c.attr_values);
        return v;
      }
      case kLglSxp:
      case kIntSxp: {
        const std::size_t n = length(4, type == kLglSxp ? "logical vector" : "integer vector");
        v.type = type == kLglSxp ? RType::Logical : RType::Integer;
        spend(4 * n, at, "vector");
        v.ints.resize(n);
        for (std::size_t i = 0; i < n; ++i) v.ints[i] = i32("vector element");
        break;
      }
      case kRealSxp: {
        const std::size_t n = length(8, "double vector");
        v.type = RType::Real;
        spend(8 * n, at, "vector");
        v.reals.resize(n);
        for (std::size_t i = 0; i < n; ++i) v.reals[i] = f64("vector element");
        break;
      }
      case kCplxSxp: {
        const std::size_t n = length(16, "complex vector");
        v.type = RType::Complex;
        spend(16 * n, at, "vector");
        v.reals.resize(2 * n);
        for (std::size_t i = 0; i < 2 * n; ++i) v.reals[i] = f64("vector element");
        break;
      }
      case kRawSxp: {
        const std::size_t n = length(1, "raw vector");
        v.type = RType::Raw;
        spend(n, at, "vector");
        v.raw.assign(b_.begin() + static_cast<std::ptrdiff_t>(pos_), b_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
        pos_ += n;
        break;
      }
      case kStrSxp: {
        // Each element is a CHARSXP: 4 flag bytes + 4 length bytes at least.
        const std::size_t n = length(8, "character vector");
        v.type = RType::String;
        spend(sizeof(std::optional<std::string>) * n, at, "character vector");
        v.strings.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
          const std::size_t cat = pos_;
          const std::uint32_t cflags = u32("string element flags");
          if ((cflags & 0xFF) != kCharSxp)
            bad(cat, "element ", i, " of a character vector is a ", sexp_name(static_cast<int>(cflags & 0xFF)),
                ", expected CHARSXP");
          v.strings.push_back(charsxp(cflags, cat, depth + 1));
        }
        break;
      }
      case kVecSxp:
      case kExprSxp: {
        const std::size_t n = length(4, "list");
        v.type = RType::List;
        v.items.reserve(n);
        for (std::size_t i = 0; i < n; ++i) v.items.push_back(item(depth + 1));
        break;
      }
      case kAltrepSxp:
        return altrep(at, depth);
      case kCharSxp:
        bad(at, "CHARSXP outside a character vector or symbol");
      default:
        bad(at, "unsupported R object type ", type, " (", sexp_name(type), "); lowbit decodes data vectors, lists, ",
            "pairlists and symbols only");
    }
    if (has_attr) attributes(v, depth);
    return v;
  }

  // One CHARSXP after its flags: length (-1 = NA_STRING), bytes, returned as UTF-8.
  std::optional<std::string> charsxp(std::uint32_t flags, std::size_t at, int depth) {
    const std::size_t lat = pos_;
    const std::int32_t n = i32("string length");
    std::optional<std::string> out;
    if (n == -1) {
      // NA_STRING
    } else if (n < 0) {
      bad(lat, "negative string length ", n);
    } else {
      need(static_cast<std::size_t>(n), "string bytes");
      std::string_view raw(reinterpret_cast<const char*>(b_.data() + pos_), static_cast<std::size_t>(n));
      const std::size_t sat = pos_;
      pos_ += static_cast<std::size_t>(n);
      out = to_utf8(raw, flags >> 12, sat);
      spend(out->size(), at, "string");
    }
    // R reads and drops a CHARSXP's attributes (old writers stored the cache chain there).
    if (flags & kHasAttrBit) {
      RValue ignored = item(depth + 1);
      if (ignored.type != RType::Pairlist && ignored.type != RType::Null)
        bad(at, "string attributes are a ", rtype_name(ignored.type), ", expected a pairlist");
    }
    return out;
  }

  std::string to_utf8(std::string_view raw, std::uint32_t levels, std::size_t at) const {
    auto must_be_utf8 = [&](const char* why) {
      if (auto i = first_invalid_utf8(raw)) bad(at + *i, "string ", why, " is not valid UTF-8");
      return std::string(raw);
    };
    if (levels & kUtf8Mask) return must_be_utf8("marked UTF-8");
    if (levels & kLatin1Mask) return latin1_to_utf8(raw);
    if (levels & kAsciiMask) {
      for (std::size_t i = 0; i < raw.size(); ++i)
        if (static_cast<unsigned char>(raw[i]) >= 0x80) bad(at + i, "string marked ASCII has a byte >= 0x80");
      return std::string(raw);
    }
    if (levels & kBytesMask) return must_be_utf8("marked \"bytes\"");
    // Native encoding: the header names it (version 3); version 2 streams do not, and
    // R's writers of the last decade run in UTF-8 locales.
    if (is_latin1_name(native_encoding_)) return latin1_to_utf8(raw);
    if (native_encoding_.empty() || is_utf8_name(native_encoding_)) return must_be_utf8("in the native encoding");
    for (std::size_t i = 0; i < raw.size(); ++i)
      if (static_cast<unsigned char>(raw[i]) >= 0x80)
        bad(at + i, "non-ASCII string in native encoding \"", native_encoding_, "\" (only UTF-8 and latin1 are supported)");
    return std::string(raw);
  }

  // A LISTSXP chain: [attributes] [tag] CAR, then CDR: another cell, NILVALUE_SXP, or
  // (allow_dotted only) any other object ending a dotted pair.
  Cells cells(std::uint32_t flags, int depth, bool allow_dotted) {
    Cells c;
    bool first = true;
    for (;;) {
      const int type = static_cast<int>(flags & 0xFF);
      if ((flags & kHasAttrBit) || type == kAttrListSxp) {
        RValue a;
        attributes(a, depth);
        // Attributes belong to the cell; only the head cell's are the pairlist's own.
        if (first) {
          c.attr_names = std::move(a.attr_names);
          c.attr_values = std::move(a.attr_values);
        }
      }
      std::string tag;
      if (flags & kHasTagBit) {
        const std::size_t tat = pos_;
        RValue t = item(depth + 1);
        if (t.type != RType::Symbol) bad(tat, "pairlist tag is a ", rtype_name(t.type), ", expected a symbol");
        tag = std::move(t.symbol);
      }
      c.items.push_back(item(depth + 1));
      c.tags.push_back(std::move(tag));
      first = false;
      const std::size_t cat = pos_;
      const std::uint32_t next = u32("pairlist CDR flags");
      const int nt = static_cast<int>(next & 0xFF);
      if (nt == kNilValueSxp || nt == kNilSxp) break;
      if (nt == kListSxp || nt == kAttrListSxp) {
        flags = next;
        continue;
      }
      if (!allow_dotted)
        bad(cat, "pairlist ends in a ", sexp_name(nt), " instead of NULL (dotted pairs are not supported here)");
      c.tail = std::make_unique<RValue>(item_with_flags(next, cat, depth + 1));
      break;
    }
    return c;
  }

  void attributes(RValue& v, int depth) {
    const std::size_t at = pos_;
    RValue a = item(depth + 1);
    if (a.type != RType::Pairlist) bad(at, "attributes are a ", rtype_name(a.type), ", expected a pairlist");
    for (std::size_t i = 0; i < a.items.size(); ++i) {
      if (a.tags[i].empty()) bad(at, "attribute ", i, " has no name");
      v.attr_names.push_back(std::move(a.tags[i]));
      v.attr_values.push_back(std::move(a.items[i]));
    }
  }

  // ALTREP_SXP (version 3): info pairlist (class symbol, package symbol, type), state,
  // attributes. R writes compact sequences (1:n), wrappers and deferred strings this way
  // when their class can serialize its state; they are expanded here to plain vectors.
  RValue altrep(std::size_t at, int depth) {
    const std::size_t iat = pos_;
    RValue info = item(depth + 1);
    if (info.type != RType::Pairlist || info.items.size() < 3 || info.items[0].type != RType::Symbol)
      bad(iat, "ALTREP class information is not a pairlist (class, package, type)");
    const std::string cls = info.items[0].symbol;
    const std::size_t sat = pos_;
    RValue state;
    {
      const std::uint32_t sflags = u32("ALTREP state flags");
      const int st = static_cast<int>(sflags & 0xFF);
      if (st == kListSxp) {
        Cells c = cells(sflags, depth + 1, true);
        state.type = RType::Pairlist;
        state.offset = sat;
        state.items = std::move(c.items);
        state.tags = std::move(c.tags);  // a dotted tail (wrapper meta, string info) is unused
      } else {
        state = item_with_flags(sflags, sat, depth + 1);
      }
    }
    RValue attr;
    {
      const std::size_t aat = pos_;
      RValue a = item(depth + 1);
      if (a.type == RType::Pairlist) {
        for (std::size_t i = 0; i < a.items.size(); ++i) {
          if (a.tags[i].empty()) bad(aat, "attribute ", i, " has no name");
          attr.attr_names.push_back(std::move(a.tags[i]));
          attr.attr_values.push_back(std::move(a.items[i]));
        }
      } else if (a.type != RType::Null) {
        bad(aat, "ALTREP attributes are a ", rtype_name(a.type), ", expected a pairlist");
      }
    }

    RValue v;
    if (cls == "compact_intseq" || cls == "compact_realseq") {
      // state: (length, first value, increment) as doubles (integers in R 3.5).
      std::vector<double> s;
      if (state.type == RType::Real) s = state.reals;
      if (state.type == RType::Integer)
        for (std::int32_t x : state.ints) s.push_back(x);
      if (s.size() != 3) bad(sat, cls, " state is not (length, start, increment)");
      const double n = s[0], n1 = s[1], inc = s[2];
      if (!(n >= 0 && n <= 4503599627370496.0) || n != std::floor(n))
        bad(sat, cls, " length ", n, " is not a non-negative integer");
      const bool ints = cls == "compact_intseq";
      const auto count = static_cast<std::size_t>(n);
      if (count > budget_ / (ints ? 4 : 8)) bad(sat, cls, " of length ", count, " exceeds the decoder's output budget");
      spend(count * (ints ? 4 : 8), sat, cls.c_str());
      if (ints) {
        if (inc != 1 && inc != -1) bad(sat, cls, " increment ", inc, " (R uses 1 or -1)");
        const double last = count ? n1 + inc * static_cast<double>(count - 1) : n1;
        const double lo = -2147483647.0, hi = 2147483647.0;  // INT_MIN is NA
        if (!(n1 >= lo && n1 <= hi && last >= lo && last <= hi) || n1 != std::floor(n1))
          bad(sat, cls, " values leave the integer range");
        v.type = RType::Integer;
        v.ints.resize(count);
        for (std::size_t i = 0; i < count; ++i)
          v.ints[i] = static_cast<std::int32_t>(n1 + inc * static_cast<double>(i));
      } else {
        v.type = RType::Real;
        v.reals.resize(count);
        for (std::size_t i = 0; i < count; ++i) v.reals[i] = n1 + inc * static_cast<double>(i);
      }
    } else if (cls.rfind("wrap_", 0) == 0) {
      // state: CONS(x, meta); the wrapper only caches sortedness, x is the data.
      if (state.type != RType::Pairlist || state.items.empty()) bad(sat, cls, " state is not (x . meta)");
      v = std::move(state.items[0]);
    } else if (cls == "deferred_string") {
      // state: CONS(arg, info); as.character(arg) computed lazily. Integers format as
      // plain decimals; doubles need R's 15-significant-digit formatting, not done here.
      if (state.type != RType::Pairlist || state.items.empty()) bad(sat, cls, " state is not (arg . info)");
      const RValue& arg = state.items[0];
      if (arg.type != RType::Integer)
        bad(sat, "deferred_string of a ", rtype_name(arg.type), " vector is not supported (integers only)");
      spend(arg.ints.size() * 48, sat, cls.c_str());
      v.type = RType::String;
      v.strings.reserve(arg.ints.size());
      for (std::int32_t x : arg.ints) {
        if (x == std::numeric_limits<std::int32_t>::min())
          v.strings.emplace_back(std::nullopt);
        else
          v.strings.emplace_back(std::to_string(x));
      }
    } else {
      bad(at, "unsupported ALTREP class \"", cls, "\"");
    }
    v.offset = at;
    v.is_object = false;
    v.attr_names = std::move(attr.attr_names);
    v.attr_values = std::move(attr.attr_values);
    return v;
  }

  std::span<const std::byte> b_;
  const std::string& source_;
  std::size_t pos_ = 0;
  std::size_t budget_ = 0;
  int version_ = 0;
  std::string native_encoding_;
  std::vector<std::string> refs_;
};

// zlib inflate of `in` into exactly `expected` bytes (rdb objects declare their size) or,
// when the size is unknown (the gzip'd index), into at most `max_bytes`. window_bits 15 =
// zlib stream, 15 + 32 = gzip or zlib detected from the header. The output grows in
// steps, so a corrupt stream never triggers one huge allocation.
std::vector<std::byte> inflate_stream(std::span<const std::byte> in, const std::string& source, std::size_t base_offset,
                                      int window_bits, std::optional<std::size_t> expected, std::size_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) fail(source, ": zlib initialisation failed");
  struct Guard {
    z_stream* z;
    ~Guard() { inflateEnd(z); }
  } guard{&zs};

  const std::size_t limit = expected ? *expected : max_bytes;
  std::vector<std::byte> out(std::min<std::size_t>(limit, std::max<std::size_t>(4 * in.size(), 4096)));
  std::size_t produced = 0, consumed = 0;
  std::byte probe{};
  for (;;) {
    bool probing = false;
    if (produced == out.size()) {
      if (out.size() < limit) {
        out.resize(std::min(limit, 2 * out.size()));
      } else {
        probing = true;  // output complete: the stream must now end without more output
      }
    }
    // zlib counts in uInt: feed and drain at most 1 GiB per call.
    const std::size_t in_chunk = std::min<std::size_t>(in.size() - consumed, std::size_t{1} << 30);
    const std::size_t out_chunk = probing ? 1 : std::min<std::size_t>(out.size() - produced, std::size_t{1} << 30);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + consumed));
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = reinterpret_cast<Bytef*>(probing ? &probe : out.data() + produced);
    zs.avail_out = static_cast<uInt>(out_chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    consumed += in_chunk - zs.avail_in;
    const std::size_t got = out_chunk - zs.avail_out;
    if (probing && got)
      fail(source, ": offset ", base_offset + consumed, ": decompresses to more than ",
           expected ? "the declared " : "the limit of ", limit, " bytes");
    produced += got;
    if (rc == Z_STREAM_END) {
      // gzip allows several members back to back (R's gzfile reads them as one).
      if (!expected && in.size() - consumed >= 2 && in[consumed] == std::byte{0x1f} &&
          in[consumed + 1] == std::byte{0x8b}) {
        if (inflateReset(&zs) != Z_OK) fail(source, ": zlib reset failed");
        continue;
      }
      break;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && consumed == in.size())
      fail(source, ": offset ", base_offset + consumed, ": compressed stream is truncated");
    if (rc == Z_BUF_ERROR && !probing && produced == out.size()) continue;
    fail(source, ": offset ", base_offset + consumed, ": corrupt compressed data (zlib: ", zs.msg ? zs.msg : zError(rc),
         ")");
  }
  if (consumed != in.size())
    fail(source, ": offset ", base_offset + consumed, ": ", in.size() - consumed,
         " bytes after the end of the compressed stream");
  if (expected && produced != *expected)
    fail(source, ": offset ", base_offset, ": decompresses to ", produced, " bytes, the header declares ", *expected);
  out.resize(produced);
  return out;
}

std::vector<std::byte> read_whole(const std::filesystem::path& p, std::size_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(p, ec);
  if (ec) fail(p.string(), ": cannot read: ", ec.message());
  if (size > max_bytes) fail(p.string(), ": ", size, " bytes, more than the limit of ", max_bytes);
  std::ifstream f(p, std::ios::binary);
  if (!f) fail(p.string(), ": cannot open");
  std::vector<std::byte> out(static_cast<std::size_t>(size));
  f.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size));
  if (static_cast<std::uint64_t>(f.gcount()) != size) fail(p.string(), ": short read");
  return out;
}

}  // namespace

std::string_view rtype_name(RType t) {
  switch (t) {
    case RType::Null: return "NULL";
    case RType::Symbol: return "symbol";
    case RType::Pairlist: return "pairlist";
    case RType::Logical: return "logical";
    case RType::Integer: return "integer";
    case RType::Real: return "double";
    case RType::Complex: return "complex";
    case RType::String: return "character";
    case RType::List: return "list";
    case RType::Raw: return "raw";
  }
  return "?";
}

std::size_t RValue::length() const {
  switch (type) {
    case RType::Null: return 0;
    case RType::Symbol: return 1;
    case RType::Pairlist:
    case RType::List: return items.size();
    case RType::Logical:
    case RType::Integer: return ints.size();
    case RType::Real: return reals.size();
    case RType::Complex: return reals.size() / 2;
    case RType::String: return strings.size();
    case RType::Raw: return raw.size();
  }
  return 0;
}

const RValue* RValue::attribute(std::string_view name) const {
  for (std::size_t i = 0; i < attr_names.size(); ++i)
    if (attr_names[i] == name) return &attr_values[i];
  return nullptr;
}

std::vector<std::string> RValue::names(const std::string& source) const {
  if (type == RType::Pairlist) {
    bool any = false;
    for (const auto& t : tags) any = any || !t.empty();
    if (any) return tags;
  }
  const RValue* n = attribute("names");
  if (!n) return {};
  if (n->type != RType::String)
    fail(source, ": offset ", n->offset, ": names attribute is ", rtype_name(n->type), ", expected character");
  if (n->strings.size() != length())
    fail(source, ": offset ", n->offset, ": ", n->strings.size(), " names for ", length(), " elements");
  return r_character_vector(*n, source);
}

const RValue* RValue::find(std::string_view name, const std::string& source) const {
  if (type != RType::List && type != RType::Pairlist) return nullptr;
  const std::vector<std::string> n = names(source);
  for (std::size_t i = 0; i < n.size(); ++i)
    if (n[i] == name) return &items[i];
  return nullptr;
}

std::vector<std::string> r_character_vector(const RValue& v, const std::string& source) {
  if (v.type != RType::String)
    fail(source, ": offset ", v.offset, ": expected a character vector, found ", rtype_name(v.type));
  std::vector<std::string> out;
  out.reserve(v.strings.size());
  for (std::size_t i = 0; i < v.strings.size(); ++i) {
    if (!v.strings[i]) fail(source, ": offset ", v.offset, ": element ", i, " of the character vector is NA");
    out.push_back(*v.strings[i]);
  }
  return out;
}

RValue parse_rds(std::span<const std::byte> bytes, const std::string& source) {
  return Reader(bytes, source).parse();
}

std::vector<std::byte> r_gunzip(std::span<const std::byte> bytes, const std::string& source, std::size_t max_bytes) {
  return inflate_stream(bytes, source, 0, 15 + 32, std::nullopt, max_bytes);
}

RLazyLoadDb RLazyLoadDb::open(const std::filesystem::path& dir) {
  const std::filesystem::path rdx = dir / "Rdata.rdx", rdb = dir / "Rdata.rdb";
  // The compressed index is tiny; 64 MiB of it is already absurd.
  const std::vector<std::byte> index = read_whole(rdx, kMaxIndexBytes);
  std::vector<std::byte> data = read_whole(rdb, std::size_t{1} << 34);
  return parse(index, std::move(data), rdx.string(), rdb.string());
}

RLazyLoadDb RLazyLoadDb::parse(std::span<const std::byte> rdx, std::vector<std::byte> rdb, std::string rdx_source,
                               std::string rdb_source) {
  RLazyLoadDb db;
  db.rdx_source_ = std::move(rdx_source);
  db.rdb_source_ = std::move(rdb_source);
  db.rdb_ = std::move(rdb);

  // makeLazyLoadDB writes the index with saveRDS (gzip); an uncompressed one is accepted.
  std::vector<std::byte> plain;
  std::string src = db.rdx_source_;
  if (rdx.size() >= 2 && rdx[0] == std::byte{0x1f} && rdx[1] == std::byte{0x8b}) {
    plain = r_gunzip(rdx, db.rdx_source_, kMaxIndexBytes);
    rdx = plain;
    src += " (decompressed)";
  }
  const RValue index = parse_rds(rdx, src);
  if (index.type != RType::List) fail(src, ": offset ", index.offset, ": index is ", rtype_name(index.type), ", expected a list");
  const RValue* vars = index.find("variables", src);
  if (!vars) fail(src, ": offset ", index.offset, ": index has no 'variables' element");
  if (vars->type != RType::List)
    fail(src, ": offset ", vars->offset, ": 'variables' is ", rtype_name(vars->type), ", expected a list");
  const std::vector<std::string> names = vars->names(src);
  if (names.size() != vars->items.size())
    fail(src, ": offset ", vars->offset, ": 'variables' has ", vars->items.size(), " entries but no names");

  const RValue* comp = index.find("compressed", src);
  if (!comp) fail(src, ": offset ", index.offset, ": index has no 'compressed' element");
  if ((comp->type != RType::Logical && comp->type != RType::Integer) || comp->ints.size() != 1)
    fail(src, ": offset ", comp->offset, ": 'compressed' is not a single logical or integer");
  db.compression_ = comp->ints[0];
  if (db.compression_ < 0 || db.compression_ > 3)
    fail(src, ": offset ", comp->offset, ": 'compressed' is ", db.compression_, " (R writes FALSE, TRUE, 2 or 3)");

  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const RValue& key = vars->items[i];
    const std::string& name = names[i];
    if (name.empty()) fail(src, ": offset ", vars->offset, ": variable ", i, " has an empty name");
    if (!seen.insert(name).second) fail(src, ": offset ", vars->offset, ": variable '", name, "' appears twice");
    double off = -1, len = -1;
    if (key.type == RType::Integer && key.ints.size() == 2) {
      off = key.ints[0] == std::numeric_limits<std::int32_t>::min() ? -1 : key.ints[0];
      len = key.ints[1] == std::numeric_limits<std::int32_t>::min() ? -1 : key.ints[1];
    } else if (key.type == RType::Real && key.reals.size() == 2) {
      off = key.reals[0], len = key.reals[1];  // R switches to doubles past 2^31
    } else {
      fail(src, ": offset ", key.offset, ": key of variable '", name, "' is not an (offset, length) pair");
    }
    if (!(off >= 0 && len >= 0 && off == std::floor(off) && len == std::floor(len) && off <= 9.0e15 && len <= 9.0e15))
      fail(src, ": offset ", key.offset, ": variable '", name, "' has a bad (offset, length) (", off, ", ", len, ")");
    const auto o = static_cast<std::uint64_t>(off), l = static_cast<std::uint64_t>(len);
    if (o > db.rdb_.size() || l > db.rdb_.size() - o)
      fail(src, ": offset ", key.offset, ": variable '", name, "' at (offset ", o, ", length ", l, ") lies outside ",
           db.rdb_source_, " (", db.rdb_.size(), " bytes)");
    db.entries_.push_back({name, o, l});
  }
  return db;
}

std::vector<std::string> RLazyLoadDb::names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.name);
  return out;
}

bool RLazyLoadDb::contains(std::string_view name) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.name == name; });
}

RValue RLazyLoadDb::get(std::string_view name) const {
  const auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.name == name; });
  if (it == entries_.end()) {
    std::string have;
    for (const Entry& e : entries_) have += (have.empty() ? "" : ", ") + e.name;
    fail(rdb_source_, ": no object '", name, "' (the index lists: ", have, ")");
  }
  const std::string src = rdb_source_ + "['" + it->name + "']";
  const std::span<const std::byte> blob(rdb_.data() + it->offset, static_cast<std::size_t>(it->length));
  const std::size_t base = static_cast<std::size_t>(it->offset);
  if (compression_ == 0) return parse_rds(blob, src);

  // 4-byte big-endian uncompressed length, then (compress = 2/3) a type byte.
  const std::size_t header = compression_ == 1 ? 4 : 5;
  if (blob.size() < header)
    fail(src, ": offset ", base, ": object is ", blob.size(), " bytes, shorter than its ", header, "-byte header");
  const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
  const std::size_t ulen = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
  if (ulen > kMaxObjectBytes)
    fail(src, ": offset ", base, ": declared uncompressed size ", ulen, " exceeds the limit of ", kMaxObjectBytes);
  char type = '1';  // compress = TRUE: always zlib
  if (compression_ != 1) type = static_cast<char>(p[4]);
  const std::string dsrc = src + " (decompressed)";
  switch (type) {
    case '0': {
      if (blob.size() - header != ulen)
        fail(src, ": offset ", base, ": stored object is ", blob.size() - header, " bytes, the header declares ", ulen);
      return parse_rds(blob.subspan(header), dsrc);
    }
    case '1': {
      const std::vector<std::byte> plain = inflate_stream(blob.subspan(header), src, base + header, 15, ulen, ulen);
      return parse_rds(plain, dsrc);
    }
    case '2':
      fail(src, ": offset ", base + 4, ": bzip2-compressed object (type byte '2'); lowbit decodes zlib only");
    case 'Z':
      fail(src, ": offset ", base + 4, ": xz-compressed object (type byte 'Z'); lowbit decodes zlib only");
    default:
      fail(src, ": offset ", base + 4, ": unknown compression type byte 0x", hex_byte(p[4]),
           " (R writes '0' stored, '1' zlib, '2' bzip2, 'Z' xz)");
  }
}

}  // namespace lowbit
