// Byte-level BPE (GPT-2, SmolLM, Llama-3, Qwen2): text is cut by a pre-tokenizer regex,
// each piece's bytes are mapped to printable characters and merged by rank. Two flavours
// share the merge loop: llama.cpp's (GGUF "gpt2": tokenizer.ggml.pre picks the regexes,
// special tokens are cut longest-first) and tokenizers' (tokenizer.json: a pre-tokenizer
// Sequence, added tokens matched leftmost-longest, a TemplateProcessing post-processor).
#include <algorithm>
#include <mutex>
#include <queue>
#include <unordered_map>

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include "lowbit/error.h"
#include "model/tokenizer_factories.h"
#include "model/tokenizer_hf_json.h"
#include "model/tokenizer_pretokenize.h"

namespace lowbit::model {
namespace {

using nlohmann::json;
using pretok::Split;
using hfjson::bool_member;
using hfjson::member;
using hfjson::str_member;

// llama.cpp's llama_token_attr bits that matter for splitting special tokens out.
enum : std::uint32_t { kAttrUnknown = 1 << 1, kAttrControl = 1 << 3, kAttrUserDefined = 1 << 4 };

// One step of a tokenizer.json pre-tokenizer Sequence (llama.cpp's lists are Splits only).
struct PreStep {
  bool byte_level = false;        // ByteLevel: optional prefix space, optional GPT-2 regex
  bool add_prefix_space = false;
  bool use_regex = true;
  Split split = Split::Gpt2;      // when !byte_level
};

struct MergeRule {
  std::int32_t rank;
  std::int32_t result;  // symbol id of the concatenation
};

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}

class ByteLevelBpe final : public Tokenizer {
 public:
  ByteLevelBpe(std::string source, std::vector<std::string> vocab, bool hf) : source_(std::move(source)), hf_(hf) {
    vocab_ = std::move(vocab);
    syms_.reserve(vocab_.size());
    for (std::size_t i = 0; i < vocab_.size(); ++i) {
      syms_.push_back(vocab_[i]);
      // llama.cpp's token_to_id[word] = i keeps the last id of a repeated text.
      sym_ids_[vocab_[i]] = static_cast<std::int32_t>(i);
    }
    special_text_.assign(vocab_.size(), false);
  }

  std::int32_t intern(const std::string& s) {
    auto [it, inserted] = sym_ids_.try_emplace(s, static_cast<std::int32_t>(syms_.size()));
    if (inserted) syms_.push_back(s);
    return it->second;
  }
  std::int32_t vocab_id(const std::string& s) const {
    auto it = sym_ids_.find(s);
    return (it != sym_ids_.end() && it->second < static_cast<std::int32_t>(vocab_.size())) ? it->second : -1;
  }
  // Tokens only the added vocabulary has are not symbols the BPE model may produce.
  void forget_symbol(std::int32_t id) {
    auto it = sym_ids_.find(vocab_[static_cast<std::size_t>(id)]);
    if (it != sym_ids_.end() && it->second == id) sym_ids_.erase(it);
  }
  // `first_wins` is llama.cpp's rule for a pair listed twice; tokenizers keeps the last.
  void add_merge(const std::string& a, const std::string& b, std::int32_t rank, bool first_wins) {
    const std::int32_t ia = intern(a), ib = intern(b), r = intern(a + b);
    auto [it, inserted] = merges_.try_emplace(pair_key(ia, ib), MergeRule{rank, r});
    if (!inserted && !first_wins) it->second = MergeRule{rank, r};
  }

  std::vector<std::int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override {
    std::vector<std::int32_t> body;
    if (hf_) encode_hf(text, parse_special, body);
    else encode_llama(text, parse_special, body);
    if (!add_special) return body;
    std::vector<std::int32_t> out(prefix_);
    out.insert(out.end(), body.begin(), body.end());
    out.insert(out.end(), suffix_.begin(), suffix_.end());
    return out;
  }

  std::string decode(std::span<const std::int32_t> ids) const override {
    std::string out;
    for (const std::int32_t id : ids) {
      if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) fail(source_, ": token id ", id, " is outside the vocabulary of ", vocab_.size());
      const std::string& t = vocab_[static_cast<std::size_t>(id)];
      if (special_text_[static_cast<std::size_t>(id)]) {
        out += t;
        continue;
      }
      for (const uni::Cp& c : uni::decode(t)) {
        const int b = pretok::text_char_to_byte(c.cp);
        if (b >= 0) out += static_cast<char>(b);
        else out.append(t, c.off, c.len);  // not a mapped byte: keep the character
      }
    }
    return out;
  }

