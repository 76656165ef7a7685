// Hand-written matchers for the pre-tokenizer regexes (see tokenizer_pretokenize.h). Each
// splitter walks one range the way the backtracking regex would match at each position
// (the same walk llama.cpp's unicode.cpp uses), emitting the matched lengths; text no
// alternative matches becomes its own piece, as both peers keep unmatched text.
#include "model/tokenizer_pretokenize.h"

#include <algorithm>

namespace lowbit::model::pretok {
namespace {

constexpr char32_t kNone = 0xFFFFFFFF;  // "past the end of the range"

struct Walker {
  const std::vector<uni::Cp>& t;
  std::uint32_t b, e;
  std::vector<Range>& out;
  std::uint32_t prev;

  Walker(const std::vector<uni::Cp>& text, Range r, std::vector<Range>& o) : t(text), b(r.b), e(r.e), out(o), prev(r.b) {}
  char32_t cp(std::uint32_t p) const { return p < e ? t[p].cp : kNone; }
  // 0 past the end: every real code point has at least one category bit.
  std::uint16_t fl(std::uint32_t p) const { return p < e ? uni::flags(t[p].cp) : 0; }
  // Ends the current piece at `end`; returns its length.
  std::uint32_t emit(std::uint32_t end) {
    const std::uint32_t len = end - prev;
    if (len > 0) out.push_back({prev, end});
    prev = end;
    return len;
  }
};

constexpr std::uint16_t kLNW = uni::kLetter | uni::kNumber | uni::kWhitespace;

// Length of an English contraction at p ("'s", "'RE", ...), or 0.
std::uint32_t contraction(const Walker& w, std::uint32_t p, bool insensitive, bool fold_long_s) {
  if (w.cp(p) != '\'' || p + 1 >= w.e) return 0;
  auto norm = [&](char32_t c) -> char32_t {
    if (!insensitive) return c;
    if (fold_long_s && c == 0x17F) return U's';
    return uni::to_lower_simple(c);
  };
  const char32_t n1 = norm(w.cp(p + 1));
  if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') return 2;
  if (p + 2 >= w.e) return 0;
  const char32_t n2 = norm(w.cp(p + 2));
  if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) return 3;
  return 0;
}

void split_gpt2(const std::vector<uni::Cp>& text, Range r, std::vector<Range>& out) {
  Walker w(text, r, out);
  for (std::uint32_t pos = w.b; pos < w.e;) {
    if (const std::uint32_t n = contraction(w, pos, false, false)) {
      pos += w.emit(pos + n);
      continue;
    }
    const char32_t c = w.cp(pos);
    const std::uint16_t f = w.fl(pos);
    const std::uint16_t f2 = c == ' ' ? w.fl(pos + 1) : f;
    if (f2 & uni::kLetter) {  // ' ?\p{L}+'
      pos += c == ' ';
      while (w.fl(pos) & uni::kLetter) ++pos;
      w.emit(pos);
      continue;
    }
    if (f2 & uni::kNumber) {  // ' ?\p{N}+'
      pos += c == ' ';
      while (w.fl(pos) & uni::kNumber) ++pos;
      w.emit(pos);
      continue;
    }
    if (f2 != 0 && !(f2 & kLNW)) {  // ' ?[^\s\p{L}\p{N}]+'
      pos += c == ' ';
      while (w.fl(pos) != 0 && !(w.fl(pos) & kLNW)) ++pos;
      w.emit(pos);
      continue;
    }
    std::uint32_t ws = 0;
    while (w.fl(pos + ws) & uni::kWhitespace) ++ws;
    if (ws > 1 && pos + ws < w.e) {  // '\s+(?!\S)': leave the last space to the next word
      pos += ws - 1;
      w.emit(pos);
      continue;
    }
    if (ws > 0) {  // '\s+'
      pos += ws;
      w.emit(pos);
      continue;
    }
    w.emit(++pos);
  }
}

void split_llama3(const std::vector<uni::Cp>& text, Range r, std::vector<Range>& out, std::uint32_t max_digits,
                  bool fold_long_s) {
  Walker w(text, r, out);
  for (std::uint32_t pos = w.b; pos < w.e;) {
    if (const std::uint32_t n = contraction(w, pos, true, fold_long_s)) {
      pos += w.emit(pos + n);
      continue;
    }
    const char32_t c = w.cp(pos);
    const std::uint16_t f = w.fl(pos);
    // '[^\r\n\p{L}\p{N}]?\p{L}+'
    if (!(c == '\r' || c == '\n' || (f & uni::kNumber)) && ((f & uni::kLetter) || (w.fl(pos + 1) & uni::kLetter))) {
      ++pos;
      while (w.fl(pos) & uni::kLetter) ++pos;
      w.emit(pos);
      continue;
    }
    if (f & uni::kNumber) {  // '\p{N}{1,max_digits}'
      std::uint32_t start = pos;
      while (w.fl(pos) & uni::kNumber) {
        if (++pos - start >= max_digits) {
          w.emit(pos);
          start = pos;
        }
      }
      w.emit(pos);
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    const std::uint16_t f2 = c == ' ' ? w.fl(pos + 1) : f;
    if (f2 != 0 && !(f2 & kLNW)) {
      pos += c == ' ';
      while (w.fl(pos) != 0 && !(w.fl(pos) & kLNW)) ++pos;
      while (w.cp(pos) == '\r' || w.cp(pos) == '\n') ++pos;
      w.emit(pos);
      continue;
    }
    std::uint32_t ws = 0, last_nl = 0;
    while (w.fl(pos + ws) & uni::kWhitespace) {
      const char32_t c2 = w.cp(pos + ws);
      if (c2 == '\r' || c2 == '\n') last_nl = pos + ws + 1;
      ++ws;
    }
    if (last_nl > 0) {  // '\s*[\r\n]+': up to the last line break of the run
      pos = last_nl;
      w.emit(pos);
      continue;
    }
    if (ws > 1 && pos + ws < w.e) {  // '\s+(?!\S)'
      pos += ws - 1;
      w.emit(pos);
      continue;
    }
    if (ws > 0) {  // '\s+'
      pos += ws;
      w.emit(pos);
      continue;
    }
    w.emit(++pos);
  }
}

// Isolates runs of code points for which `in_class` holds; `max_run` caps a run (1 = each).
template <typename Pred>
void split_runs(const std::vector<uni::Cp>& text, Range r, std::vector<Range>& out, Pred in_class, std::uint32_t max_run) {
  Walker w(text, r, out);
  std::uint32_t pos = w.b;
  while (pos < w.e) {
    if (!in_class(text[pos].cp)) {
      ++pos;
      continue;
    }
    w.emit(pos);
    std::uint32_t start = pos;
    while (pos < w.e && in_class(text[pos].cp)) {
      ++pos;
      if (pos - start == max_run) {
        w.emit(pos);
        start = pos;
      }
    }
    w.emit(pos);
  }
  w.emit(w.e);
}

void split_ascii_digit3(const std::vector<uni::Cp>& text, Range r, std::vector<Range>& out) {
  Walker w(text, r, out);
  auto digit = [&](std::uint32_t p) { return p < w.e && text[p].cp >= '0' && text[p].cp <= '9'; };
  std::uint32_t pos = w.b;
  while (pos < w.e) {
    if (digit(pos) && digit(pos + 1) && digit(pos + 2)) {
      w.emit(pos);
      pos += 3;
      w.emit(pos);
    } else {
      ++pos;
    }
  }
  w.emit(w.e);
}

bool is_default_punct(char32_t c) {
  switch (c) {
    case '$': case '+': case '<': case '=': case '>': case '^': case '~': case '|':
      return true;
    default:
      return uni::has(c, uni::kPunct);
  }
}

}  // namespace

void apply(Split kind, const std::vector<uni::Cp>& text, std::vector<Range>& ranges, bool fold_long_s) {
  std::vector<Range> out;
  out.reserve(ranges.size() * 2);
  constexpr std::uint32_t kUnbounded = 0xFFFFFFFF;
  for (const Range& r : ranges) {
    switch (kind) {
      case Split::Gpt2: split_gpt2(text, r, out); break;
      case Split::Llama3: split_llama3(text, r, out, 3, fold_long_s); break;
      case Split::Qwen2: split_llama3(text, r, out, 1, fold_long_s); break;
      case Split::DigitsEach:
        split_runs(text, r, out, [](char32_t c) { return uni::has(c, uni::kNumber); }, 1);
        break;
      case Split::DigitsRuns:
        split_runs(text, r, out, [](char32_t c) { return uni::has(c, uni::kNumber); }, kUnbounded);
        break;
      case Split::PunctRuns: split_runs(text, r, out, is_default_punct, kUnbounded); break;
      case Split::AsciiDigit3: split_ascii_digit3(text, r, out); break;
    }
  }
  ranges = std::move(out);
}

bool split_from_regex(std::string_view re, Split& out) {
  static constexpr std::string_view kGpt2 =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  static constexpr std::string_view kLlama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static constexpr std::string_view kQwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  if (re == kGpt2) out = Split::Gpt2;
  else if (re == kLlama3) out = Split::Llama3;
  else if (re == kQwen2) out = Split::Qwen2;
  else if (re == R"(\p{N})") out = Split::DigitsEach;
  else if (re == R"(\p{N}+)") out = Split::DigitsRuns;
  else return false;
  return true;
}

const std::vector<std::string>& byte_to_text() {
  static const std::vector<std::string> map = [] {
    std::vector<std::string> m(256);
    // Printable Latin-1 bytes stand for themselves; the rest take U+0100, U+0101, ... in
    // byte order, so every byte has a visible, distinct character.
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      m[static_cast<std::size_t>(b)] = uni::to_utf8(printable ? static_cast<char32_t>(b) : next++);
    }
    return m;
  }();
  return map;
}

