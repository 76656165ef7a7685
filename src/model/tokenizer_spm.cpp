// llama.cpp's SentencePiece tokenizer (GGUF tokenizer.ggml.model "llama": Llama-1/2,
// Mistral v1, Gemma 1-3): special tokens are cut out first (longest first), each text
// fragment has its spaces escaped to U+2581 and is merged pairwise by the score of the
// merged piece; what never became a piece falls back to <0xXX> byte tokens.
#include <algorithm>
#include <optional>
#include <array>
#include <cctype>
#include <cstdint>
#include <queue>
#include <unordered_set>

#include "lowbit/error.h"
#include "model/tokenizer_factories.h"

namespace lowbit::model {
namespace {

// llama_token_attr bits (llama.h); only the ones tokenizing and decoding look at.
enum : std::uint32_t {
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,
  kAttrRstrip = 1u << 8,
};

// tokenizer.ggml.token_type values (llama_token_type) -> attributes, as llama.cpp maps them.
std::uint32_t attr_of_type(std::int64_t type) {
  switch (type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return 0;  // undefined
  }
}

// The texts llama.cpp's loader recognises as control tokens even when the converter
// typed them otherwise (llama-vocab.cpp, load(): the FIM and end-of-generation lists).
// Gemma 3 types "</s>" user-defined, yet llama.cpp makes it control through this list,
// so it is no longer split out when parse_special is false.
constexpr std::array<std::string_view, 22> kEogTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>", "[e~["};

struct FimCategory {
  std::array<std::string_view, 2> keys;  // current and deprecated GGUF key ("" when none)
  std::vector<std::string_view> texts;
  bool end_of_generation;                // pad/rep/sep also stop generation
};

const std::vector<FimCategory>& fim_categories() {
  static const std::vector<FimCategory> k = {
      {{"tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id"},
       {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
        "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"},
       false},
      {{"tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id"},
       {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>", "<SUF>",
        "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"},
       false},
      {{"tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id"},
       {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
        "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"},
       false},
      {{"tokenizer.ggml.fim_pad_token_id", ""}, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}, true},
      {{"tokenizer.ggml.fim_rep_token_id", ""},
       {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"},
       true},
      {{"tokenizer.ggml.fim_sep_token_id", ""}, {"<|file_sep|>"}, true},
  };
  return k;
}

// C isspace in the "C" locale, which llama.cpp's lstrip/rstrip use on raw bytes.
bool c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Bytes of the UTF-8 sequence a lead byte announces, by its high nibble; continuation
// and invalid bytes count as one, exactly as llama.cpp's unicode_len_utf8.
std::size_t utf8_len(char c) {
  static constexpr std::array<std::uint8_t, 16> k = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return k[static_cast<std::uint8_t>(c) >> 4];
}

// The vocabulary's texts back to back, and text -> id built once. Open addressing with
// linear probing over twice as many slots as pieces; a slot keeps the piece's hash
// beside its id, so a lookup in a 262,144-piece vocabulary costs about one cache miss
// plus one compare (std::unordered_map costs three: bucket, node, text).
class Pieces {
 public:
  // Returns the first pair of ids sharing a text, if any (the map is then incomplete).
  std::optional<std::pair<std::int32_t, std::int32_t>> build(const std::vector<std::string>& texts) {
    const std::size_t n = texts.size();
    offsets_.assign(n + 1, 0);
    pool_.clear();
    for (std::size_t i = 0; i < n; ++i) {
      offsets_[i] = pool_.size();
      pool_ += texts[i];
    }
    offsets_[n] = pool_.size();
    std::size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    slots_.assign(cap, Slot{0, -1});
    mask_ = cap - 1;
    for (std::size_t i = 0; i < n; ++i) {
      const auto id = static_cast<std::int32_t>(i);
      const std::string_view t = text(id);
      const std::uint64_t h = hash(t);
      std::size_t at = h & mask_;
      for (; slots_[at].id >= 0; at = (at + 1) & mask_)
        if (slots_[at].hash == static_cast<std::uint32_t>(h >> 32) && text(slots_[at].id) == t)
          return std::make_pair(slots_[at].id, id);
      slots_[at] = {static_cast<std::uint32_t>(h >> 32), id};
    }
    return std::nullopt;
  }

  std::string_view text(std::int32_t id) const {
    const auto i = static_cast<std::size_t>(id);
    return {pool_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]};
  }

  std::int32_t find(std::string_view t) const {
    const std::uint64_t h = hash(t);
    for (std::size_t at = h & mask_;; at = (at + 1) & mask_) {
      const Slot& s = slots_[at];
      if (s.id < 0) return -1;
      if (s.hash == static_cast<std::uint32_t>(h >> 32) && text(s.id) == t) return s.id;
    }
  }

 private:
  struct Slot {
    std::uint32_t hash;  // high half of the 64-bit hash (the low half picks the slot)
    std::int32_t id;     // -1: empty
  };
  static std::uint64_t hash(std::string_view t) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a, then a final mix for the low bits
    for (const char c : t) h = (h ^ static_cast<std::uint8_t>(c)) * 1099511628211ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
  }
  std::string pool_;
  std::vector<std::size_t> offsets_;  // n + 1 offsets into pool_
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
};

constexpr std::string_view kSpaceMark = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(const GgufFile& f) : source_(f.source()) { load(f); }

