// lowbit's SentencePiece-style tokenizers against their peers, every text's ids compared:
// llama.cpp (llama-cpp-python) on the real Gemma 3 270M GGUF vocabulary, and the
// `tokenizers` library on Llama-2-style tokenizer.json files. No Llama-2/Mistral
// tokenizer.json ships in any package here, so the peer trains that vocabulary itself
// (tests/peers/model_tokenizers_spm.py, on Sense and Sensibility) at test time.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/tokenizer.h"
#include "support/peer.h"

using namespace lowbit;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Texts that real prose lacks: characters outside any vocabulary (byte fallback), marks,
// whitespace runs and special-token spellings, the Gemma ones and the trained ones.
std::vector<std::string> handwritten_texts() {
  return {
      "",
      " ",
      "  ",
      "\n",
      "\t",
      "Caf\u00e9 d\u00e9j\u00e0 vu \u2014 na\u00efve co\u00f6peration, fa\u00e7ade, r\u00e9sum\u00e9.",
      "\u00c5ngstr\u00f6m \u00d8resund \u0141\u00f3d\u017a \u0160ibenik \u0131stanbul",
      "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3068\u4e2d\u6587\u5b57\u7b26\uff0c\u8fd8\u6709\ud55c\uad6d\uc5b4.",
      "Emoji: \U0001F600\U0001F44D\U0001F3FD \U0001F469\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466 \U0001F1EB\U0001F1F7 \u2728",
      "Combining: e\u0301 a\u0308 n\u0303 o\u0302\u0323 versus \u00e9 \u00e4 \u00f1",
      "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac, \u043a\u0438\u0440\u0438\u043b\u043b\u0438\u0446\u0430, "
      "\u0627\u0644\u0639\u0631\u0628\u064a\u0629, \u05e2\u05d1\u05e8\u05d9\u05ea, \u0939\u093f\u0928\u094d\u0926\u0940",
      "Math: \u2200x\u2208\u211d, \u2211\u1d62 x\u1d62\u00b2 \u2264 \u221e; \u00bd \u2153 \u00bc",
      "Rare: \U00013000\U00013050 \U00010330\U00010331 \ue000\uf8ff \ua66e \U0001F701 \U0010FFFD",
      "Control bytes: \x01\x02\x7f and a bell\x07.",
      "Zero width: a\u200bb\u200dc\ufeffd",
      "non\u00a0breaking\u00a0space and ideographic\u3000space",
      "two  spaces",
      "three   spaces and    four and                                         forty-one",
      " leading space",
      "   leading three",
      "trailing space ",
      "trailing three   ",
      "\ttab\tseparated\t",
      "\t\tdouble tab and \t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t forty",
      "line one\nline two",
      "\n\nleading newlines",
      "trailing newlines\n\n\n",
      "mixed \t \n \r\n whitespace \r",
      "\u2581 already escaped \u2581\u2581 marks\u2581",
      "<start_of_turn>user\nHello there<end_of_turn>\n<start_of_turn>model\n",
      "<start_of_turn>user\n",
      "<bos>",
      "<bos>Hello",
      "Hello<eos>",
      "<eos><eos>",
      " <start_of_turn> spaced <end_of_turn> ",
      "<unk><pad><mask>[multimodal]",
      "<unused0> and <unused99>",
      "</s> and <s> and <s>Hello</s>",
      "<table><tr><td>cell</td></tr></table><h1>Title</h1>",
      "<start_of_image><end_of_image>",
      "<<bos>> <start_of_turn start_of_turn> <bo s>",
      "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
      "<|im_end|>   after spaces",
      "<s>[INST] What is the time? [/INST] Noon.</s>",
      "[INST]no space[/INST]and after",
      "   [/INST] stripped left",
      "Emma and Emmanuel and EMMA and Emma's",
      "Anne, Annette, Anne's, (Anne), _Anne_, Anne1, \u00c9Anne, Anne\u0301 and Annexe",
      "<0x41><0xE2> written out",
      "1234567890 3.14159 1,000,000 -42 +7e-3",
      "!!!???...,,,;;; ''' \"\"\" ``` ~~~",
      "https://example.com/path?q=1&x=2#frag mail@example.org",
      "for (int i = 0; i < n; ++i) { x[i] = i * 2; }",
      "Supercalifragilisticexpialidocious antidisestablishmentarianism",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  };
}

