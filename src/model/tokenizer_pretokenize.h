// Pre-tokenization shared by the tokenizer families: the GPT-2 / Llama-3 / Qwen2 split
// regexes written out by hand (std::regex is slow and knows no \p{L}), digit splitting,
// GPT-2's byte-to-character map, and the two ways special tokens are cut out of text
// (llama.cpp's longest-token-first partition and tokenizers' leftmost-longest match).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer_unicode.h"

namespace lowbit::model::pretok {

// A piece of decoded text: code point indices [b, e).
struct Range {
  std::uint32_t b, e;
};

// One splitting step; each refines every range into consecutive sub-ranges that cover it.
enum class Split {
  Gpt2,         // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Llama3,       // (?i:'s|...|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  Qwen2,        // as Llama3 with \p{N} instead of \p{N}{1,3}
  DigitsEach,   // \p{N}, each isolated (tokenizers' Digits{individual_digits: true})
  DigitsRuns,   // \p{N}+ isolated (Digits{individual_digits: false})
  PunctRuns,    // [\p{P}\$\+<=>\^~\|]+ isolated (llama.cpp's "default" pre-tokenizer)
  AsciiDigit3,  // [0-9][0-9][0-9] isolated, left to right
};

// `fold_long_s`: tokenizers matches (?i:'s) with Unicode case folding, where U+017F (long
// s) folds to 's'; llama.cpp compares lowercase forms, where it does not.
void apply(Split kind, const std::vector<uni::Cp>& text, std::vector<Range>& ranges, bool fold_long_s = false);

// The regex of a tokenizer.json Split pre-tokenizer that lowbit implements, or false.
bool split_from_regex(std::string_view regex, Split& out);

// GPT-2's reversible map from bytes to printable characters (UTF-8 of each).
const std::vector<std::string>& byte_to_text();
// Inverse: the byte of a mapped character, or -1.
int text_char_to_byte(char32_t cp);

// A fragment of text after special tokens are cut out: either a token id or a byte range.
struct Fragment {
  std::int32_t id = -1;  // >= 0: a special/added token
  std::size_t off = 0, len = 0;
};

// llama.cpp's tokenizer_st_partition: for each token (longest text first), every text
// fragment is split at each occurrence of that token's text.
struct LlamaSpecial {
  std::int32_t id;
  std::string text;
};
std::vector<Fragment> partition_llama(std::string_view text, const std::vector<LlamaSpecial>& longest_first);

// tokenizers' AddedVocabulary matching: leftmost-longest over all tokens (an Aho-Corasick
// with LeftmostLongest), then per-token single_word / lstrip / rstrip, and special tokens
// skipped when `skip_special` (tokenizers' encode_special_tokens).
struct AddedToken {
  std::int32_t id = -1;
  std::string content;
  bool special = false, single_word = false, lstrip = false, rstrip = false, normalized = false;
};
class AddedMatcher {
 public:
  AddedMatcher() = default;
  explicit AddedMatcher(std::vector<AddedToken> tokens);
  bool empty() const { return tokens_.empty(); }
  std::vector<Fragment> split(std::string_view text, bool skip_special) const;

 private:
  struct Node {
    std::int32_t token = -1;             // index into tokens_ of the token ending here
    std::vector<std::pair<unsigned char, std::int32_t>> next;  // sorted by byte
  };
  std::int32_t child(std::int32_t node, unsigned char c) const;
  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
};

}  // namespace lowbit::model::pretok
