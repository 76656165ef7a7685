// Unicode facts the tokenizers need (general categories, White_Space, case mapping, NFD),
// answered by ICU, plus UTF-8 decoding that never throws: both peers (llama.cpp and the
// `tokenizers` library) decide token boundaries from these properties, so they live here once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::model::uni {

// One code point of a text and where its bytes are. A byte that does not start a valid
// UTF-8 sequence becomes U+FFFD of length 1 (llama.cpp's rule), but `len` still points at
// the original byte so byte-level tokenizers can keep it.
struct Cp {
  char32_t cp;
  std::uint32_t off;
  std::uint32_t len;
};
std::vector<Cp> decode(std::string_view s);

void append_utf8(std::string& out, char32_t cp);
std::string to_utf8(char32_t cp);
// Code points of valid UTF-8 text (invalid bytes as U+FFFD, like decode()).
std::vector<char32_t> code_points(std::string_view s);

// General category groups, one bit each, plus White_Space.
inline constexpr std::uint16_t kLetter = 1 << 0;  // L*
inline constexpr std::uint16_t kNumber = 1 << 1;  // N*
inline constexpr std::uint16_t kPunct = 1 << 2;  // P*
inline constexpr std::uint16_t kSymbol = 1 << 3;  // S*
inline constexpr std::uint16_t kMark = 1 << 4;  // M*
inline constexpr std::uint16_t kSeparator = 1 << 5;  // Z*
inline constexpr std::uint16_t kControl = 1 << 6;  // Cc Cf Co Cs (llama.cpp's \p{C} without Cn)
inline constexpr std::uint16_t kUnassigned = 1 << 7;  // Cn
inline constexpr std::uint16_t kWhitespace = 1 << 8;  // White_Space (regex \s in onig, Rust and llama.cpp)
inline constexpr std::uint16_t kMarkNonspacing = 1 << 9;  // Mn
inline constexpr std::uint16_t kOtherNoSurrogate = 1 << 10;  // Cc Cf Co (the Rust unicode_categories `is_other`)
inline constexpr std::uint16_t kAlphabetic = 1 << 11;  // Alphabetic property (Rust char::is_alphabetic)
std::uint16_t flags(char32_t cp);
inline bool has(char32_t cp, std::uint16_t f) { return (flags(cp) & f) != 0; }

// Simple (one-to-one) lowercase mapping, as llama.cpp's table.
char32_t to_lower_simple(char32_t cp);
// Full per-character lowercase (Rust char::to_lowercase): appends 1..3 code points.
void append_lower_full(std::vector<char32_t>& out, char32_t cp);
// First code point of the canonical decomposition (llama.cpp's NFD table).
char32_t nfd_first(char32_t cp);
// Canonical decomposition of a whole string (ICU NFD).
std::vector<char32_t> nfd(const std::vector<char32_t>& cps);

}  // namespace lowbit::model::uni
