// WordPiece (BERT): normalize (clean control characters, space out CJK ideographs, strip
// accents, lowercase), split at whitespace and punctuation, then cover each word greedily
// with the longest vocabulary entries. Two flavours: tokenizers' (tokenizer.json:
// BertNormalizer + BertPreTokenizer + WordPiece with "##" continuations) and llama.cpp's
// WPM (GGUF "bert": word starts carry "▁", continuations carry nothing).
#include <algorithm>
#include <unordered_map>

#include "lowbit/error.h"
#include "model/tokenizer_factories.h"
#include "model/tokenizer_hf_json.h"
#include "model/tokenizer_pretokenize.h"

namespace lowbit::model {
namespace {

using nlohmann::json;
using hfjson::bool_member;
using hfjson::member;
using hfjson::str_member;

// tokenizers' BertNormalizer::is_chinese_char (0x2B920 where Unicode says 0x2B820; kept,
// since that is what both peers test).
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// tokenizers' BertPreTokenizer punctuation: ASCII punctuation (which includes $+<=>^`|~)
// or a Unicode P* character.
bool is_bert_punct(char32_t c) {
  if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
  return uni::has(c, uni::kPunct);
}

struct BertNormalizer {
  bool clean_text = true, handle_chinese_chars = true, strip_accents = true, lowercase = true;

  std::vector<char32_t> apply(std::string_view text) const {
    std::vector<char32_t> cps;
    cps.reserve(text.size());
    for (const uni::Cp& c : uni::decode(text)) {
      char32_t cp = c.cp;
      if (clean_text) {
        // Control characters go first, so U+0085 (a Cc that is also White_Space) is
        // dropped, not turned into a space; \t \n \r count as whitespace.
        const bool tnr = cp == '\t' || cp == '\n' || cp == '\r';
        if (cp == 0 || cp == 0xFFFD || (!tnr && uni::has(cp, uni::kOtherNoSurrogate))) continue;
        if (tnr || uni::has(cp, uni::kWhitespace)) cp = ' ';
      }
      if (handle_chinese_chars && is_cjk(cp)) {
        cps.push_back(' ');
        cps.push_back(cp);
        cps.push_back(' ');
      } else {
        cps.push_back(cp);
      }
    }
    if (strip_accents) {
      cps = uni::nfd(cps);
      std::erase_if(cps, [](char32_t c) { return uni::has(c, uni::kMarkNonspacing); });
    }
    if (lowercase) {
      std::vector<char32_t> low;
      low.reserve(cps.size());
      for (char32_t c : cps) uni::append_lower_full(low, c);
      cps.swap(low);
    }
    return cps;
  }
};

class WordPiece final : public Tokenizer {
 public:
  WordPiece(std::string source, std::vector<std::string> vocab, bool hf) : source_(std::move(source)), hf_(hf), vocab_(std::move(vocab)) {
    for (std::size_t i = 0; i < vocab_.size(); ++i) {
      ids_[vocab_[i]] = static_cast<std::int32_t>(i);
      max_len_ = std::max(max_len_, vocab_[i].size());
    }
    special_text_.assign(vocab_.size(), false);
  }

  std::vector<std::int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override {
    std::vector<std::int32_t> out;
    if (add_special) out = prefix_;
    if (hf_) {
      for (const pretok::Fragment& f : added_raw_.split(text, !parse_special)) {
        if (f.id >= 0) {
          out.push_back(f.id);
          continue;
        }
        std::string norm;
        for (char32_t c : normalizer_.apply(text.substr(f.off, f.len))) uni::append_utf8(norm, c);
        for (const pretok::Fragment& g : added_normalized_.split(norm, !parse_special)) {
          if (g.id >= 0) out.push_back(g.id);
          else encode_hf(std::string_view(norm).substr(g.off, g.len), out);
        }
      }
    } else {
      for (const pretok::Fragment& f : pretok::partition_llama(text, parse_special ? specials_parse_ : specials_always_)) {
        if (f.id >= 0) out.push_back(f.id);
        else encode_wpm(text.substr(f.off, f.len), out);
      }
    }
    if (add_special) out.insert(out.end(), suffix_.begin(), suffix_.end());
    return out;
  }

