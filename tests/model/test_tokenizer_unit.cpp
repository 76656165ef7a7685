// Structural properties of the tokenizers that need no peer: byte-level BPE round-trips
// any bytes (invalid UTF-8 included), pre-tokenizer splits cover their input exactly, the
// byte map is a bijection, added-token matching covers the text, encoding is the same
// from many threads, and malformed tokenizer.json files fail with errors naming the file.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/tokenizer.h"
#include "model/tokenizer_factories.h"
#include "model/tokenizer_pretokenize.h"
#include "model/tokenizer_unicode.h"

using namespace lowbit;
using nlohmann::json;

namespace {

// GPT-2's bytes_to_unicode, written out here from its definition.
std::string byte_char(int b) {
  const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  int n = 0;
  for (int c = 0; c < b; ++c)
    if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))) ++n;
  return model::uni::to_utf8(static_cast<char32_t>(printable ? b : 256 + n));
}

// A small byte-level BPE tokenizer.json: the 256 byte characters, a few merges, one
// special token, and the given pre-tokenizer.
json bytelevel_json(const json& pre) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"i", "n"}, {"Ġ", "a"}, {"e", "r"}, {"Ġ", "Ġ"}, {"in", "g"}};
  json m = json::array();
  int id = 256;
  for (const auto& [a, b] : merges) {
    vocab[a + b] = id++;
    m.push_back(a + " " + b);
  }
  json j;
  j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", m}, {"dropout", nullptr}, {"unk_token", nullptr}};
  j["added_tokens"] = json::array({{{"id", id}, {"content", "<|sp|>"}, {"special", true}, {"normalized", false}}});
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = pre;
  j["post_processor"] = nullptr;
  return j;
}

json byte_level_pre(bool prefix) { return {{"type", "ByteLevel"}, {"add_prefix_space", prefix}, {"use_regex", true}}; }

std::unique_ptr<Tokenizer> load(const json& j) { return model::load_tokenizer_json_text(j.dump(), "unit.json"); }

std::string random_bytes(std::mt19937& rng, std::size_t n, bool ascii_bias) {
  std::string s(n, '\0');
  std::uniform_int_distribution<int> byte(0, 255), pick(0, 9);
  const std::string common = "the in ing  t\n\r\t'sA1";
  for (char& c : s) c = static_cast<char>(ascii_bias && pick(rng) < 6 ? common[static_cast<std::size_t>(byte(rng)) % common.size()] : byte(rng));
  return s;
}

}  // namespace

TEST(TokenizerUnit, ByteLevelBpeRoundTripsArbitraryBytes) {
  std::mt19937 rng(7);
  for (const bool prefix : {false, true}) {
    const auto tok = load(bytelevel_json(byte_level_pre(prefix)));
    for (int i = 0; i < 2000; ++i) {
      const std::string s = random_bytes(rng, static_cast<std::size_t>(i % 64), i % 2 == 0);
      const auto ids = tok->encode(s, true, false);
      std::string back = tok->decode(ids);
      // add_prefix_space puts one space before text that does not start with one.
      if (prefix && !s.empty() && s[0] != ' ') {
        ASSERT_EQ(back[0], ' ');
        back.erase(0, 1);
      }
      ASSERT_EQ(back, s) << "case " << i;
    }
  }
}

TEST(TokenizerUnit, ByteLevelBpeMergesAndSpecialTokens) {
  const auto tok = load(bytelevel_json(byte_level_pre(false)));
  const auto ids = tok->encode("the thing<|sp|>", true, true);
  // "the" has no leading space so only h+e merges; " thing" -> "Ġt" + "h" + "ing".
  std::vector<std::string> texts;
  for (auto id : ids) texts.push_back(tok->token_text(id));
  EXPECT_EQ(texts, (std::vector<std::string>{"t", "he", "Ġt", "h", "ing", "<|sp|>"}));
  // Without special parsing the token's spelling is ordinary text.
  const auto plain = tok->encode("<|sp|>", true, false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(tok->decode(plain), "<|sp|>");
}

TEST(TokenizerUnit, PreTokenizerSplitsCoverTheirInput) {
  using model::pretok::Split;
  std::mt19937 rng(11);
  const std::vector<char32_t> alphabet = {'a', 'Z', ' ', ' ', '\t', '\n', '\r', '\'', 's', 'L', '1', '9', '.', '!', 0xE9,
                                          0x301, 0x4E2D, 0x1F600, 0xA0, 0x3000, 0x663, 0x2028, 0x378, 0x17F, '$', '|'};
  for (const Split kind : {Split::Gpt2, Split::Llama3, Split::Qwen2, Split::DigitsEach, Split::DigitsRuns, Split::PunctRuns,
                           Split::AsciiDigit3}) {
    for (int i = 0; i < 500; ++i) {
      std::string s;
      const int n = i % 40;
      for (int k = 0; k < n; ++k) model::uni::append_utf8(s, alphabet[rng() % alphabet.size()]);
      const auto cps = model::uni::decode(s);
      std::vector<model::pretok::Range> ranges{{0, static_cast<std::uint32_t>(cps.size())}};
      model::pretok::apply(kind, cps, ranges, i % 2 == 0);
      std::uint32_t at = 0;
      for (const auto& r : ranges) {
        ASSERT_EQ(r.b, at) << "gap or overlap, split " << static_cast<int>(kind) << " case " << i;
        ASSERT_LT(r.b, r.e) << "empty piece";
        at = r.e;
      }
      ASSERT_EQ(at, cps.size());
    }
  }
}

TEST(TokenizerUnit, ByteMapIsABijectionOntoPrintableCharacters) {
  const auto& m = model::pretok::byte_to_text();
  ASSERT_EQ(m.size(), 256u);
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(m[static_cast<std::size_t>(b)], byte_char(b));
    const auto cps = model::uni::code_points(m[static_cast<std::size_t>(b)]);
    ASSERT_EQ(cps.size(), 1u);
    EXPECT_EQ(model::pretok::text_char_to_byte(cps[0]), b);
    EXPECT_FALSE(model::uni::has(cps[0], model::uni::kWhitespace | model::uni::kControl));
  }
}