  std::vector<std::int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override;
  std::string decode(std::span<const std::int32_t> ids) const override;
  std::string token_text(std::int32_t id) const override { return std::string(piece(check_id(id))); }
  std::size_t vocab_size() const override { return n_; }
  const SpecialTokens& special() const override { return special_; }

 private:
  struct Fragment {
    std::int32_t id;  // a special token, or -1 for raw text [off, off + len)
    std::size_t off, len;
  };
  struct Symbol {
    int prev, next;
    std::size_t off, n;  // bytes of the escaped fragment; n == 0 once merged away
  };
  struct Bigram {
    int left, right;
    float score;
    std::size_t size;
  };
  // Highest score first; among equal scores the leftmost pair (llm_bigram_spm's order).
  struct BigramLess {
    bool operator()(const Bigram& l, const Bigram& r) const {
      return l.score < r.score || (l.score == r.score && l.left > r.left);
    }
  };

  void load(const GgufFile& f);
  void apply_llama_attribute_rules(const GgufFile& f);
  void build_special_cache(const GgufFile& f);

  std::string_view piece(std::int32_t id) const { return pieces_.text(id); }
  std::int32_t find(std::string_view s) const { return pieces_.find(s); }
  std::int32_t check_id(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= n_) fail(source_, ": token id ", id, " is outside the vocabulary of ", n_);
    return id;
  }
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;
  void segment(std::string_view escaped, std::vector<std::int32_t>& out) const;

  std::string source_;
  std::size_t n_ = 0;
  std::vector<float> scores_;
  std::vector<std::uint32_t> attrs_;
  Pieces pieces_;
  std::array<std::int32_t, 256> byte_ids_{};                // -1 where the vocab has none
  // Control, user-defined and unknown tokens, longest first, in llama.cpp's order; and
  // for each first byte, the positions in that list of the tokens starting with it.
  std::vector<std::int32_t> special_order_;
  std::array<std::vector<std::uint32_t>, 256> special_by_byte_;
  SpecialTokens special_;
  bool add_space_prefix_ = true;
};

