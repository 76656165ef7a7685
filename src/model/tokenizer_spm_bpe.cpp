// SentencePiece-style BPE from a HF tokenizer.json (Llama-2, Mistral, TinyLlama): added
// tokens are cut out leftmost-longest, the rest is normalized (Prepend/Replace "▁") or
// pre-tokenized (Metaspace), merged by rank with unknown characters falling back to
// <0xXX> byte tokens, and wrapped by a TemplateProcessing post-processor. Mirrors the
// `tokenizers` library step for step (added_vocabulary.rs, bpe/model.rs, bpe/word.rs).
#include <algorithm>
#include <array>
#include <optional>
#include <queue>
#include <unordered_map>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "lowbit/error.h"
#include "model/tokenizer_factories.h"

namespace lowbit::model {
namespace {

using nlohmann::json;

constexpr std::string_view kHexDigits = "0123456789ABCDEF";

// Code point at byte i of valid-or-not UTF-8; `len` gets its byte count (an invalid
// byte counts as one character, as nothing better is defined for it).
UChar32 next_cp(std::string_view s, std::size_t i, std::size_t& len) {
  std::int32_t j = static_cast<std::int32_t>(i);
  UChar32 c;
  U8_NEXT(reinterpret_cast<const std::uint8_t*>(s.data()), j, static_cast<std::int32_t>(s.size()), c);
  len = static_cast<std::size_t>(j) - i;
  return c;
}

// Rust regex's Unicode \s and \w, which tokenizers uses for lstrip/rstrip/single_word.
bool is_space_cp(UChar32 c) { return c >= 0 && u_hasBinaryProperty(c, UCHAR_WHITE_SPACE); }
bool is_word_cp(UChar32 c) {
  if (c < 0) return false;
  const auto t = u_charType(c);
  return u_hasBinaryProperty(c, UCHAR_ALPHABETIC) || t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK ||
         t == U_COMBINING_SPACING_MARK || t == U_DECIMAL_DIGIT_NUMBER || t == U_CONNECTOR_PUNCTUATION ||
         u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL);
}
UChar32 last_cp(std::string_view s) {
  std::int32_t i = static_cast<std::int32_t>(s.size());
  UChar32 c;
  U8_PREV(reinterpret_cast<const std::uint8_t*>(s.data()), 0, i, c);
  return c;
}

// A string being normalized, with the offset in the input text where each byte's
// character came from (tokenizers' alignments, reduced to what Metaspace's
// prepend_scheme "first" asks: does a piece start at the beginning of the input?).
struct Aligned {
  std::string s;
  std::vector<std::size_t> orig;  // one per byte of s
};

void replace_all(Aligned& a, std::string_view pattern, std::string_view content) {
  if (pattern.empty()) return;
  Aligned out;
  std::size_t i = 0;
  while (i < a.s.size()) {
    const std::size_t m = a.s.find(pattern, i);
    const std::size_t stop = m == std::string::npos ? a.s.size() : m;
    out.s.append(a.s, i, stop - i);
    out.orig.insert(out.orig.end(), a.orig.begin() + static_cast<std::ptrdiff_t>(i), a.orig.begin() + static_cast<std::ptrdiff_t>(stop));
    if (m == std::string::npos) break;
    out.s += content;
    out.orig.insert(out.orig.end(), content.size(), a.orig[m]);
    i = m + pattern.size();
  }
  a = std::move(out);
}

void prepend(Aligned& a, std::string_view p) {
  if (a.s.empty()) return;
  a.s.insert(0, p);
  a.orig.insert(a.orig.begin(), p.size(), a.orig[0]);
}

struct NormStep {
  enum Kind { Prepend, Replace } kind;
  std::string a, b;  // Prepend: a; Replace: pattern a -> content b
};

void parse_normalizer(const json& j, const std::string& source, std::vector<NormStep>& steps) {
  if (j.is_null()) return;
  const auto type = j.value("type", std::string());
  if (type == "Sequence") {
    for (const auto& n : j.at("normalizers")) parse_normalizer(n, source, steps);
  } else if (type == "Prepend") {
    steps.push_back({NormStep::Prepend, j.at("prepend").get<std::string>(), {}});
  } else if (type == "Replace") {
    const auto& pat = j.at("pattern");
    if (!pat.contains("String"))
      fail(source, ": normalizer Replace with a Regex pattern is not supported (only String patterns)");
    steps.push_back({NormStep::Replace, pat.at("String").get<std::string>(), j.at("content").get<std::string>()});
  } else {
    fail(source, ": normalizer \"", type, "\" is not supported for SentencePiece-style BPE (Prepend, Replace, Sequence are)");
  }
}

enum class Prepend { Always, First, Never };

struct Metaspace {
  std::string replacement = "\xe2\x96\x81";
  Prepend scheme = Prepend::Always;
  bool split = true;
};

Metaspace parse_metaspace(const json& j, const std::string& source, const char* where) {
  Metaspace m;
  m.replacement = j.value("replacement", m.replacement);
  std::size_t len = 0;
  if (m.replacement.empty() || (next_cp(m.replacement, 0, len), len != m.replacement.size()))
    fail(source, ": ", where, " Metaspace replacement must be one character");
  const auto scheme = j.value("prepend_scheme", std::string("always"));
  if (scheme == "always") m.scheme = Prepend::Always;
  else if (scheme == "first") m.scheme = Prepend::First;
  else if (scheme == "never") m.scheme = Prepend::Never;
  else fail(source, ": ", where, " Metaspace prepend_scheme \"", scheme, "\" is unknown (always, first, never)");
  if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean() && !j["add_prefix_space"].get<bool>()) {
    if (m.scheme != Prepend::Never)
      fail(source, ": ", where, " Metaspace add_prefix_space false contradicts prepend_scheme \"", scheme, "\"");
    m.scheme = Prepend::Never;
  }
  if (j.contains("split") && !j["split"].is_null()) m.split = j["split"].get<bool>();
  return m;
}