  std::string decode(std::span<const std::int32_t> ids) const override {
    std::string out;
    bool first = true;
    for (const std::int32_t id : ids) {
      if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) fail(source_, ": token id ", id, " is outside the vocabulary of ", vocab_.size());
      const std::string& t = vocab_[static_cast<std::size_t>(id)];
      if (hf_) {
        // tokenizers' WordPiece decoder: "##x" glues to the previous token, others get a space.
        if (!special_text_[static_cast<std::size_t>(id)] && t.starts_with(prefix_text_)) out += t.substr(prefix_text_.size());
        else out += (first ? "" : " ") + t;
      } else {
        // llama.cpp: "▁" marks a word start and is rendered as a space.
        static const std::string kPhantom = "\xE2\x96\x81";
        if (!special_text_[static_cast<std::size_t>(id)] && t.starts_with(kPhantom)) out += " " + t.substr(kPhantom.size());
        else out += t;
      }
      first = false;
    }
    if (hf_ && cleanup_) return cleanup(out);
    if (!hf_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }

  std::string token_text(std::int32_t id) const override {
    if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) fail(source_, ": token id ", id, " is outside the vocabulary of ", vocab_.size());
    return vocab_[static_cast<std::size_t>(id)];
  }
  std::size_t vocab_size() const override { return vocab_.size(); }
  const SpecialTokens& special() const override { return special_; }

  std::int32_t id_of(const std::string& s) const {
    auto it = ids_.find(s);
    return it == ids_.end() ? -1 : it->second;
  }

  std::string source_;
  bool hf_;
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, std::int32_t> ids_;  // the model's vocabulary
  std::size_t max_len_ = 0;
  std::vector<bool> special_text_;
  std::vector<std::int32_t> prefix_, suffix_;
  SpecialTokens special_;
  std::int32_t unk_ = -1;
  // tokenizers flavour
  BertNormalizer normalizer_;
  std::string prefix_text_ = "##";
  std::size_t max_chars_ = 100;
  bool cleanup_ = true;
  pretok::AddedMatcher added_raw_, added_normalized_;
  // llama.cpp flavour
  bool wpm_lowercase_ = true, wpm_strip_accents_ = true;
  std::vector<pretok::LlamaSpecial> specials_parse_, specials_always_;

 private:
  // BertPreTokenizer on normalized text, then WordPiece per word.
  void encode_hf(std::string_view norm, std::vector<std::int32_t>& out) const {
    const auto cps = uni::decode(norm);
    std::size_t i = 0;
    while (i < cps.size()) {
      if (uni::has(cps[i].cp, uni::kWhitespace)) {
        ++i;
        continue;
      }
      std::size_t j = i;
      if (is_bert_punct(cps[i].cp)) {
        j = i + 1;
      } else {
        while (j < cps.size() && !uni::has(cps[j].cp, uni::kWhitespace) && !is_bert_punct(cps[j].cp)) ++j;
      }
      const std::size_t b = cps[i].off, e = cps[j - 1].off + cps[j - 1].len;
      word_piece(norm.substr(b, e - b), j - i, out);
      i = j;
    }
  }

  void word_piece(std::string_view word, std::size_t n_chars, std::vector<std::int32_t>& out) const {
    if (n_chars > max_chars_) {
      out.push_back(unk_);
      return;
    }
    const std::size_t before = out.size();
    std::size_t start = 0;
    std::string probe;
    while (start < word.size()) {
      std::size_t end = word.size();
      std::int32_t found = -1;
      while (start < end) {
        probe.assign(start > 0 ? prefix_text_ : std::string());
        probe.append(word.substr(start, end - start));
        if (const std::int32_t id = id_of(probe); id >= 0) {
          found = id;
          break;
        }
        do --end;  // drop the last character (back over continuation bytes)
        while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
      }
      if (found < 0) {
        out.resize(before);
        out.push_back(unk_);
        return;
      }
      out.push_back(found);
      start = end;
    }
  }

  // llama.cpp's llm_tokenizer_wpm_session: per-code-point normalization, then the
  // longest match at every byte of "▁" + word.
  void encode_wpm(std::string_view text, std::vector<std::int32_t>& out) const {
    std::vector<std::string> words(1);
    for (const uni::Cp& c : uni::decode(text)) {
      char32_t cp = c.cp;
      if (wpm_strip_accents_) cp = uni::nfd_first(cp);
      const std::uint16_t f = uni::flags(cp);
      if (f & uni::kWhitespace) {
        if (!words.back().empty()) words.emplace_back();
        continue;
      }
      if (cp == 0 || cp == 0xFFFD || (f & uni::kControl)) continue;
      if (wpm_strip_accents_ && (f & uni::kMark)) continue;
      const std::string s = uni::to_utf8(wpm_lowercase_ ? uni::to_lower_simple(cp) : cp);
      if ((f & uni::kPunct) || (cp < 0x7F && (f & uni::kSymbol)) || is_cjk(cp)) {
        if (!words.back().empty()) words.emplace_back();
        words.back() = s;
        words.emplace_back();
      } else {
        words.back() += s;
      }
    }
    for (const std::string& word : words) {
      if (word.empty()) continue;
      const std::string w = "\xE2\x96\x81" + word;
      const std::size_t n = w.size(), before = out.size();
      for (std::size_t i = 0; i < n; ++i) {
        bool match = false;
        for (std::size_t j = std::min(n, i + max_len_ + 1); j > i; --j) {
          if (const std::int32_t id = id_of(w.substr(i, j - i)); id >= 0) {
            out.push_back(id);
            match = true;
            i = j - 1;
            break;
          }
        }
        if (!match) {
          out.resize(before);
          break;
        }
      }
      if (out.size() == before) out.push_back(unk_);
    }
  }