int text_char_to_byte(char32_t cp) {
  static const std::vector<int> inverse = [] {
    std::vector<int> inv(512, -1);
    const auto& m = byte_to_text();
    for (int b = 0; b < 256; ++b) inv[uni::code_points(m[static_cast<std::size_t>(b)])[0]] = b;
    return inv;
  }();
  return cp < inverse.size() ? inverse[cp] : -1;
}

std::vector<Fragment> partition_llama(std::string_view text, const std::vector<LlamaSpecial>& specials) {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (const LlamaSpecial& s : specials) {
    if (s.text.empty()) continue;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.id >= 0) {
        next.push_back(f);
        continue;
      }
      std::size_t off = f.off;
      const std::size_t end = f.off + f.len;
      while (off < end) {
        const std::size_t m = text.substr(0, end).find(s.text, off);
        if (m == std::string_view::npos) break;
        if (m > off) next.push_back({-1, off, m - off});
        next.push_back({s.id, m, s.text.size()});
        off = m + s.text.size();
      }
      if (off < end) next.push_back({-1, off, end - off});
    }
    frags.swap(next);
  }
  return frags;
}

AddedMatcher::AddedMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  nodes_.emplace_back();
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const std::string& s = tokens_[i].content;
    if (s.empty()) continue;
    std::int32_t node = 0;
    for (const unsigned char c : s) {
      std::int32_t nx = child(node, c);
      if (nx < 0) {
        nx = static_cast<std::int32_t>(nodes_.size());
        auto& kids = nodes_[static_cast<std::size_t>(node)].next;
        kids.insert(std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, std::int32_t{-1})), {c, nx});
        nodes_.emplace_back();
      }
      node = nx;
    }
    // Two entries with one content: tokenizers keeps the first pattern id that matches.
    if (nodes_[static_cast<std::size_t>(node)].token < 0) nodes_[static_cast<std::size_t>(node)].token = static_cast<std::int32_t>(i);
  }
}

