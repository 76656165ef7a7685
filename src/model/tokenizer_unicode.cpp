// ICU-backed Unicode properties for the tokenizers (see tokenizer_unicode.h). Category
// flags are tabulated once for all 0x110000 code points because pre-tokenizers ask for
// them on every character; everything else calls ICU directly.
#include "model/tokenizer_unicode.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <memory>

#include "lowbit/error.h"

namespace lowbit::model::uni {
namespace {

constexpr char32_t kMaxCp = 0x110000;

std::uint16_t compute_flags(char32_t cp) {
  const auto c = static_cast<UChar32>(cp);
  std::uint16_t f = 0;
  switch (u_charType(c)) {
    case U_UPPERCASE_LETTER: case U_LOWERCASE_LETTER: case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER: case U_OTHER_LETTER:
      f |= kLetter; break;
    case U_DECIMAL_DIGIT_NUMBER: case U_LETTER_NUMBER: case U_OTHER_NUMBER:
      f |= kNumber; break;
    case U_CONNECTOR_PUNCTUATION: case U_DASH_PUNCTUATION: case U_START_PUNCTUATION:
    case U_END_PUNCTUATION: case U_INITIAL_PUNCTUATION: case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
      f |= kPunct; break;
    case U_MATH_SYMBOL: case U_CURRENCY_SYMBOL: case U_MODIFIER_SYMBOL: case U_OTHER_SYMBOL:
      f |= kSymbol; break;
    case U_NON_SPACING_MARK:
      f |= kMark | kMarkNonspacing; break;
    case U_ENCLOSING_MARK: case U_COMBINING_SPACING_MARK:
      f |= kMark; break;
    case U_SPACE_SEPARATOR: case U_LINE_SEPARATOR: case U_PARAGRAPH_SEPARATOR:
      f |= kSeparator; break;
    case U_CONTROL_CHAR: case U_FORMAT_CHAR: case U_PRIVATE_USE_CHAR:
      f |= kControl | kOtherNoSurrogate; break;
    case U_SURROGATE:
      f |= kControl; break;
    default:  // U_UNASSIGNED
      f |= kUnassigned; break;
  }
  if (u_isUWhiteSpace(c)) f |= kWhitespace;
  if (u_isUAlphabetic(c)) f |= kAlphabetic;
  return f;
}

const std::vector<std::uint16_t>& table() {
  static const std::vector<std::uint16_t> t = [] {
    std::vector<std::uint16_t> v(kMaxCp);
    for (char32_t c = 0; c < kMaxCp; ++c) v[c] = compute_flags(c);
    return v;
  }();
  return t;
}

const icu::Normalizer2& nfd_instance() {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFDInstance(err);
  if (U_FAILURE(err) || !n) fail("ICU: cannot load the NFD normalizer: ", u_errorName(err));
  return *n;
}

}  // namespace

std::vector<Cp> decode(std::string_view s) {
  std::vector<Cp> out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char b = p[i];
    if (b < 0x80) {
      out.push_back({b, static_cast<std::uint32_t>(i), 1});
      ++i;
      continue;
    }
    std::size_t len = 0;
    char32_t cp = 0, min = 0;
    if ((b & 0xE0) == 0xC0) len = 2, cp = b & 0x1F, min = 0x80;
    else if ((b & 0xF0) == 0xE0) len = 3, cp = b & 0x0F, min = 0x800;
    else if ((b & 0xF8) == 0xF0) len = 4, cp = b & 0x07, min = 0x10000;
    bool ok = len != 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 either.
    if (ok && (cp < min || cp >= kMaxCp || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok) {
      out.push_back({cp, static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(len)});
      i += len;
    } else {
      out.push_back({0xFFFD, static_cast<std::uint32_t>(i), 1});
      ++i;
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string to_utf8(char32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

std::vector<char32_t> code_points(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (const Cp& c : decode(s)) out.push_back(c.cp);
  return out;
}

std::uint16_t flags(char32_t cp) { return cp < kMaxCp ? table()[cp] : kUnassigned; }

char32_t to_lower_simple(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  return static_cast<char32_t>(u_tolower(static_cast<UChar32>(cp)));
}

void append_lower_full(std::vector<char32_t>& out, char32_t cp) {
  // SpecialCasing.txt has one unconditional lowercase expansion: U+0130 (I with dot
  // above) -> "i" + U+0307. Every other code point lowercases one-to-one.
  if (cp == 0x130) {
    out.push_back(U'i');
    out.push_back(0x307);
    return;
  }
  out.push_back(to_lower_simple(cp));
}

char32_t nfd_first(char32_t cp) {
  if (cp < 0xC0) return cp;
  icu::UnicodeString d;
  if (!nfd_instance().getDecomposition(static_cast<UChar32>(cp), d)) return cp;
  // A full decomposition may itself decompose further (getDecomposition is one step).
  UErrorCode err = U_ZERO_ERROR;
  const icu::UnicodeString full = nfd_instance().normalize(d, err);
  if (U_FAILURE(err) || full.isEmpty()) return cp;
  return static_cast<char32_t>(full.char32At(0));
}

std::vector<char32_t> nfd(const std::vector<char32_t>& cps) {
  bool ascii = true;
  for (char32_t c : cps) ascii = ascii && c < 0xC0;
  if (ascii) return cps;  // nothing below U+00C0 decomposes
  icu::UnicodeString in;
  for (char32_t c : cps) in.append(static_cast<UChar32>(c));
  UErrorCode err = U_ZERO_ERROR;
  const icu::UnicodeString out = nfd_instance().normalize(in, err);
  if (U_FAILURE(err)) fail("ICU: NFD normalization failed: ", u_errorName(err));
  std::vector<char32_t> r;
  r.reserve(static_cast<std::size_t>(out.length()));
  for (int32_t i = 0; i < out.length();) {
    const UChar32 c = out.char32At(i);
    r.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return r;
}

}  // namespace lowbit::model::uni