  std::string token_text(std::int32_t id) const override {
    if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) fail(source_, ": token id ", id, " is outside the vocabulary of ", vocab_.size());
    return vocab_[static_cast<std::size_t>(id)];
  }
  std::size_t vocab_size() const override { return vocab_.size(); }
  const SpecialTokens& special() const override { return special_; }

  // Configuration, filled by the factories.
  std::string source_;
  bool hf_;
  std::vector<std::string> vocab_;
  std::vector<bool> special_text_;      // decode renders these ids as their raw text
  std::vector<PreStep> steps_;
  bool ignore_merges_ = false;
  std::vector<std::int32_t> prefix_, suffix_;  // added by encode(add_special=true)
  SpecialTokens special_;
  // llama.cpp flavour: tokens cut out of the text, longest first.
  std::vector<pretok::LlamaSpecial> specials_parse_, specials_always_;
  // tokenizers flavour.
  pretok::AddedMatcher added_raw_, added_normalized_;
  bool nfc_ = false;
  std::int32_t unk_ = -1;
  bool fuse_unk_ = false;

  std::string normalize(std::string_view s) const {
    if (!nfc_) return std::string(s);
    return nfc(s);
  }

 private:
  void encode_llama(std::string_view text, bool parse_special, std::vector<std::int32_t>& out) const {
    for (const pretok::Fragment& f : pretok::partition_llama(text, parse_special ? specials_parse_ : specials_always_)) {
      if (f.id >= 0) out.push_back(f.id);
      else encode_piece(text.substr(f.off, f.len), out);
    }
  }

  void encode_hf(std::string_view text, bool parse_special, std::vector<std::int32_t>& out) const {
    for (const pretok::Fragment& f : added_raw_.split(text, !parse_special)) {
      if (f.id >= 0) {
        out.push_back(f.id);
        continue;
      }
      const std::string piece = normalize(text.substr(f.off, f.len));
      for (const pretok::Fragment& g : added_normalized_.split(piece, !parse_special)) {
        if (g.id >= 0) out.push_back(g.id);
        else encode_piece(std::string_view(piece).substr(g.off, g.len), out);
      }
    }
  }

  static std::string nfc(std::string_view s);

  // Pre-tokenizes one stretch of plain text and BPE-encodes every piece.
  void encode_piece(std::string_view text, std::vector<std::int32_t>& out) const {
    if (text.empty()) return;
    std::vector<std::string> pieces{std::string(text)};
    for (const PreStep& st : steps_) {
      std::vector<std::string> next;
      for (std::string& p : pieces) {
        if (st.byte_level && st.add_prefix_space && (p.empty() || p[0] != ' ')) p.insert(p.begin(), ' ');
        if (st.byte_level && !st.use_regex) {
          next.push_back(std::move(p));
          continue;
        }
        const auto cps = uni::decode(p);
        std::vector<pretok::Range> ranges{{0, static_cast<std::uint32_t>(cps.size())}};
        pretok::apply(st.byte_level ? Split::Gpt2 : st.split, cps, ranges, hf_);
        for (const pretok::Range& r : ranges) {
          const std::size_t b = cps[r.b].off, e = cps[r.e - 1].off + cps[r.e - 1].len;
          next.push_back(p.substr(b, e - b));
        }
      }
      pieces.swap(next);
    }
    const auto& bytes = pretok::byte_to_text();
    std::string word;
    for (const std::string& p : pieces) {
      word.clear();
      for (const unsigned char c : p) word += bytes[c];
      encode_word(word, out);
    }
  }

  // BPE over the characters of one byte-mapped word (with a per-word cache).
  void encode_word(const std::string& word, std::vector<std::int32_t>& out) const {
    if (word.empty()) return;
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      if (auto it = cache_.find(word); it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<std::int32_t> ids;
    merge_word(word, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheLimit) cache_.clear();
    cache_.emplace(word, std::move(ids));
  }

  struct Sym {
    std::int32_t id;   // symbol id (vocab id when < vocab size), -1 if unknown
    std::uint32_t off, len;
    std::int32_t prev, next;
  };
  struct Cand {
    std::int32_t rank, left, right, left_id, right_id, result;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };

  void merge_word(const std::string& word, std::vector<std::int32_t>& ids) const {
    if (ignore_merges_) {
      if (const std::int32_t id = vocab_id(word); id >= 0) {
        ids.push_back(id);
        return;
      }
    }
    std::vector<Sym> syms;
    for (const uni::Cp& c : uni::decode(word)) {
      auto it = sym_ids_.find(word.substr(c.off, c.len));
      std::int32_t id = it != sym_ids_.end() ? it->second : -1;
      if (hf_ && (id < 0 || id >= static_cast<std::int32_t>(vocab_.size()))) {
        // tokenizers: a character outside the vocabulary is the unknown token (runs of
        // them fused into one when fuse_unk), or dropped when there is none.
        if (unk_ < 0) continue;
        if (fuse_unk_ && !syms.empty() && syms.back().id == unk_) {
          syms.back().len += c.len;
          continue;
        }
        id = unk_;
      }
      syms.push_back({id, c.off, c.len, static_cast<std::int32_t>(syms.size()) - 1, static_cast<std::int32_t>(syms.size()) + 1});
    }
    if (syms.empty()) return;
    syms.back().next = -1;
    std::priority_queue<Cand, std::vector<Cand>, std::greater<>> queue;
    auto consider = [&](std::int32_t l, std::int32_t r) {
      if (l < 0 || r < 0) return;
      const Sym& a = syms[static_cast<std::size_t>(l)];
      const Sym& b = syms[static_cast<std::size_t>(r)];
      if (a.id < 0 || b.id < 0) return;
      auto it = merges_.find(pair_key(a.id, b.id));
      if (it == merges_.end()) return;
      queue.push({it->second.rank, l, r, a.id, b.id, it->second.result});
    };
    for (std::size_t i = 1; i < syms.size(); ++i) consider(static_cast<std::int32_t>(i - 1), static_cast<std::int32_t>(i));
    while (!queue.empty()) {
      const Cand c = queue.top();
      queue.pop();
      Sym& l = syms[static_cast<std::size_t>(c.left)];
      Sym& r = syms[static_cast<std::size_t>(c.right)];
      // Stale: one side was merged away or grew since this pair was queued.
      if (l.len == 0 || r.len == 0 || l.next != c.right || l.id != c.left_id || r.id != c.right_id) continue;
      l.id = c.result;
      l.len += r.len;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) syms[static_cast<std::size_t>(r.next)].prev = c.left;
      consider(l.prev, c.left);
      consider(c.left, l.next);
    }
    const auto n_vocab = static_cast<std::int32_t>(vocab_.size());
    for (std::int32_t i = 0; i >= 0; i = syms[static_cast<std::size_t>(i)].next) {
      const Sym& s = syms[static_cast<std::size_t>(i)];
      if (s.id >= 0 && s.id < n_vocab) {
        ids.push_back(s.id);
        continue;
      }
      // llama.cpp: a piece that is no token falls back to its single bytes, each kept
      // only if the vocabulary has it.
      for (std::uint32_t k = 0; k < s.len; ++k)
        if (const std::int32_t b = vocab_id(word.substr(s.off + k, 1)); b >= 0) ids.push_back(b);
    }
  }

  static constexpr std::size_t kCacheLimit = 1 << 16;
  std::vector<std::string> syms_;                        // symbol id -> text
  std::unordered_map<std::string, std::int32_t> sym_ids_;
  std::unordered_map<std::uint64_t, MergeRule> merges_;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
};

