// libFuzzer target for the R serialization decoder (parse_rds) and the lazy-load index
// logic: any input must decode or throw lowbit::Error. Decoded values are walked
// (names, character vectors); then the same bytes serve as an uncompressed .rdx index
// over themselves as the .rdb, so offsets, lengths and compression headers get fuzzed too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/rdata.h"

namespace {

[[noreturn]] void mismatch() { std::abort(); }

void walk(const lowbit::RValue& v, int depth) {
  if (depth > 200) mismatch();  // the decoder caps nesting at 128
  // length() must agree with the storage of the type.
  switch (v.type) {
    case lowbit::RType::Complex:
      if (v.reals.size() % 2) mismatch();
      break;
    case lowbit::RType::Pairlist:
      if (v.tags.size() != v.items.size()) mismatch();
      break;
    default:
      break;
  }
  if (v.attr_names.size() != v.attr_values.size()) mismatch();
  try {
    const auto n = v.names("fuzz");
    if (!n.empty() && n.size() != v.length()) mismatch();
  } catch (const lowbit::Error&) {
  }
  if (v.type == lowbit::RType::String) {
    try {
      const auto s = lowbit::r_character_vector(v, "fuzz");
      if (s.size() != v.strings.size()) mismatch();
    } catch (const lowbit::Error&) {
    }
  }
  for (const auto& i : v.items) walk(i, depth + 1);
  for (const auto& a : v.attr_values) walk(a, depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An exactly sized heap copy: one byte past it is an ASan report.
  std::vector<std::byte> bytes(size);
  if (size) std::memcpy(bytes.data(), data, size);
  try {
    const lowbit::RValue v = lowbit::parse_rds(bytes, "fuzz-input");
    walk(v, 0);
  } catch (const lowbit::Error&) {
  }
  try {
    const lowbit::RLazyLoadDb db = lowbit::RLazyLoadDb::parse(bytes, bytes, "fuzz-rdx", "fuzz-rdb");
    for (const auto& name : db.names()) {
      try {
        walk(db.get(name), 0);
      } catch (const lowbit::Error&) {
      }
    }
  } catch (const lowbit::Error&) {
  }
  return 0;
}