std::vector<std::string> read_json_strings(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(json::parse(line).get<std::string>());
  return out;
}

// >= 10,000 lines of Persuasion and Emma plus paragraphs (from the peer's reader of the
// janeaustenr data), then the handwritten texts; written for the peer as JSON lines.
std::vector<std::string> write_texts(const fs::path& dir, int lines = 12000, int paragraphs = 400) {
  const fs::path austen = dir / "austen.jsonl";
  lowbit::testing::run_peer("model_tokenizers_spm.py",
                            {"austen", austen.string(), "--lines", std::to_string(lines), "--paragraphs", std::to_string(paragraphs)});
  std::vector<std::string> texts = read_json_strings(austen);
  for (auto& t : handwritten_texts()) texts.push_back(std::move(t));
  std::ofstream f(dir / "texts.jsonl");
  for (const auto& t : texts) f << json(t).dump() << "\n";
  return texts;
}

struct PeerRun {
  std::string file;
  bool add_special = false, parse_special = false;
  std::vector<std::vector<std::int32_t>> ids;
  std::vector<std::string> decoded;  // add_special && parse_special runs only
};

std::vector<PeerRun> read_peer(const fs::path& p, std::size_t n_texts) {
  std::ifstream f(p);
  std::vector<PeerRun> runs;
  for (std::string line; std::getline(f, line);) {
    const json j = json::parse(line);
    if (j.contains("file")) {
      runs.push_back({j["file"].get<std::string>(), j["add_special"].get<bool>(), j["parse_special"].get<bool>(), {}, {}});
      continue;
    }
    runs.back().ids.push_back(j["ids"].get<std::vector<std::int32_t>>());
    if (j.contains("text")) runs.back().decoded.push_back(j["text"].get<std::string>());
  }
  for (const auto& r : runs) EXPECT_EQ(r.ids.size(), n_texts) << r.file;
  return runs;
}

std::string show_ids(const std::vector<std::int32_t>& ids) {
  std::string s = "[";
  for (std::size_t i = 0; i < ids.size() && i < 20; ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + (ids.size() > 20 ? ", ... (" + std::to_string(ids.size()) + " ids)]" : "]");
}

struct Tally {
  std::size_t lines = 0, tokens = 0, mismatches = 0, decoded = 0, decode_mismatches = 0;
};

// Encodes every text in the run's mode and compares with the peer's ids; where the peer
// also decoded, compares lowbit's decoding of those ids.
void compare_run(const Tokenizer& tok, const PeerRun& run, const std::vector<std::string>& texts, const std::string& label,
                 Tally& tally) {
  const std::string mode = label + " add_special=" + (run.add_special ? "1" : "0") + " parse_special=" + (run.parse_special ? "1" : "0");
  std::size_t shown = 0, bad = 0;
  for (std::size_t i = 0; i < texts.size() && i < run.ids.size(); ++i) {
    const auto ours = tok.encode(texts[i], run.add_special, run.parse_special);
    const auto& theirs = run.ids[i];
    ++tally.lines;
    tally.tokens += theirs.size();
    if (ours != theirs) {
      ++bad;
      if (shown++ < 10)
        ADD_FAILURE() << mode << ": line " << i << " " << json(texts[i]).dump() << "\n  lowbit: " << show_ids(ours)
                      << "\n  peer:   " << show_ids(theirs);
    }
    if (i < run.decoded.size()) {
      ++tally.decoded;
      const auto text = tok.decode(theirs);
      if (text != run.decoded[i] && tally.decode_mismatches++ < 10)
        ADD_FAILURE() << mode << ": decode of line " << i << " ids " << show_ids(theirs) << "\n  lowbit: " << json(text).dump()
                      << "\n  peer:   " << json(run.decoded[i]).dump();
    }
  }
  tally.mismatches += bad;
  std::cout << "[" << mode << "] " << run.ids.size() << " texts, " << bad << " mismatches\n";
}

}  // namespace