struct DecodeStep {
  enum Kind { Replace, ByteFallback, Fuse, Strip, Metaspace } kind;
  std::string a, b;            // Replace: pattern -> content; Strip: the character
  std::size_t start = 0, stop = 0;
  model::Metaspace meta;
};

struct AddedToken {
  std::string content;
  std::string pattern;  // what is matched: content, or its normalized form
  std::int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
  bool operator==(const AddedToken& o) const {
    return content == o.content && single_word == o.single_word && lstrip == o.lstrip && rstrip == o.rstrip &&
           normalized == o.normalized && special == o.special;
  }
};

// One cut of a string by added tokens: [start, stop) is an added token `id` or text (-1).
struct Cut {
  std::int32_t id;
  std::size_t start, stop;
};

// Lets the piece map be searched with a string_view without building a string.
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}

class SpmBpe final : public Tokenizer {
 public:
  SpmBpe(const json& j, std::string source);

  std::vector<std::int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override;
  std::string decode(std::span<const std::int32_t> ids) const override;
  std::string token_text(std::int32_t id) const override;
  std::size_t vocab_size() const override { return vocab_size_; }
  const SpecialTokens& special() const override { return special_; }

 private:
  struct Matcher {
    // Added tokens by first byte, longest pattern first: leftmost-longest matching.
    std::array<std::vector<std::int32_t>, 256> by_byte;  // indexes into added_
    bool empty = true;
  };
  struct Symbol {
    std::int32_t c;
    int prev, next;
    std::size_t len;
  };
  struct Merge {
    std::size_t pos;
    std::int32_t rank, new_id;
  };
  // Lowest rank first, then leftmost (word.rs's Merge ordering).
  struct MergeAfter {
    bool operator()(const Merge& a, const Merge& b) const { return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos; }
  };