std::string ByteLevelBpe::nfc(std::string_view s) {
  bool ascii = true;
  for (const unsigned char c : s) ascii = ascii && c < 0x80;
  if (ascii) return std::string(s);
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(err);
  if (U_FAILURE(err) || !n) fail("ICU: cannot load the NFC normalizer: ", u_errorName(err));
  const icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  const icu::UnicodeString r = n->normalize(u, err);
  if (U_FAILURE(err)) fail("ICU: NFC normalization failed: ", u_errorName(err));
  std::string out;
  r.toUTF8String(out);
  return out;
}

// ---- tokenizer.json -------------------------------------------------------------------

void parse_pre_tokenizer(const json& p, const std::string& source, std::vector<PreStep>& steps, int depth = 0) {
  if (!p.is_object()) fail(source, ": pre_tokenizer is not an object");
  if (depth > 8) fail(source, ": pre_tokenizer Sequences nested too deeply");
  const std::string type = str_member(p, "type", source, "pre_tokenizer");
  if (type == "Sequence") {
    const json& list = member(p, "pretokenizers", source, "pre_tokenizer Sequence");
    if (!list.is_array()) fail(source, ": pre_tokenizer Sequence.pretokenizers is not an array");
    for (const json& q : list) parse_pre_tokenizer(q, source, steps, depth + 1);
    return;
  }
  if (!steps.empty() && steps.back().byte_level)
    fail(source, ": pre_tokenizer ", type, " after ByteLevel is not supported (ByteLevel must come last)");
  PreStep st;
  if (type == "ByteLevel") {
    st.byte_level = true;
    st.add_prefix_space = bool_member(p, "add_prefix_space", true, source, "ByteLevel");
    st.use_regex = bool_member(p, "use_regex", true, source, "ByteLevel");
  } else if (type == "Digits") {
    st.split = bool_member(p, "individual_digits", false, source, "Digits") ? Split::DigitsEach : Split::DigitsRuns;
  } else if (type == "Split") {
    const json& pat = member(p, "pattern", source, "Split");
    const std::string behavior = p.value("behavior", std::string("Isolated"));
    if (!pat.is_object() || !pat.contains("Regex") || !pat["Regex"].is_string())
      fail(source, ": Split pre-tokenizer without a Regex pattern is not supported");
    const std::string re = pat["Regex"].get<std::string>();
    if (behavior != "Isolated" || bool_member(p, "invert", false, source, "Split"))
      fail(source, ": Split pre-tokenizer with behavior ", behavior, " (or invert) is not supported; only Isolated");
    if (!pretok::split_from_regex(re, st.split))
      fail(source, ": Split regex \"", re, "\" is not one lowbit implements (GPT-2, Llama-3, Qwen2, \\p{N}, \\p{N}+)");
  } else {
    fail(source, ": pre_tokenizer type \"", type, "\" is not supported with byte-level BPE");
  }
  steps.push_back(st);
}