  // tokenizers' decoders::wordpiece::cleanup: undo the spaces put before punctuation and
  // English contractions.
  static std::string cleanup(std::string s) {
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (const auto& [from, to] : kRules) {
      const std::string f = from, t = to;
      std::string r;
      std::size_t pos = 0;
      for (std::size_t hit; (hit = s.find(f, pos)) != std::string::npos; pos = hit + f.size()) r.append(s, pos, hit - pos).append(t);
      r.append(s, pos, std::string::npos);
      s.swap(r);
    }
    return s;
  }
};

}  // namespace

namespace {

std::unique_ptr<Tokenizer> build_from_json(const json& j, const std::string& source) {
  const json& m = member(j, "model", source, "tokenizer.json");
  const auto added = hfjson::parse_added_tokens(j, source, 1u << 24);
  std::vector<bool> added_only;
  auto t = std::make_unique<WordPiece>(source, hfjson::dense_vocab(member(m, "vocab", source, "model"), added, source, "WordPiece", added_only), true);
  for (std::size_t i = 0; i < added_only.size(); ++i)
    if (added_only[i]) t->ids_.erase(t->vocab_[i]);  // not a word piece the model can produce
  const std::string unk = str_member(m, "unk_token", source, "model");
  t->unk_ = t->id_of(unk);
  if (t->unk_ < 0) fail(source, ": WordPiece unk_token \"", unk, "\" is not in the vocabulary");
  if (m.contains("continuing_subword_prefix") && !m["continuing_subword_prefix"].is_null())
    t->prefix_text_ = str_member(m, "continuing_subword_prefix", source, "model");
  if (m.contains("max_input_chars_per_word") && !m["max_input_chars_per_word"].is_null()) {
    const json& v = m["max_input_chars_per_word"];
    if (!v.is_number_unsigned()) fail(source, ": model.max_input_chars_per_word is not a non-negative integer");
    t->max_chars_ = v.get<std::size_t>();
  }

  const json norm = j.value("normalizer", json());
  if (!norm.is_null()) {
    const std::string type = str_member(norm, "type", source, "normalizer");
    if (type != "BertNormalizer") fail(source, ": normalizer \"", type, "\" is not supported with WordPiece (BertNormalizer is)");
    BertNormalizer& n = t->normalizer_;
    n.clean_text = bool_member(norm, "clean_text", true, source, "BertNormalizer");
    n.handle_chinese_chars = bool_member(norm, "handle_chinese_chars", true, source, "BertNormalizer");
    n.lowercase = bool_member(norm, "lowercase", true, source, "BertNormalizer");
    n.strip_accents = bool_member(norm, "strip_accents", n.lowercase, source, "BertNormalizer");  // null: follows lowercase
  } else {
    t->normalizer_ = BertNormalizer{false, false, false, false};
  }
  const std::string pre = str_member(member(j, "pre_tokenizer", source, "tokenizer.json"), "type", source, "pre_tokenizer");
  if (pre != "BertPreTokenizer") fail(source, ": pre_tokenizer \"", pre, "\" is not supported with WordPiece (BertPreTokenizer is)");

  std::vector<pretok::AddedToken> raw, normalized;
  for (const auto& a : added) {
    (a.normalized ? normalized : raw).push_back(a);
    if (a.normalized) {  // tokenizers matches a normalized token by its normalized content
      normalized.back().content.clear();
      for (char32_t c : t->normalizer_.apply(a.content)) uni::append_utf8(normalized.back().content, c);
    }
    t->special_text_[static_cast<std::size_t>(a.id)] = true;
  }
  t->added_raw_ = pretok::AddedMatcher(std::move(raw));
  t->added_normalized_ = pretok::AddedMatcher(std::move(normalized));
  hfjson::parse_post_processor(j.value("post_processor", json()), source, t->prefix_, t->suffix_);
  for (const auto* list : {&t->prefix_, &t->suffix_})
    for (const auto id : *list)
      if (id < 0 || static_cast<std::size_t>(id) >= t->vocab_.size()) fail(source, ": post-processor token id ", id, " is outside the vocabulary");
  const json dec = j.value("decoder", json());
  if (dec.is_object() && dec.value("type", std::string()) == "WordPiece") t->cleanup_ = bool_member(dec, "cleanup", true, source, "decoder");

  SpecialTokens& sp = t->special_;
  sp.unk = t->unk_;
  if (!t->prefix_.empty()) sp.cls = t->prefix_.front();
  if (!t->suffix_.empty()) sp.sep = t->suffix_.back();
  if (const std::int32_t pad = t->id_of("[PAD]"); pad >= 0 && t->special_text_[static_cast<std::size_t>(pad)]) sp.pad = pad;
  return t;
}

}  // namespace