// Gemma 3's 262,144-piece SentencePiece vocabulary: llama.cpp's tokenize() and
// llama_detokenize() against lowbit's, in all four add_special/parse_special modes.
TEST(PeerSpmLlamaCpp, Gemma3GgufIdsMatchOnAustenUnicodeAndSpecialText) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const auto texts = write_texts(dir);
  const auto model = json::parse(lowbit::testing::run_peer("gguf_model_paths.py", {}))["gemma3"].get<std::string>();

  const auto t0 = std::chrono::steady_clock::now();
  const auto file = GgufFile::open(model);
  const auto tok = load_tokenizer_gguf(file);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(tok->vocab_size(), 262144u);
  std::cout << "Gemma 3 vocabulary loaded in " << load_s * 1e3 << " ms\n";
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(load_s, 1.0) << "building the piece map should be quick";
#endif

  const fs::path out = dir / "gguf_ids.jsonl";
  lowbit::testing::run_peer("model_tokenizers_spm.py", {"gguf", model, (dir / "texts.jsonl").string(), out.string()});
  const auto runs = read_peer(out, texts.size());
  ASSERT_EQ(runs.size(), 4u);
  Tally tally;
  const auto t1 = std::chrono::steady_clock::now();
  for (const auto& run : runs) compare_run(*tok, run, texts, "gemma3", tally);
  const double enc_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  std::cout << "Gemma 3: " << tally.lines << " lines, " << tally.tokens << " tokens compared, " << tally.mismatches
            << " mismatches; " << tally.decoded << " decodings compared, " << tally.decode_mismatches << " differ ("
            << enc_s << " s)\n";
  EXPECT_EQ(tally.mismatches, 0u);
  EXPECT_EQ(tally.decode_mismatches, 0u);
  EXPECT_GE(tally.lines, 4u * 10000u);
}

// The Llama-2 flavour of the same algorithm on Gemma's vocabulary: a GGUF holding only
// Gemma 3's metadata with add_space_prefix and add_eos_token switched on (llama.cpp loads
// it vocab-only), so "▁" is prepended to the text and after every special token.
TEST(PeerSpmLlamaCpp, SpacePrefixAndEosFlagsMatchOnGemma3Vocabulary) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const auto texts = write_texts(dir, 3000, 100);
  const auto model = json::parse(lowbit::testing::run_peer("gguf_model_paths.py", {}))["gemma3"].get<std::string>();
  const fs::path variant = dir / "gemma3-space-prefix-eos.gguf";
  {
    GgufWriter w;
    w.copy_metadata(GgufFile::open(model));
    w.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(true));
    w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(true));
    w.write(variant);
  }
  const auto tok = load_tokenizer(variant);
  ASSERT_TRUE(tok->special().add_bos && tok->special().add_eos);

  const fs::path out = dir / "gguf_ids.jsonl";
  lowbit::testing::run_peer("model_tokenizers_spm.py", {"gguf", variant.string(), (dir / "texts.jsonl").string(), out.string()});
  const auto runs = read_peer(out, texts.size());
  ASSERT_EQ(runs.size(), 4u);
  Tally tally;
  for (const auto& run : runs) compare_run(*tok, run, texts, "gemma3+prefix+eos", tally);
  std::cout << "Gemma 3 with space prefix and EOS: " << tally.lines << " lines, " << tally.tokens << " tokens compared, "
            << tally.mismatches << " mismatches; " << tally.decoded << " decodings compared, " << tally.decode_mismatches
            << " differ\n";
  EXPECT_EQ(tally.mismatches, 0u);
  EXPECT_EQ(tally.decode_mismatches, 0u);
}