void SpmTokenizer::load(const GgufFile& f) {
  if (!f.find_kv("tokenizer.ggml.tokens")) fail(source_, ": no tokenizer.ggml.tokens array");
  std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens");
  n_ = tokens.size();
  if (n_ == 0) fail(source_, ": tokenizer.ggml.tokens is empty");
  if (n_ > static_cast<std::size_t>(INT32_MAX)) fail(source_, ": tokenizer.ggml.tokens has ", n_, " entries, more than token ids can count");

  // A numeric array of at least n_ entries (llama.cpp ignores any beyond).
  auto numbers = [&](const char* key) -> std::vector<double> {
    const GgufValue& v = f.value(key);
    if (!v.is_array()) fail(source_, ": ", key, " is ", v.describe(), ", not an array");
    if (v.size() < n_) fail(source_, ": ", key, " has ", v.size(), " entries for ", n_, " tokens");
    const GgufType e = v.element_type();
    if (e == GgufType::F32 || e == GgufType::F64) return v.as_float_array();
    if (e == GgufType::String || e == GgufType::Bool || e == GgufType::Array)
      fail(source_, ": ", key, " is ", v.describe(), ", not an array of numbers");
    const auto ints = v.as_int_array();
    return {ints.begin(), ints.end()};
  };
  scores_.assign(n_, 0.0f);
  if (f.find_kv("tokenizer.ggml.scores")) {
    const auto s = numbers("tokenizer.ggml.scores");  // llama.cpp takes f32 or i32 scores
    for (std::size_t i = 0; i < n_; ++i) scores_[i] = static_cast<float>(s[i]);
  }
  attrs_.assign(n_, kAttrNormal);
  if (f.find_kv("tokenizer.ggml.token_type")) {
    const auto t = numbers("tokenizer.ggml.token_type");
    for (std::size_t i = 0; i < n_; ++i) attrs_[i] = attr_of_type(static_cast<std::int64_t>(t[i]));
  }

  for (std::size_t i = 0; i < n_; ++i)
    // llama.cpp renames empty pieces so that every id keeps a distinct text.
    if (tokens[i].empty()) tokens[i] = "[EMPTY_" + std::to_string(i) + "]";
  if (const auto d = pieces_.build(tokens))
    fail(source_, ": tokenizer.ggml.tokens holds \"", tokens[static_cast<std::size_t>(d->first)], "\" twice (ids ", d->first,
         " and ", d->second, "); llama.cpp refuses such a vocabulary");
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    std::int32_t id = find(std::string_view(name, 6));
    const char raw = static_cast<char>(b);
    if (id < 0) id = find(std::string_view(&raw, 1));  // llama.cpp's second try: the byte itself
    byte_ids_[static_cast<std::size_t>(b)] = id;
  }

  // Defaults of llama.cpp for "llama" vocabularies, then the file's keys where in range.
  auto id_key = [&](const char* key, std::int32_t def) {
    std::int32_t id = def >= 0 && static_cast<std::size_t>(def) < n_ ? def : -1;
    if (f.find_kv(key)) {
      const std::int64_t v = f.get_int(key);
      if (v >= 0 && static_cast<std::size_t>(v) < n_) id = static_cast<std::int32_t>(v);
    }
    return id;
  };
  special_.bos = id_key("tokenizer.ggml.bos_token_id", 1);
  special_.eos = id_key("tokenizer.ggml.eos_token_id", 2);
  special_.unk = id_key("tokenizer.ggml.unknown_token_id", 0);
  special_.pad = id_key("tokenizer.ggml.padding_token_id", -1);
  special_.sep = id_key("tokenizer.ggml.seperator_token_id", -1);  // sic: llama.cpp's key
  special_.cls = id_key("tokenizer.ggml.cls_token_id", -1);
  auto flag = [&](const char* key, bool def) { return f.find_kv(key) ? f.get_bool(key) : def; };
  special_.add_bos = flag("tokenizer.ggml.add_bos_token", true);
  special_.add_eos = flag("tokenizer.ggml.add_eos_token", false);
  add_space_prefix_ = flag("tokenizer.ggml.add_space_prefix", true);
  if (special_.add_bos && special_.bos < 0) fail(source_, ": add_bos_token is set but the vocabulary has no BOS token");
  if (special_.add_eos && special_.eos < 0) fail(source_, ": add_eos_token is set but the vocabulary has no EOS token");

  apply_llama_attribute_rules(f);
  build_special_cache(f);
}

// llama.cpp retypes some tokens by their text when it loads a vocabulary; tokenizing
// depends on it because only control/user-defined/unknown tokens are split out, and
// control ones only with parse_special.
void SpmTokenizer::apply_llama_attribute_rules(const GgufFile& f) {
  std::unordered_set<std::int32_t> eog;
  // An id key in the vocabulary's range, or -1 (llama.cpp ignores one out of range).
  auto key_id = [&](std::string_view key) -> std::int32_t {
    if (key.empty() || !f.find_kv(key)) return -1;
    const std::int64_t v = f.get_int(key);
    return v >= 0 && static_cast<std::size_t>(v) < n_ ? static_cast<std::int32_t>(v) : -1;
  };
  for (const auto& cat : fim_categories()) {
    std::int32_t id = -1;
    for (const auto& key : cat.keys)
      if (const auto k = key_id(key); k >= 0) id = k;
    if (id < 0) {
      // Without a key the loader takes a token named like the category. (A vocabulary
      // holding two such names is ambiguous in llama.cpp too: it takes whichever its
      // hash map yields first; lowbit marks both.)
      for (const auto& t : cat.texts)
        if (const auto found = find(t); found >= 0) {
          attrs_[found] |= kAttrControl;
          id = found;
        }
    }
    if (cat.end_of_generation && id >= 0) eog.insert(id);
  }
  for (const auto& t : kEogTexts)
    if (const auto id = find(t); id >= 0) {
      attrs_[id] |= kAttrControl;
      eog.insert(id);
    }
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (const auto k = key_id(key); k >= 0) eog.insert(k);
  if (special_.eos >= 0) eog.insert(special_.eos);
  // gpt-oss: always rendered, so user-defined.
  for (const char* t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})
    if (const auto id = find(t); id >= 0) attrs_[id] = kAttrUserDefined;
  auto in_eog = [&](std::string_view t) {
    const auto id = find(t);
    return id >= 0 && eog.count(id) ? id : -1;
  };
  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
  const bool has_call = in_eog("<|call|>") >= 0 || in_eog("<|calls|>") >= 0;
  if (const auto end = in_eog("<|end|>"); end >= 0 && has_call && (in_eog("<|return|>") >= 0 || in_eog("<|flush|>") >= 0))
    attrs_[end] = kAttrUserDefined;
  // gemma4 / plamo: "</s>" is an ordinary piece there.
  if (const auto s = in_eog("</s>"); s >= 0 && (in_eog("<|tool_response>") >= 0 || in_eog("<|plamo:eos|>") >= 0))
    attrs_[s] = kAttrNormal;
}