// nlohmann exceptions from members of unexpected types become lowbit::Error in
// load_tokenizer_json_text, the one caller.
std::unique_ptr<Tokenizer> make_wordpiece_from_json(const json& j, const std::string& source) { return build_from_json(j, source); }

std::unique_ptr<Tokenizer> make_wordpiece_from_gguf(const GgufFile& f) {
  const std::string& source = f.source();
  std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (tokens.empty()) fail(source, ": tokenizer.ggml.tokens is empty");
  if (tokens.size() >= (1u << 31)) fail(source, ": tokenizer.ggml.tokens has too many entries");
  for (std::size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i].empty()) tokens[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
  std::vector<std::int64_t> types;
  if (f.find_kv("tokenizer.ggml.token_type")) {
    types = f.get_int_array("tokenizer.ggml.token_type");
    if (types.size() < tokens.size()) fail(source, ": tokenizer.ggml.token_type has ", types.size(), " entries for ", tokens.size(), " tokens");
  }
  auto t = std::make_unique<WordPiece>(source, tokens, false);
  const std::size_t n = t->vocab_.size();
  auto id_key = [&](const char* key, std::int64_t dflt) -> std::int32_t {
    std::int64_t id = f.find_kv(key) ? f.get_int(key) : dflt;
    if (id < 0 || static_cast<std::size_t>(id) >= n) id = dflt;  // llama.cpp keeps the default
    return (id < 0 || static_cast<std::size_t>(id) >= n) ? -1 : static_cast<std::int32_t>(id);
  };
  SpecialTokens& sp = t->special_;
  sp.bos = sp.cls = id_key("tokenizer.ggml.bos_token_id", 101);  // llama.cpp's bert defaults
  sp.sep = id_key("tokenizer.ggml.seperator_token_id", 102);      // (sic: the key's spelling)
  sp.unk = t->unk_ = id_key("tokenizer.ggml.unknown_token_id", 100);
  sp.pad = id_key("tokenizer.ggml.padding_token_id", 0);
  if (sp.cls < 0 || sp.sep < 0 || sp.unk < 0) fail(source, ": a bert tokenizer needs [CLS], [SEP] and [UNK] ids inside the vocabulary");
  t->prefix_ = {sp.cls};
  t->suffix_ = {sp.sep};
  if (f.find_kv("tokenizer.ggml.normalizer.lowercase")) t->wpm_lowercase_ = f.get_bool("tokenizer.ggml.normalizer.lowercase");
  t->wpm_strip_accents_ = f.find_kv("tokenizer.ggml.normalizer.strip_accents") ? f.get_bool("tokenizer.ggml.normalizer.strip_accents")
                                                                                : t->wpm_lowercase_;
  // Special tokens (unknown 2, control 3, user defined 4), longest first; only user
  // defined ones are cut out when the caller does not ask for special parsing.
  std::vector<std::int32_t> order;
  for (std::size_t i = 0; i < n && i < types.size(); ++i)
    if (types[i] == 2 || types[i] == 3 || types[i] == 4) order.push_back(static_cast<std::int32_t>(i));
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    return t->vocab_[static_cast<std::size_t>(a)].size() > t->vocab_[static_cast<std::size_t>(b)].size();
  });
  for (const std::int32_t id : order) {
    t->specials_parse_.push_back({id, t->vocab_[static_cast<std::size_t>(id)]});
    if (types[static_cast<std::size_t>(id)] == 4) t->specials_always_.push_back({id, t->vocab_[static_cast<std::size_t>(id)]});
    t->special_text_[static_cast<std::size_t>(id)] = true;
  }
  return t;
}

}  // namespace lowbit::model