// HF tokenizer.json in the Llama-2 style (Prepend/Replace normalizer, byte fallback),
// without byte fallback (fused <unk>), and in the Metaspace pre-tokenizer style
// (prepend "first"; "always" + split + ignore_merges), with special and non-special,
// raw and normalized, lstrip/rstrip added tokens: the `tokenizers` library's ids.
TEST(PeerSpmBpeTokenizers, TrainedLlama2StyleJsonIdsMatchOnAustenUnicodeAndSpecialText) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const auto texts = write_texts(dir);
  const fs::path out = dir / "hf_ids.jsonl";
  lowbit::testing::run_peer("model_tokenizers_spm.py", {"hf", dir.string(), (dir / "texts.jsonl").string(), out.string()});
  const auto runs = read_peer(out, texts.size());
  ASSERT_EQ(runs.size(), 16u);
  Tally tally;
  std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  for (const auto& run : runs) {
    auto& tok = loaded[run.file];
    if (!tok) tok = load_tokenizer_json(run.file);
    compare_run(*tok, run, texts, fs::path(run.file).stem().string(), tally);
  }
  std::cout << "tokenizer.json variants: " << tally.lines << " lines, " << tally.tokens << " tokens compared, "
            << tally.mismatches << " mismatches; " << tally.decoded << " decodings compared, " << tally.decode_mismatches
            << " differ\n";
  EXPECT_EQ(tally.mismatches, 0u);
  EXPECT_EQ(tally.decode_mismatches, 0u);
}

// Malformed vocabularies fail with lowbit::Error naming the file and the problem.
namespace {

std::string spm_error(const std::vector<std::string>& tokens, std::size_t n_scores, const std::string& text = "") {
  GgufWriter w;
  w.set("tokenizer.ggml.model", GgufValue::string("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(tokens));
  std::vector<float> scores(n_scores, 0.0f);
  w.set("tokenizer.ggml.scores", GgufValue::array<float>(scores));
  const auto bytes = w.to_bytes();
  try {
    const auto f = GgufFile::parse(bytes, "tiny.gguf");
    load_tokenizer_gguf(f)->encode(text, false, false);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string json_error(json j) {
  const fs::path p = lowbit::testing::scratch_dir() / "tokenizer.json";
  std::ofstream(p) << j.dump();
  try {
    load_tokenizer_json(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

json tiny_bpe() {
  return {{"model",
           {{"type", "BPE"}, {"byte_fallback", true}, {"vocab", {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"ab", 3}}},
            {"merges", json::array({"a b"})}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr}};
}

}  // namespace

TEST(SpmTokenizerErrors, GgufVocabularyFaultsAreNamed) {
  EXPECT_NE(spm_error({"<unk>", "a", "a"}, 3).find("tiny.gguf: tokenizer.ggml.tokens holds \"a\" twice"), std::string::npos);
  EXPECT_NE(spm_error({"<unk>", "<s>", "</s>", "a"}, 2).find("tiny.gguf: tokenizer.ggml.scores"), std::string::npos);
  // "b" is no piece and the vocabulary has no <0x62> to fall back to.
  EXPECT_NE(spm_error({"<unk>", "<s>", "</s>", "a", "\xe2\x96\x81"}, 5, "ab").find("tiny.gguf: byte 0x62 is not in the vocabulary"),
            std::string::npos);
  EXPECT_EQ(spm_error({"<unk>", "<s>", "</s>", "a", "\xe2\x96\x81"}, 5, "a a"), "no error");
}

TEST(SpmTokenizerErrors, JsonMergeOutsideVocabulary) {
  auto j = tiny_bpe();
  j["model"]["merges"] = json::array({"a c"});
  EXPECT_NE(json_error(j).find("merge 1 names \"c\", which is not in model.vocab"), std::string::npos);
}

TEST(SpmTokenizerErrors, JsonUnsupportedPartsAreNamed) {
  auto j = tiny_bpe();
  j["normalizer"] = {{"type", "NFKC"}};
  EXPECT_NE(json_error(j).find("normalizer \"NFKC\" is not supported"), std::string::npos);
}

TEST(SpmTokenizerErrors, JsonDropoutRefused) {
  auto j = tiny_bpe();
  j["model"]["dropout"] = 0.1;
  EXPECT_NE(json_error(j).find("dropout"), std::string::npos);
}