  void parse_model(const json& m);
  void parse_added(const json& list);
  void parse_post_processor(const json& p);
  void parse_decoder(const json& d);
  Aligned normalize(std::string_view s, std::size_t orig_start) const;
  std::vector<Cut> cut_added(std::string_view s, const Matcher& m, bool parse_special) const;
  void pre_tokenize_and_merge(const Aligned& a, std::size_t begin, std::size_t end, std::vector<std::int32_t>& out) const;
  void bpe(std::string_view word, std::vector<std::int32_t>& out) const;
  std::int32_t vocab_id(std::string_view s) const {
    const auto it = vocab_.find(s);
    return it == vocab_.end() ? -1 : it->second;
  }

  std::string source_;
  std::unordered_map<std::string, std::int32_t, TextHash, std::equal_to<>> vocab_;
  std::unordered_map<std::int32_t, std::string> vocab_r_;
  std::unordered_map<std::uint64_t, std::pair<std::int32_t, std::int32_t>> merges_;  // pair -> (rank, new id)
  std::optional<std::string> unk_token_;
  std::string prefix_, suffix_;  // continuing_subword_prefix, end_of_word_suffix
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  std::array<std::int32_t, 256> byte_ids_{};

  std::vector<NormStep> norm_;
  std::optional<Metaspace> pre_;
  std::vector<AddedToken> added_;                          // by id order of adding
  std::unordered_map<std::string, std::size_t> added_by_content_;
  std::unordered_map<std::int32_t, std::size_t> added_by_id_;
  Matcher raw_match_, norm_match_;
  std::vector<std::int32_t> template_prefix_, template_suffix_;
  std::vector<DecodeStep> decoder_;
  bool has_decoder_ = false;
  std::string decoder_unsupported_;
  SpecialTokens special_;
  std::size_t vocab_size_ = 0;
};

SpmBpe::SpmBpe(const json& j, std::string source) : source_(std::move(source)) {
  try {
    parse_model(j.at("model"));
    parse_normalizer(j.value("normalizer", json()), source_, norm_);
    const json pre = j.value("pre_tokenizer", json());
    if (!pre.is_null()) {
      const auto type = pre.value("type", std::string());
      const json* meta = &pre;
      if (type == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].size() == 1) meta = &pre["pretokenizers"][0];
      if (meta->value("type", std::string()) != "Metaspace")
        fail(source_, ": pre_tokenizer \"", type, "\" is not supported for SentencePiece-style BPE (Metaspace or none is)");
      pre_ = parse_metaspace(*meta, source_, "pre_tokenizer");
    }
    parse_added(j.value("added_tokens", json::array()));
    parse_post_processor(j.value("post_processor", json()));
    const json dec = j.value("decoder", json());
    has_decoder_ = !dec.is_null();
    if (has_decoder_) parse_decoder(dec);
  } catch (const json::exception& e) {
    fail(source_, ": malformed tokenizer.json: ", e.what());
  }

  std::int64_t max_id = -1;
  for (const auto& [t, id] : vocab_) max_id = std::max<std::int64_t>(max_id, id);
  for (const auto& a : added_) max_id = std::max<std::int64_t>(max_id, a.id);
  vocab_size_ = static_cast<std::size_t>(max_id + 1);
  // Template ids the vocabulary lacks would reach a model's embedding lookup (fuzzer find).
  for (const auto* ids : {&template_prefix_, &template_suffix_})
    for (const std::int32_t id : *ids)
      if (id < 0 || static_cast<std::size_t>(id) >= vocab_size_)
        fail(source_, ": post_processor special token id ", id, " is outside the vocabulary of ", vocab_size_);
  if (unk_token_) {
    const auto it = added_by_content_.find(*unk_token_);
    special_.unk = it != added_by_content_.end() ? added_[it->second].id : vocab_id(*unk_token_);
  }
  auto lookup = [&](const char* t) {
    const auto it = added_by_content_.find(t);
    return it != added_by_content_.end() ? added_[it->second].id : vocab_id(t);
  };
  special_.bos = template_prefix_.size() == 1 ? template_prefix_[0] : lookup("<s>");
  special_.eos = template_suffix_.size() == 1 ? template_suffix_[0] : lookup("</s>");
  special_.add_bos = !template_prefix_.empty();
  special_.add_eos = !template_suffix_.empty();
}