void SpmTokenizer::build_special_cache(const GgufFile& f) {
  for (std::size_t i = 0; i < n_; ++i)
    if (attrs_[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_order_.push_back(static_cast<std::int32_t>(i));
  // The same unstable sort on the same input as llama.cpp, so equal-length tokens that
  // overlap in a text are tried in llama.cpp's order.
  std::sort(special_order_.begin(), special_order_.end(),
            [&](std::int32_t a, std::int32_t b) { return piece(a).size() > piece(b).size(); });
  for (std::size_t k = 0; k < special_order_.size(); ++k)
    special_by_byte_[static_cast<std::uint8_t>(piece(special_order_[k])[0])].push_back(static_cast<std::uint32_t>(k));

  // Phi-3 strips whitespace after its special tokens (llama.cpp keys it on the model name).
  std::string name = f.find_kv("general.name") ? f.get_string("general.name") : std::string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (const auto id : special_order_) attrs_[id] |= kAttrRstrip;
    if (const auto id = find("</s>"); id >= 0) attrs_[id] |= kAttrRstrip;
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"})
      if (const auto id = find(t); id >= 0) attrs_[id] &= ~kAttrRstrip;
  }
}

// llama.cpp's tokenizer_st_partition: each special token in turn (longest first) cuts
// every remaining raw fragment at each of its occurrences.
std::vector<SpmTokenizer::Fragment> SpmTokenizer::partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  // Only tokens that occur somewhere in the text can cut a fragment of it; finding them
  // first keeps a 6000-token special list cheap on short texts.
  std::array<bool, 256> present{};
  for (char c : text) present[static_cast<std::uint8_t>(c)] = true;
  std::vector<std::uint32_t> candidates;
  for (int b = 0; b < 256; ++b)
    if (present[static_cast<std::size_t>(b)])
      for (const auto k : special_by_byte_[static_cast<std::size_t>(b)]) {
        const auto id = special_order_[k];
        if (!parse_special && (attrs_[id] & (kAttrControl | kAttrUnknown))) continue;
        if (text.find(piece(id)) != std::string_view::npos) candidates.push_back(k);
      }
  std::sort(candidates.begin(), candidates.end());

  std::vector<Fragment> next;
  for (const auto k : candidates) {
    const auto id = special_order_[k];
    const std::string_view t = piece(id);
    const std::uint32_t attr = attrs_[id];
    next.clear();
    for (const auto& fr : frags) {
      if (fr.id >= 0) {
        next.push_back(fr);
        continue;
      }
      const std::size_t end = fr.off + fr.len;
      std::size_t pos = fr.off;
      bool matched = false;
      for (;;) {
        const std::size_t m = text.substr(0, end).find(t, pos);
        if (m == std::string_view::npos) break;
        matched = true;
        std::size_t left = m - pos;
        if (attr & kAttrLstrip)
          while (left > 0 && c_space(text[pos + left - 1])) --left;
        if (left > 0) next.push_back({-1, pos, left});
        next.push_back({id, 0, 0});
        pos = m + t.size();
        if (attr & kAttrRstrip)
          while (pos < end && c_space(text[pos])) ++pos;
        if (pos >= end) break;
      }
      if (!matched) next.push_back(fr);
      else if (pos < end) next.push_back({-1, pos, end - pos});
    }
    frags.swap(next);
  }
  return frags;
}

