// A small, validating decoder of R's serialization format (XDR binary, versions 2 and 3)
// and of R's lazy-load databases (Rdata.rdx + Rdata.rdb), enough to read the data sets
// R packages ship (here: Jane Austen's novels from janeaustenr) without R.
// Layout and limits: docs/formats.md, "R serialized data (Austen text)".
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {

// The R object kinds lowbit decodes. Anything else (closures, environments, bytecode,
// external pointers, ...) is refused with an error naming the type and offset.
enum class RType : std::uint8_t {
  Null,      // NILSXP / R_NilValue
  Symbol,    // SYMSXP: `symbol` holds the name
  Pairlist,  // LISTSXP: `items` with `tags` ("" where untagged)
  Logical,   // LGLSXP: `ints`, 0/1, NA = INT32_MIN
  Integer,   // INTSXP: `ints`, NA = INT32_MIN
  Real,      // REALSXP: `reals`
  Complex,   // CPLXSXP: `reals` as re,im pairs
  String,    // STRSXP: `strings`, always UTF-8; NA_character_ = nullopt
  List,      // VECSXP / EXPRSXP: `items`
  Raw,       // RAWSXP: `raw`
};

std::string_view rtype_name(RType t);

struct RValue {
  RType type = RType::Null;
  bool is_object = false;   // the OBJECT bit (a class attribute is present)
  std::size_t offset = 0;   // byte offset of the object's flags in the serialized stream
  std::string symbol;
  std::vector<std::int32_t> ints;
  std::vector<double> reals;
  std::vector<std::optional<std::string>> strings;
  std::vector<std::byte> raw;
  std::vector<RValue> items;
  std::vector<std::string> tags;
  // Attributes in stored order (names, class, dim, ...).
  std::vector<std::string> attr_names;
  std::vector<RValue> attr_values;

  std::size_t length() const;
  const RValue* attribute(std::string_view name) const;
  // The "names" attribute (or a pairlist's tags); empty when there is none. Throws when
  // the names are not a character vector of the right length or contain NA.
  std::vector<std::string> names(const std::string& source) const;
  // Element by name (List / Pairlist); nullptr when absent.
  const RValue* find(std::string_view name, const std::string& source) const;
};

// The contents of a character vector, refusing NA elements and other types. `source`
// names the stream for the error message (which also gives the vector's offset).
std::vector<std::string> r_character_vector(const RValue& v, const std::string& source);

// Decodes one serialized R object: the bytes R's serialize()/saveRDS() produce after
// any gzip/zlib layer is removed ("X\n" XDR format, version 2 or 3; a "RDX2\n"/"RDX3\n"
// save() prefix is skipped). Every length, reference and nesting level is checked;
// malformed input throws lowbit::Error naming `source` and the byte offset.
RValue parse_rds(std::span<const std::byte> bytes, const std::string& source);

// Inflates a gzip (or zlib) stream, refusing outputs over `max_bytes`.
std::vector<std::byte> r_gunzip(std::span<const std::byte> bytes, const std::string& source, std::size_t max_bytes);

// R's lazy-load database: Rdata.rdx (gzip'd serialized index: variables -> (offset,
// length) in Rdata.rdb) and Rdata.rdb (per object: 4-byte big-endian uncompressed length,
// then a zlib stream, or for compress = 2/3 a type byte first: '0' stored, '1' zlib,
// '2' bzip2, 'Z' xz; only stored and zlib are decoded).
class RLazyLoadDb {
 public:
  // Reads `dir`/Rdata.rdx and `dir`/Rdata.rdb.
  static RLazyLoadDb open(const std::filesystem::path& dir);
  // The same from memory: `rdx` is the (gzip-compressed) index file, `rdb` the database;
  // `rdx_source`/`rdb_source` name them in errors.
  static RLazyLoadDb parse(std::span<const std::byte> rdx, std::vector<std::byte> rdb, std::string rdx_source,
                           std::string rdb_source);

  std::vector<std::string> names() const;
  bool contains(std::string_view name) const;
  // Decompresses and decodes one object; throws when it is absent or malformed.
  RValue get(std::string_view name) const;

  // Largest decompressed .rdx accepted and largest declared object size in the .rdb.
  static constexpr std::size_t kMaxIndexBytes = std::size_t{64} << 20;
  // (janeaustenr's largest object inflates to ~0.9 MB.)
  static constexpr std::size_t kMaxObjectBytes = std::size_t{64} << 20;

 private:
  struct Entry {
    std::string name;
    std::uint64_t offset = 0, length = 0;
  };
  std::string rdx_source_, rdb_source_;
  int compression_ = 1;  // R's `compress` argument: 1 zlib, 2 bzip2, 3 xz (type byte)
  std::vector<Entry> entries_;
  std::vector<std::byte> rdb_;
};

}  // namespace lowbit