// The first/last special token of the post-processor are BOS/EOS; unk from the model.
void fill_special(ByteLevelBpe& t) {
  t.special_.unk = t.unk_;
  if (!t.prefix_.empty()) t.special_.bos = t.prefix_.front(), t.special_.add_bos = true;
  if (!t.suffix_.empty()) t.special_.eos = t.suffix_.back(), t.special_.add_eos = true;
}

}  // namespace

namespace {

std::unique_ptr<Tokenizer> build_from_json(const json& j, const std::string& source) {
  const json& m = member(j, "model", source, "tokenizer.json");
  if (m.contains("dropout") && !m["dropout"].is_null() && !(m["dropout"].is_number() && m["dropout"].get<double>() == 0.0))
    fail(source, ": BPE dropout is random; lowbit only encodes deterministically (dropout must be null)");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (m.contains(k) && !m[k].is_null() && !(m[k].is_string() && m[k].get<std::string>().empty()))
      fail(source, ": BPE ", k, " is not supported with a ByteLevel pre-tokenizer");
  if (bool_member(m, "byte_fallback", false, source, "model"))
    fail(source, ": BPE byte_fallback is not supported with a ByteLevel pre-tokenizer");
  const auto added = hfjson::parse_added_tokens(j, source, 1u << 24);
  std::vector<bool> added_only;
  auto t = std::make_unique<ByteLevelBpe>(source, hfjson::dense_vocab(member(m, "vocab", source, "model"), added, source, "BPE", added_only), true);
  for (std::size_t i = 0; i < added_only.size(); ++i)
    if (added_only[i]) t->forget_symbol(static_cast<std::int32_t>(i));
  t->ignore_merges_ = bool_member(m, "ignore_merges", false, source, "model");
  t->fuse_unk_ = bool_member(m, "fuse_unk", false, source, "model");
  if (m.contains("unk_token") && !m["unk_token"].is_null()) {
    if (!m["unk_token"].is_string()) fail(source, ": model.unk_token is not a string");
    t->unk_ = t->vocab_id(m["unk_token"].get<std::string>());
    if (t->unk_ < 0) fail(source, ": model.unk_token \"", m["unk_token"].get<std::string>(), "\" is not in the vocabulary");
  }
  const json& merges = member(m, "merges", source, "model");
  if (!merges.is_array()) fail(source, ": model.merges is not an array");
  std::int32_t rank = 0;
  for (const json& e : merges) {
    std::string a, b;
    if (e.is_string()) {  // "left right"
      const std::string s = e.get<std::string>();
      const auto sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        fail(source, ": merge ", rank, " \"", s, "\" is not two tokens separated by one space");
      a = s.substr(0, sp), b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>(), b = e[1].get<std::string>();
    } else {
      fail(source, ": merge ", rank, " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    for (const std::string& text : {a, b, a + b}) {
      if (t->vocab_id(text) < 0) fail(source, ": merge ", rank, " (\"", a, "\", \"", b, "\") uses \"", text, "\", which is not in the vocabulary");
    }
    t->add_merge(a, b, rank++, false);
  }
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    const std::string type = str_member(j["normalizer"], "type", source, "normalizer");
    if (type != "NFC") fail(source, ": normalizer \"", type, "\" is not supported with byte-level BPE (none or NFC)");
    t->nfc_ = true;
  }
  parse_pre_tokenizer(member(j, "pre_tokenizer", source, "tokenizer.json"), source, t->steps_);
  if (t->steps_.empty() || !t->steps_.back().byte_level) fail(source, ": the pre_tokenizer has no ByteLevel step");
  std::vector<pretok::AddedToken> raw, normalized;
  for (const auto& a : added) {
    (a.normalized ? normalized : raw).push_back(a);
    // tokenizers matches a normalized token by its normalized content.
    if (a.normalized) normalized.back().content = t->normalize(a.content);
    t->special_text_[static_cast<std::size_t>(a.id)] = true;
  }
  t->added_raw_ = pretok::AddedMatcher(std::move(raw));
  t->added_normalized_ = pretok::AddedMatcher(std::move(normalized));
  hfjson::parse_post_processor(j.value("post_processor", json()), source, t->prefix_, t->suffix_);
  for (const auto* ids : {&t->prefix_, &t->suffix_})
    for (const auto id : *ids)
      if (id < 0 || static_cast<std::size_t>(id) >= t->vocab_.size())
        fail(source, ": post-processor token id ", id, " is outside the vocabulary");
  fill_special(*t);
  return t;
}

}  // namespace