// llm_tokenizer_spm_session::tokenize: start from UTF-8 characters and keep merging the
// adjacent pair whose concatenation is the best-scoring piece. A merged symbol is always
// a piece (a pair is only queued when it is one), so llama.cpp's re-segmentation of
// unknown symbols reduces to byte fallback for single characters outside the vocabulary.
void SpmTokenizer::segment(std::string_view s, std::vector<std::int32_t>& out) const {
  std::vector<Symbol> sym;
  sym.reserve(s.size());
  for (std::size_t off = 0; off < s.size();) {
    const std::size_t n = std::min(utf8_len(s[off]), s.size() - off);
    const int index = static_cast<int>(sym.size());
    sym.push_back({index - 1, off + n == s.size() ? -1 : index + 1, off, n});
    off += n;
  }
  std::priority_queue<Bigram, std::vector<Bigram>, BigramLess> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::size_t size = sym[static_cast<std::size_t>(left)].n + sym[static_cast<std::size_t>(right)].n;
    const std::int32_t id = find(s.substr(sym[static_cast<std::size_t>(left)].off, size));
    if (id < 0) return;
    queue.push({left, right, scores_[static_cast<std::size_t>(id)], size});
  };
  for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_add(i - 1, i);
  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = sym[static_cast<std::size_t>(b.left)];
    Symbol& r = sym[static_cast<std::size_t>(b.right)];
    // Stale: one side was merged since (sizes only grow, so a changed side never
    // matches the recorded size again).
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<std::size_t>(r.next)].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  for (int i = sym.empty() ? -1 : 0; i != -1; i = sym[static_cast<std::size_t>(i)].next) {
    const Symbol& x = sym[static_cast<std::size_t>(i)];
    const std::string_view text = s.substr(x.off, x.n);
    if (const auto id = find(text); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (const char c : text) {
      const auto id = byte_ids_[static_cast<std::uint8_t>(c)];
      if (id < 0)
        fail(source_, ": byte 0x", "0123456789ABCDEF"[static_cast<std::uint8_t>(c) >> 4],
             "0123456789ABCDEF"[static_cast<std::uint8_t>(c) & 15],
             " is not in the vocabulary and has no <0xXX> token to fall back to");
      out.push_back(id);
    }
  }
}

std::vector<std::int32_t> SpmTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<std::int32_t> out;
  if (add_special && special_.add_bos) out.push_back(special_.bos);
  // A fragment at the start or after a special token gets the SentencePiece prefix space.
  bool prev_special = true;
  std::string escaped;
  for (const auto& fr : partition(text, parse_special)) {
    if (fr.id >= 0) {
      out.push_back(fr.id);
      prev_special = true;
      continue;
    }
    escaped.clear();
    if (add_space_prefix_ && prev_special) escaped += kSpaceMark;
    for (const char c : text.substr(fr.off, fr.len)) {
      if (c == ' ') escaped += kSpaceMark;
      else escaped += c;
    }
    segment(escaped, out);
    prev_special = false;
  }
  if (add_special && special_.add_eos) out.push_back(special_.eos);
  return out;
}

// llama_detokenize(remove_special = false, unparse_special = true): special and
// user-defined pieces as written, U+2581 back to spaces, byte tokens as their byte, and
// the prefix space of the first piece dropped when the vocabulary adds one.
std::string SpmTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string out;
  bool remove_space = add_space_prefix_;
  for (const auto raw : ids) {
    const auto id = check_id(raw);
    const std::uint32_t attr = attrs_[static_cast<std::size_t>(id)];
    std::string p;
    if (attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
      p = piece(id);
    } else if (attr & kAttrNormal) {
      const std::string_view t = piece(id);
      for (std::size_t i = 0; i < t.size();) {
        if (t.substr(i, kSpaceMark.size()) == kSpaceMark) {
          p += ' ';
          i += kSpaceMark.size();
        } else {
          p += t[i++];
        }
      }
    } else if (attr & kAttrByte) {
      const std::string_view t = piece(id);
      auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
      if (t.size() == 6 && t.substr(0, 3) == "<0x" && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
          std::isxdigit(static_cast<unsigned char>(t[4])))
        p = std::string(1, static_cast<char>(hex(t[3]) * 16 + hex(t[4])));
      else
        p = t;  // the vocabulary's fallback of a byte as itself
    }
    if (remove_space && !p.empty() && p[0] == ' ') p.erase(0, 1);
    remove_space = false;
    out += p;
  }
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> make_spm_from_gguf(const GgufFile& f) { return std::make_unique<SpmTokenizer>(f); }

}  // namespace lowbit::model