std::int32_t AddedMatcher::child(std::int32_t node, unsigned char c) const {
  const auto& kids = nodes_[static_cast<std::size_t>(node)].next;
  auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, std::int32_t{-1}));
  return (it != kids.end() && it->first == c) ? it->second : -1;
}

namespace {

bool is_word_char(char32_t c) { return c == '_' || uni::has(c, uni::kAlphabetic | uni::kNumber); }

}  // namespace

std::vector<Fragment> AddedMatcher::split(std::string_view text, bool skip_special) const {
  std::vector<Fragment> out;
  if (text.empty()) return out;
  std::size_t cursor = 0;      // where the leftmost-longest search resumes
  std::size_t emitted = 0;     // end of the last piece handed out
  while (cursor < text.size()) {
    // Leftmost start with any match, then the longest match there.
    std::size_t start = cursor, stop = 0;
    std::int32_t tok = -1;
    for (; start < text.size() && tok < 0; ++start) {
      std::int32_t node = 0;
      for (std::size_t k = start; k < text.size(); ++k) {
        node = child(node, static_cast<unsigned char>(text[k]));
        if (node < 0) break;
        if (nodes_[static_cast<std::size_t>(node)].token >= 0) {
          tok = nodes_[static_cast<std::size_t>(node)].token;
          stop = k + 1;
        }
      }
    }
    if (tok < 0) break;
    --start;
    cursor = stop;
    const AddedToken& t = tokens_[static_cast<std::size_t>(tok)];
    if (skip_special && t.special) continue;
    if (t.single_word) {
      std::size_t lead = start;  // first byte of the character before the match
      while (lead > 0 && start - lead < 4 && (static_cast<unsigned char>(text[lead - 1]) & 0xC0) == 0x80) --lead;
      if (lead > 0) --lead;
      const auto before = uni::decode(text.substr(lead, start - lead));
      const auto after = uni::decode(text.substr(stop, 4));
      const bool start_ok = before.empty() || !is_word_char(before.back().cp);
      const bool stop_ok = after.empty() || !is_word_char(after.front().cp);
      if (!start_ok || !stop_ok) continue;
    }
    if (start < emitted) continue;  // overlaps what an rstrip already took
    if (t.lstrip) {
      const auto before = uni::decode(text.substr(emitted, start - emitted));
      std::size_t s = start;
      for (auto it = before.rbegin(); it != before.rend() && uni::has(it->cp, uni::kWhitespace); ++it) s = emitted + it->off;
      start = s;
    }
    if (t.rstrip) {
      for (const uni::Cp& c : uni::decode(text.substr(stop))) {
        if (!uni::has(c.cp, uni::kWhitespace)) break;
        stop += c.len;
      }
    }
    if (start > emitted) out.push_back({-1, emitted, start - emitted});
    out.push_back({t.id, start, stop - start});
    emitted = stop;
  }
  if (emitted < text.size()) out.push_back({-1, emitted, text.size() - emitted});
  return out;
}

}  // namespace lowbit::model::pretok