// nlohmann exceptions from members of unexpected types become lowbit::Error in
// load_tokenizer_json_text, the one caller.
std::unique_ptr<Tokenizer> make_bytelevel_bpe_from_json(const json& j, const std::string& source) { return build_from_json(j, source); }

// ---- GGUF (llama.cpp) -----------------------------------------------------------------

namespace {

struct PreType {
  std::vector<Split> splits;
  bool ignore_merges = false;
  bool add_bos = false;
};

// llama-vocab.cpp: tokenizer.ggml.pre -> the regexes of llm_tokenizer_bpe and the flags
// its loader sets. Only families whose regexes lowbit implements are listed.
bool pre_type(const std::string& pre, PreType& out) {
  auto in = [&](std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(), [&](const char* n) { return pre == n; });
  };
  if (pre.empty() || pre == "default") {
    out.splits = {Split::PunctRuns, Split::Gpt2, Split::DigitsRuns, Split::AsciiDigit3};
  } else if (in({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"})) {
    out.splits = {Split::Llama3};
    out.ignore_merges = true;
    out.add_bos = true;
  } else if (in({"dbrx", "smaug-bpe"})) {
    out.splits = {Split::Llama3};
  } else if (in({"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "megrez", "hunyuan", "solar-open"})) {
    out.splits = {Split::Qwen2};
  } else if (in({"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"})) {
    out.splits = {Split::DigitsEach, Split::Gpt2};
  } else if (in({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
                 "modern-bert", "mpt", "olmo", "jais", "exaone4", "trillion", "granite-docling"})) {
    out.splits = {Split::Gpt2};
  } else {
    return false;
  }
  return true;
}

// Tokens llama.cpp marks as control by their text whatever their type says (end of
// generation, end of turn, fill-in-the-middle markers).
bool control_looking(const std::string& t) {
  static const char* const kNames[] = {
      "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
      "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
      "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
      "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>",
      "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>",
      "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>",
      "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
      "<reponame>", "<|file_sep|>"};
  return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return t == n; });
}

std::int32_t gguf_token_id(const GgufFile& f, const char* key, std::int32_t dflt, std::size_t n_vocab) {
  std::int64_t id = dflt;
  if (f.find_kv(key)) id = f.get_int(key);
  if (id < 0 || static_cast<std::size_t>(id) >= n_vocab) {
    // llama.cpp ignores an out-of-range key and falls back to the default, if that fits.
    id = dflt;
    if (id < 0 || static_cast<std::size_t>(id) >= n_vocab) return -1;
  }
  return static_cast<std::int32_t>(id);
}

}  // namespace

std::unique_ptr<Tokenizer> make_bytelevel_bpe_from_gguf(const GgufFile& f) {
  const std::string& source = f.source();
  std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (tokens.empty()) fail(source, ": tokenizer.ggml.tokens is empty");
  if (tokens.size() >= (1u << 31)) fail(source, ": tokenizer.ggml.tokens has too many entries");
  for (std::size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i].empty()) tokens[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
  std::vector<std::int64_t> types;
  if (f.find_kv("tokenizer.ggml.token_type")) {
    types = f.get_int_array("tokenizer.ggml.token_type");
    if (types.size() < tokens.size())
      fail(source, ": tokenizer.ggml.token_type has ", types.size(), " entries for ", tokens.size(), " tokens");
  }
  const std::string pre = f.find_kv("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : std::string();
  PreType pt;
  if (!pre_type(pre, pt))
    fail(source, ": tokenizer.ggml.pre \"", pre,
         "\" is not supported (default, gpt-2, smollm, llama-bpe/llama3, qwen2 and their aliases are)");
  if (!f.find_kv("tokenizer.ggml.merges")) fail(source, ": no tokenizer.ggml.merges, a gpt2 tokenizer needs them");
  const auto merges = f.get_string_array("tokenizer.ggml.merges");

  auto t = std::make_unique<ByteLevelBpe>(source, tokens, false);
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    const auto sp = m.find(' ', 1);  // llama.cpp: the first space after the first byte
    if (sp == std::string::npos) continue;  // llama.cpp files it under ("", ""), which never applies
    t->add_merge(m.substr(0, sp), m.substr(sp + 1), static_cast<std::int32_t>(i), true);
  }
  for (const Split s : pt.splits) {
    PreStep st;
    st.split = s;
    t->steps_.push_back(st);
  }
  t->ignore_merges_ = pt.ignore_merges;

  // Token attributes from token_type (llama_token_type: 2 unknown, 3 control, 4 user
  // defined), then llama.cpp's overrides by token text.
  const std::size_t n = t->vocab_.size();
  std::vector<std::uint32_t> attr(n, 0);
  for (std::size_t i = 0; i < n && i < types.size(); ++i) {
    if (types[i] == 2) attr[i] = kAttrUnknown;
    else if (types[i] == 3) attr[i] = kAttrControl;
    else if (types[i] == 4) attr[i] = kAttrUserDefined;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& s = t->vocab_[i];
    if (control_looking(s)) attr[i] |= kAttrControl;
    if (s == "<|channel|>" || s == "<|message|>" || s == "<|start|>" || s == "<|constrain|>") attr[i] = kAttrUserDefined;
  }
  std::vector<std::int32_t> order;
  for (std::size_t i = 0; i < n; ++i)
    if (attr[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) order.push_back(static_cast<std::int32_t>(i));
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    return t->vocab_[static_cast<std::size_t>(a)].size() > t->vocab_[static_cast<std::size_t>(b)].size();
  });
  for (const std::int32_t id : order) {
    const std::string& s = t->vocab_[static_cast<std::size_t>(id)];
    t->specials_parse_.push_back({id, s});
    if (!(attr[static_cast<std::size_t>(id)] & (kAttrControl | kAttrUnknown))) t->specials_always_.push_back({id, s});
    t->special_text_[static_cast<std::size_t>(id)] = true;
  }

  SpecialTokens& sp = t->special_;
  sp.bos = gguf_token_id(f, "tokenizer.ggml.bos_token_id", 11, n);  // llama.cpp's gpt2 defaults
  sp.eos = gguf_token_id(f, "tokenizer.ggml.eos_token_id", 11, n);
  sp.unk = gguf_token_id(f, "tokenizer.ggml.unknown_token_id", -1, n);
  sp.pad = gguf_token_id(f, "tokenizer.ggml.padding_token_id", -1, n);
  sp.add_bos = f.find_kv("tokenizer.ggml.add_bos_token") ? f.get_bool("tokenizer.ggml.add_bos_token") : pt.add_bos;
  sp.add_eos = f.find_kv("tokenizer.ggml.add_eos_token") ? f.get_bool("tokenizer.ggml.add_eos_token") : false;
  if (sp.add_bos) {
    if (sp.bos < 0) fail(source, ": add_bos_token is set but the BOS id is outside the vocabulary");
    t->prefix_.push_back(sp.bos);
  }
  if (sp.add_eos) {
    if (sp.eos < 0) fail(source, ": add_eos_token is set but the EOS id is outside the vocabulary");
    t->suffix_.push_back(sp.eos);
  }
  return t;
}

}  // namespace lowbit::model