void SpmBpe::parse_model(const json& m) {
  const json& vocab = m.at("vocab");
  if (!vocab.is_object()) fail(source_, ": model.vocab is not an object of piece -> id");
  vocab_.reserve(vocab.size());
  for (const auto& [piece, id] : vocab.items()) {
    const auto v = id.get<std::int64_t>();
    if (v < 0 || v > INT32_MAX) fail(source_, ": model.vocab id ", v, " of \"", piece, "\" is out of range");
    vocab_[piece] = static_cast<std::int32_t>(v);
    vocab_r_[static_cast<std::int32_t>(v)] = piece;
  }
  if (m.contains("dropout") && !m["dropout"].is_null() && m["dropout"].get<double>() != 0.0)
    fail(source_, ": BPE dropout is random; lowbit tokenizes deterministically and does not support it");
  if (m.contains("unk_token") && !m["unk_token"].is_null()) unk_token_ = m["unk_token"].get<std::string>();
  if (m.contains("continuing_subword_prefix") && !m["continuing_subword_prefix"].is_null())
    prefix_ = m["continuing_subword_prefix"].get<std::string>();
  if (m.contains("end_of_word_suffix") && !m["end_of_word_suffix"].is_null())
    suffix_ = m["end_of_word_suffix"].get<std::string>();
  byte_fallback_ = m.value("byte_fallback", false);
  fuse_unk_ = m.value("fuse_unk", false);
  ignore_merges_ = m.value("ignore_merges", false);
  for (int b = 0; b < 256; ++b) {
    const char name[6] = {'<', '0', 'x', kHexDigits[static_cast<std::size_t>(b >> 4)], kHexDigits[static_cast<std::size_t>(b & 15)], '>'};
    byte_ids_[static_cast<std::size_t>(b)] = vocab_id(std::string_view(name, 6));
  }

  const json merges = m.value("merges", json::array());
  merges_.reserve(merges.size());
  std::int32_t rank = 0;
  for (const auto& e : merges) {
    std::string a, b;
    if (e.is_string()) {
      // Legacy "a b": exactly one space, as tokenizers requires.
      const auto s = e.get<std::string>();
      const auto sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        fail(source_, ": merge ", rank + 1, " \"", s, "\" is not two pieces separated by one space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2) {
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      fail(source_, ": merge ", rank + 1, " is neither \"a b\" nor [a, b]");
    }
    const auto ia = vocab_id(a), ib = vocab_id(b);
    if (ia < 0 || ib < 0) fail(source_, ": merge ", rank + 1, " names \"", ia < 0 ? a : b, "\", which is not in model.vocab");
    if (b.compare(0, prefix_.size(), prefix_) != 0)
      fail(source_, ": merge ", rank + 1, " right piece \"", b, "\" lacks the continuing_subword_prefix");
    const auto merged = a + b.substr(prefix_.size());
    const auto id = vocab_id(merged);
    if (id < 0) fail(source_, ": merge ", rank + 1, " makes \"", merged, "\", which is not in model.vocab");
    merges_[pair_key(ia, ib)] = {rank, id};  // a repeated pair keeps its last rank, as tokenizers does
    ++rank;
  }
}

// tokenizers' AddedVocabulary::add_tokens over the file's list: ids come from the
// vocabulary (an added token that is also a piece keeps the piece's id) or continue
// after it; the file's "id" fields are only checked by tokenizers, never used.
void SpmBpe::parse_added(const json& list) {
  auto next_id = static_cast<std::int32_t>(vocab_.size());
  for (const auto& t : list) {
    AddedToken a;
    a.content = t.at("content").get<std::string>();
    a.single_word = t.value("single_word", false);
    a.lstrip = t.value("lstrip", false);
    a.rstrip = t.value("rstrip", false);
    a.special = t.value("special", false);
    a.normalized = t.value("normalized", !a.special);
    if (a.content.empty()) continue;
    if (const auto it = added_by_content_.find(a.content); it != added_by_content_.end()) {
      if (added_[it->second] == a) continue;
      a.id = added_[it->second].id;
    } else if (const auto v = vocab_id(a.content); v >= 0) {
      a.id = v;
    } else {
      a.id = next_id++;
    }
    a.pattern = a.content;
    if (a.normalized && !norm_.empty()) a.pattern = normalize(a.content, 0).s;
    // One entry per id: a later token with the same id replaces the earlier one.
    if (const auto it = added_by_id_.find(a.id); it != added_by_id_.end()) {
      added_by_content_[a.content] = it->second;
      added_[it->second] = a;
    } else {
      added_by_content_[a.content] = added_.size();
      added_by_id_[a.id] = added_.size();
      added_.push_back(a);
    }
  }
  for (std::size_t i = 0; i < added_.size(); ++i) {
    Matcher& m = added_[i].normalized ? norm_match_ : raw_match_;
    if (added_[i].pattern.empty()) continue;
    m.by_byte[static_cast<std::uint8_t>(added_[i].pattern[0])].push_back(static_cast<std::int32_t>(i));
    m.empty = false;
  }
  for (Matcher* m : {&raw_match_, &norm_match_})
    for (auto& v : m->by_byte)
      std::stable_sort(v.begin(), v.end(), [&](std::int32_t x, std::int32_t y) {
        return added_[static_cast<std::size_t>(x)].pattern.size() > added_[static_cast<std::size_t>(y)].pattern.size();
      });
}

void SpmBpe::parse_post_processor(const json& p) {
  if (p.is_null()) return;
  const auto type = p.value("type", std::string());
  if (type == "Sequence") {
    for (const auto& q : p.at("processors")) parse_post_processor(q);
    return;
  }
  if (type == "ByteLevel") return;  // offsets only; ids are untouched
  if (type != "TemplateProcessing")
    fail(source_, ": post_processor \"", type, "\" is not supported (TemplateProcessing is)");
  const json& specials = p.value("special_tokens", json::object());
  bool seen_sequence = false;
  for (const auto& item : p.at("single")) {
    if (item.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    const auto name = item.at("SpecialToken").at("id").get<std::string>();
    if (!specials.contains(name)) fail(source_, ": post_processor template names \"", name, "\", which special_tokens lacks");
    for (const auto& id : specials[name].at("ids"))
      (seen_sequence ? template_suffix_ : template_prefix_).push_back(id.get<std::int32_t>());
  }
}

void SpmBpe::parse_decoder(const json& d) {
  const auto type = d.value("type", std::string());
  DecodeStep s{};
  if (type == "Sequence") {
    for (const auto& x : d.at("decoders")) parse_decoder(x);
    return;
  } else if (type == "Replace") {
    if (!d.at("pattern").contains("String")) {
      decoder_unsupported_ = "Replace with a Regex pattern";
      return;
    }
    s.kind = DecodeStep::Replace;
    s.a = d["pattern"]["String"].get<std::string>();
    s.b = d.at("content").get<std::string>();
  } else if (type == "ByteFallback") {
    s.kind = DecodeStep::ByteFallback;
  } else if (type == "Fuse") {
    s.kind = DecodeStep::Fuse;
  } else if (type == "Strip") {
    s.kind = DecodeStep::Strip;
    s.a = d.at("content").get<std::string>();
    s.start = d.value("start", std::size_t{0});
    s.stop = d.value("stop", std::size_t{0});
  } else if (type == "Metaspace") {
    s.kind = DecodeStep::Metaspace;
    s.meta = parse_metaspace(d, source_, "decoder");
  } else {
    decoder_unsupported_ = "\"" + type + "\"";
    return;
  }
  decoder_.push_back(std::move(s));
}

Aligned SpmBpe::normalize(std::string_view s, std::size_t orig_start) const {
  Aligned a{std::string(s), {}};
  a.orig.resize(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) a.orig[i] = orig_start + i;
  for (const auto& st : norm_) {
    if (st.kind == NormStep::Prepend) prepend(a, st.a);
    else replace_all(a, st.a, st.b);
  }
  return a;
}

// AddedVocabulary::find_matches: leftmost-longest matches (every match is consumed,
// even one then discarded for being special with parse_special off, or for not being
// a single word), widened by lstrip/rstrip over Unicode whitespace.
std::vector<Cut> SpmBpe::cut_added(std::string_view s, const Matcher& m, bool parse_special) const {
  std::vector<Cut> cuts;
  if (m.empty) {
    cuts.push_back({-1, 0, s.size()});
    return cuts;
  }
  std::size_t start_offset = 0;
  std::size_t i = 0;
  // The longest added token starting at byte `at`, if any.
  auto match_at = [&](std::size_t at) -> const AddedToken* {
    for (const auto k : m.by_byte[static_cast<std::uint8_t>(s[at])]) {
      const auto& p = added_[static_cast<std::size_t>(k)].pattern;
      if (s.compare(at, p.size(), p) == 0) return &added_[static_cast<std::size_t>(k)];
    }
    return nullptr;
  };
  while (i < s.size()) {
    const AddedToken* hit = nullptr;
    std::size_t at = i;
    while (at < s.size() && !(hit = match_at(at))) ++at;
    if (!hit) break;
    std::size_t start = at, stop = at + hit->pattern.size();
    i = stop;
    if (!parse_special && hit->special) continue;
    if (hit->single_word) {
      const bool start_space = start == 0 || !is_word_cp(last_cp(s.substr(0, start)));
      std::size_t len = 0;
      const bool stop_space = stop == s.size() || !is_word_cp(next_cp(s, stop, len));
      if (!start_space || !stop_space) continue;
    }
    if (hit->lstrip) {
      std::size_t ns = start;
      while (ns > 0) {
        const std::string_view head = s.substr(0, ns);
        std::int32_t j = static_cast<std::int32_t>(ns);
        UChar32 c;
        U8_PREV(reinterpret_cast<const std::uint8_t*>(head.data()), 0, j, c);
        if (!is_space_cp(c)) break;
        ns = static_cast<std::size_t>(j);
      }
      start = std::max(ns, start_offset);
    }
    if (hit->rstrip) {
      std::size_t len = 0;
      while (stop < s.size() && is_space_cp(next_cp(s, stop, len))) stop += len;
    }
    if (start_offset < start) cuts.push_back({-1, start_offset, start});
    cuts.push_back({hit->id, start, stop});
    start_offset = stop;
  }
  if (start_offset != s.size()) cuts.push_back({-1, start_offset, s.size()});
  return cuts;
}

void SpmBpe::pre_tokenize_and_merge(const Aligned& a, std::size_t begin, std::size_t end, std::vector<std::int32_t>& out) const {
  if (begin >= end) return;
  if (!pre_) {
    bpe(std::string_view(a.s).substr(begin, end - begin), out);
    return;
  }
  const Metaspace& m = *pre_;
  std::string w;
  for (std::size_t i = begin; i < end; ++i) {
    if (a.s[i] == ' ') w += m.replacement;
    else w += a.s[i];
  }
  const bool starts = w.compare(0, m.replacement.size(), m.replacement) == 0;
  if (!starts && (m.scheme == Prepend::Always || (m.scheme == Prepend::First && a.orig[begin] == 0))) w.insert(0, m.replacement);
  if (!m.split) {
    bpe(w, out);
    return;
  }
  // Split with the replacement merged into the piece that follows it.
  std::size_t piece = 0;
  for (std::size_t at = w.find(m.replacement, 1); at != std::string::npos; at = w.find(m.replacement, at + 1)) {
    bpe(std::string_view(w).substr(piece, at - piece), out);
    piece = at;
  }
  bpe(std::string_view(w).substr(piece), out);
}

// BPE::merge_word + Word::merge_all.
void SpmBpe::bpe(std::string_view w, std::vector<std::int32_t>& out) const {
  if (w.empty()) return;
  if (ignore_merges_)
    if (const auto id = vocab_id(w); id >= 0) {
      out.push_back(id);
      return;
    }
  std::vector<Symbol> sym;
  sym.reserve(w.size());
  auto add = [&](std::int32_t c, std::size_t len) {
    const int n = static_cast<int>(sym.size());
    if (n > 0) sym.back().next = n;
    sym.push_back({c, n - 1, -1, len});
  };
  // The pending unknown character(s): id and byte length, once one is seen.
  bool has_unk = false;
  std::int32_t unk_id = -1;
  std::size_t unk_len = 0;
  std::string s;
  for (std::size_t i = 0; i < w.size();) {
    std::size_t len = 0;
    next_cp(w, i, len);
    s.assign(w.substr(i, len));
    if (i > 0) s.insert(0, prefix_);
    if (i + len == w.size()) s += suffix_;
    i += len;
    if (const auto id = vocab_id(s); id >= 0) {
      if (has_unk) add(unk_id, unk_len);
      has_unk = false;
      add(id, len);
      continue;
    }
    if (byte_fallback_ &&
        std::all_of(s.begin(), s.end(), [&](char c) { return byte_ids_[static_cast<std::uint8_t>(c)] >= 0; })) {
      // A pending unknown stays pending across byte tokens, as in tokenizers.
      for (const char c : s) add(byte_ids_[static_cast<std::uint8_t>(c)], 1);
      continue;
    }
    if (!unk_token_) continue;  // no unk token: the character is dropped
    if (has_unk && fuse_unk_) {
      unk_len += len;
      continue;
    }
    if (has_unk) add(unk_id, unk_len);
    unk_id = vocab_id(*unk_token_);
    if (unk_id < 0) fail(source_, ": unk_token \"", *unk_token_, "\" is not in model.vocab");
    unk_len = len;
    has_unk = true;
  }
  if (has_unk) add(unk_id, unk_len);

  std::priority_queue<Merge, std::vector<Merge>, MergeAfter> queue;
  for (std::size_t p = 0; p + 1 < sym.size(); ++p)
    if (const auto it = merges_.find(pair_key(sym[p].c, sym[p + 1].c)); it != merges_.end())
      queue.push({p, it->second.first, it->second.second});
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& cur = sym[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    const auto next_pos = static_cast<std::size_t>(cur.next);
    const Symbol right = sym[next_pos];
    // An entry is stale unless the pair at its position still merges into the same id.
    const auto it = merges_.find(pair_key(cur.c, right.c));
    if (it == merges_.end() || it->second.second != top.new_id) continue;
    cur.c = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    sym[next_pos].len = 0;
    if (right.next >= 0) sym[static_cast<std::size_t>(right.next)].prev = static_cast<int>(top.pos);
    if (cur.prev >= 0) {
      const auto prev = static_cast<std::size_t>(cur.prev);
      if (const auto m = merges_.find(pair_key(sym[prev].c, cur.c)); m != merges_.end())
        queue.push({prev, m->second.first, m->second.second});
    }
    if (cur.next >= 0)
      if (const auto m = merges_.find(pair_key(cur.c, sym[static_cast<std::size_t>(cur.next)].c)); m != merges_.end())
        queue.push({top.pos, m->second.first, m->second.second});
  }
  for (const auto& x : sym)
    if (x.len != 0) out.push_back(x.c);
}

std::vector<std::int32_t> SpmBpe::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<std::int32_t> out;
  if (add_special) out = template_prefix_;
  // 1. added tokens matched on the raw text; 2. the rest normalized, then added tokens
  // matched on the normalized text; 3. pre-tokenizer and BPE on what is left.
  for (const auto& c1 : cut_added(text, raw_match_, parse_special)) {
    if (c1.id >= 0) {
      out.push_back(c1.id);
      continue;
    }
    if (c1.start == c1.stop) continue;
    const Aligned a = normalize(text.substr(c1.start, c1.stop - c1.start), c1.start);
    for (const auto& c2 : cut_added(a.s, norm_match_, parse_special)) {
      if (c2.id >= 0) out.push_back(c2.id);
      else pre_tokenize_and_merge(a, c2.start, c2.stop, out);
    }
  }
  if (add_special) out.insert(out.end(), template_suffix_.begin(), template_suffix_.end());
  return out;
}

std::string SpmBpe::token_text(std::int32_t id) const {
  if (const auto it = added_by_id_.find(id); it != added_by_id_.end()) return added_[it->second].content;
  if (const auto it = vocab_r_.find(id); it != vocab_r_.end()) return it->second;
  fail(source_, ": token id ", id, " is not in the vocabulary");
}

// Tokenizer::decode(ids, skip_special_tokens = false) through the file's decoder chain.
std::string SpmBpe::decode(std::span<const std::int32_t> ids) const {
  if (!decoder_unsupported_.empty()) fail(source_, ": decoder ", decoder_unsupported_, " is not supported");
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (const auto id : ids) {
    // An added token decodes as its normalized form, as tokenizers keeps it.
    if (const auto it = added_by_id_.find(id); it != added_by_id_.end()) toks.push_back(added_[it->second].pattern);
    else toks.push_back(token_text(id));
  }
  if (!has_decoder_) {
    std::string out;
    for (std::size_t i = 0; i < toks.size(); ++i) out += (i ? " " : "") + toks[i];
    return out;
  }
  for (const auto& st : decoder_) {
    std::vector<std::string> next;
    switch (st.kind) {
      case DecodeStep::Replace:
        for (auto& t : toks) {
          Aligned a{t, std::vector<std::size_t>(t.size())};
          replace_all(a, st.a, st.b);
          next.push_back(std::move(a.s));
        }
        break;
      case DecodeStep::ByteFallback: {
        std::string bytes;
        auto flush = [&] {
          if (bytes.empty()) return;
          // Valid UTF-8 becomes text; otherwise one U+FFFD per byte.
          bool valid = true;
          for (std::size_t i = 0; i < bytes.size() && valid;) {
            std::int32_t j = static_cast<std::int32_t>(i);
            UChar32 c;
            U8_NEXT(reinterpret_cast<const std::uint8_t*>(bytes.data()), j, static_cast<std::int32_t>(bytes.size()), c);
            valid = c >= 0;
            i = static_cast<std::size_t>(j);
          }
          if (valid) next.push_back(bytes);
          else
            for (std::size_t i = 0; i < bytes.size(); ++i) next.push_back("\xef\xbf\xbd");
          bytes.clear();
        };
        for (auto& t : toks) {
          auto hex = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
            return -1;
          };
          if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && hex(t[3]) >= 0 && hex(t[4]) >= 0) {
            bytes += static_cast<char>(hex(t[3]) * 16 + hex(t[4]));
          } else {
            flush();
            next.push_back(std::move(t));
          }
        }
        flush();
        break;
      }
      case DecodeStep::Fuse: {
        std::string all;
        for (const auto& t : toks) all += t;
        next.push_back(std::move(all));
        break;
      }
      case DecodeStep::Strip:
        for (auto& t : toks) {
          std::size_t b = 0, e = t.size();
          for (std::size_t k = 0; k < st.start && t.compare(b, st.a.size(), st.a) == 0 && b < e; ++k) b += st.a.size();
          for (std::size_t k = 0; k < st.stop && e >= b + st.a.size() && t.compare(e - st.a.size(), st.a.size(), st.a) == 0; ++k)
            e -= st.a.size();
          next.push_back(t.substr(b, e - b));
        }
        break;
      case DecodeStep::Metaspace:
        for (std::size_t i = 0; i < toks.size(); ++i) {
          // The first token loses every replacement character, not just a leading one.
          const bool drop = i == 0 && st.meta.scheme != Prepend::Never;
          Aligned a{toks[i], std::vector<std::size_t>(toks[i].size())};
          replace_all(a, st.meta.replacement, drop ? "" : " ");
          next.push_back(std::move(a.s));
        }
        break;
    }
    toks = std::move(next);
  }
  std::string out;
  for (const auto& t : toks) out += t;
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> make_spm_bpe_from_json(const nlohmann::json& j, const std::string& source) {
  return std::make_unique<SpmBpe>(j, source);
}

}  // namespace lowbit::model