TEST(TokenizerUnit, AddedTokenMatchingIsLeftmostLongestAndCoversTheText) {
  using model::pretok::AddedToken;
  std::vector<AddedToken> toks(3);
  toks[0].id = 1, toks[0].content = "<a";
  toks[1].id = 2, toks[1].content = "<ab>";
  toks[2].id = 3, toks[2].content = "b>", toks[2].special = true;
  const model::pretok::AddedMatcher m(toks);
  const std::string text = "x<ab><a b>b>";
  const auto frags = m.split(text, false);
  std::vector<std::int32_t> ids;
  std::size_t at = 0;
  for (const auto& f : frags) {
    EXPECT_EQ(f.off, at);
    at += f.len;
    ids.push_back(f.id);
  }
  EXPECT_EQ(at, text.size());
  EXPECT_EQ(ids, (std::vector<std::int32_t>{-1, 2, 1, -1, 3, 3}));
  // Special tokens skipped: "b>" stays text.
  std::vector<std::int32_t> ids2;
  for (const auto& f : m.split(text, true)) ids2.push_back(f.id);
  EXPECT_EQ(ids2, (std::vector<std::int32_t>{-1, 2, 1, -1}));
}

TEST(TokenizerUnit, EncodingIsTheSameFromManyThreads) {
  const auto tok = load(bytelevel_json(byte_level_pre(false)));
  std::mt19937 rng(3);
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) texts.push_back(random_bytes(rng, 48, true));
  std::vector<std::vector<std::int32_t>> want;
  for (const auto& t : texts) want.push_back(tok->encode(t, false, false));
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int rep = 0; rep < 5; ++rep)
        for (std::size_t i = 0; i < texts.size(); ++i) bad[static_cast<std::size_t>(k)] += tok->encode(texts[i], false, false) != want[i];
    });
  for (auto& t : threads) t.join();
  for (int b : bad) EXPECT_EQ(b, 0);
}

TEST(TokenizerUnit, WordPieceCoversWordsGreedilyAndMarksLongWordsUnknown) {
  json vocab = {{"[UNK]", 0}, {"[CLS]", 1}, {"[SEP]", 2}, {"un", 3}, {"##aff", 4}, {"##able", 5}, {"a", 6}, {"##a", 7}, {"!", 8}};
  json j;
  j["model"] = {{"type", "WordPiece"}, {"vocab", vocab}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                {"max_input_chars_per_word", 5}};
  j["normalizer"] = {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                     {"strip_accents", nullptr}, {"lowercase", true}};
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  j["post_processor"] = {{"type", "BertProcessing"}, {"sep", {"[SEP]", 2}}, {"cls", {"[CLS]", 1}}};
  j["added_tokens"] = json::array();
  const auto tok = load(j);
  EXPECT_EQ(tok->encode("UNAFF! aaaaa aaaaaa unx", true, false), (std::vector<std::int32_t>{1, 3, 4, 8, 6, 7, 7, 7, 7, 0, 0, 2}));
  EXPECT_EQ(tok->special().cls, 1);
  EXPECT_EQ(tok->special().sep, 2);
  EXPECT_EQ(tok->decode(tok->encode("Unaff aa", false, false)), "unaff aa");
}

TEST(TokenizerUnit, MalformedTokenizerJsonFailsNamingTheFile) {
  auto expect_error = [](const json& j, const std::string& needle) {
    try {
      load(j);
      ADD_FAILURE() << "loaded: " << needle;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("unit.json"), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  };
  json j = bytelevel_json(byte_level_pre(false));
  j["model"]["merges"].push_back("Ġ zzz");
  expect_error(j, "not in the vocabulary");
  j = bytelevel_json({{"type", "Sequence"},
                      {"pretokenizers", json::array({{{"type", "Split"}, {"pattern", {{"Regex", "[a-z]+"}}}, {"behavior", "Isolated"}},
                                                     byte_level_pre(false)})}});
  expect_error(j, "[a-z]+");
  j = bytelevel_json({{"type", "Sequence"}, {"pretokenizers", json::array({byte_level_pre(false), {{"type", "Digits"}}})}});
  expect_error(j, "after ByteLevel");
  j = bytelevel_json(byte_level_pre(false));
  j["model"]["dropout"] = 0.1;
  expect_error(j, "dropout");
  j = bytelevel_json(byte_level_pre(false));
  j["added_tokens"][0]["id"] = -4;
  expect_error(j, "added token id");
  j = bytelevel_json(byte_level_pre(false));
  j["model"]["vocab"]["Ġt"] = "x";
  expect_error(j, "non-integer id");
  expect_error(json{{"model", {{"type", "Unigram"}}}}, "Unigram");
  EXPECT_THROW(model::load_tokenizer_json_text("{not json", "unit.json"), Error);
}
