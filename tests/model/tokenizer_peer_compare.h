// Shared by the tokenizer peer tests: the corpus (Austen lines from the peer plus the
// hand-written hard cases below), the peer's id files, and a line-by-line comparison that
// prints the first mismatches with both id lists.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lowbit/tokenizer.h"
#include "support/peer.h"

namespace lowbit::testing::tok {

// Text that real prose rarely has: accents (composed and combining), CJK, emoji (with
// joiners, skin tones, variation selectors, one newer than most tables), Greek, runs and
// kinds of whitespace, digits in several scripts, contractions in capitals, special-token
// spellings, control and format characters, very long words.
inline std::vector<std::string> hard_lines() {
  std::vector<std::string> v = {
      "Café naïve résumé coöperate façade — jalapeño, Ångström, Øresund, straße",
      "e\xCC\x81 a\xCC\x80 n\xCC\x83 o\xCC\x88\xCC\x81 decomposed accents and Z\xCD\x91\xCD\x92""a\xCD\xABl\xCD\x86g\xCD\x90o",
      "日本語のテキストと中文混合、句読点。「引用」",
      "한국어 문장입니다. ไทย ภาษา हिन्दी भाषा العربية עברית",
      "I ❤️ emoji 😀👍🏽 and 🫠 (new) 👨‍👩‍👧 family 🇫🇷 flag",
      "Ελληνικά: ΣΊΣΥΦΟΣ σίσυφος ΟΔΥΣΣΕΎΣ",
      "İstanbul ıi ſ long s, it'ſ odd, DİYARBAKIR",
      "multiple   spaces    here     and  two",
      "tabs\tand\t\ttabs\t",
      "windows\r\nline\r\nends\r\n",
      "trailing spaces   ",
      "   leading spaces",
      "\n\nnewlines\n\n\nin a row\n",
      " \t \n mixed \xC2\xA0nbsp\xE2\x80\x83""em space\xE3\x80\x80ideographic \xE2\x80\xA8line sep\xC2\x85nel",
      "1234567890 12 345 6789 3.14159 1,000,000 and 0.5%",
      "Arabic-Indic \xD9\xA3\xD9\xA4\xD9\xA5 superscript ²³ fraction ½ roman Ⅻ circled ①②",
      "DON'T I'LL WE'RE YOU'VE SHE'S I'M HE'D THEY'RE can't won't",
      "don't i'll O'Neil rock'n'roll 'tis the ’s curly ‘quoted’ “double”",
      "'S 'T 'Re 'rE 'LL 'Ll 'D 'M 've",
      "<|im_start|>user\nHello there!<|im_end|>\n<|im_start|>assistant\n",
      "<|endoftext|>",
      "text<|im_end|>more<|im_end|><|im_end|>",
      "<|im_start|><|im_start|> <|im_start <|im_end |>",
      "<repo_name>x<reponame>y<file_sep>z<filename>",
      "def f(x):\n    return x**2  # comment\n\n\tpass",
      "if (a && b) { return c[i] != d->e; } // done",
      "Wait... what?!?! --- *** ~~~ ___",
      "$100 + 50% = <>^~| `backtick` @user #tag",
      "bell\x07 char, escape\x1B[0m, del\x7F end",
      std::string("nul\0inside", 10),
      "zero\xE2\x80\x8Bwidth soft\xC2\xADhyphen \xEF\xBB\xBF""BOM \xE2\x80\x8D joiner",
      "private \xEE\x80\x80 use, unassigned \xCD\xB8, noncharacter \xEF\xBF\xBF",
      "<tool> call <tool>x  <tool>  end<tool>",
      "hello othello hello! _hello hello_ hellos 1hello hello",
      "ZZTOP zztop ZZTOPS",
      "[CLS] [SEP] [MASK] [cls] [UNK] Hello[MASK]world [PAD]",
      std::string(150, 'a'),
      "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
      "",
      " ",
      "\n",
      "  \n  ",
      "a",
      "'",
      "''''",
      "x'sy 's's",
      "Mixed123abc 456def 7g8h9",
      "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３",
      "ﬁ ﬂ ligatures Ǆ ǅ ǆ titlecase",
      "\xE2\x80\x9CSmart quotes\xE2\x80\x9D and \xE2\x80\x94 dashes \xE2\x80\x93 en",
  };
  return v;
}

// Writes the corpus (Austen lines from the peer script, then hard_lines()) as one JSON
// string per line and returns it.
inline std::vector<std::string> write_corpus(const std::string& peer_script, const std::filesystem::path& dir,
                                             std::filesystem::path& lines_path) {
  const auto austen = dir / "austen.jsonl";
  run_peer(peer_script, {"text", austen.string()});
  std::vector<std::string> lines;
  std::ifstream in(austen);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(nlohmann::json::parse(l).get<std::string>());
  EXPECT_GE(lines.size(), 10000u) << "the peer gave too few Austen lines";
  for (auto& h : hard_lines()) lines.push_back(h);
  lines_path = dir / "lines.jsonl";
  std::ofstream out(lines_path, std::ios::binary);
  for (const auto& l : lines) out << nlohmann::json(l).dump() << "\n";
  return lines;
}

// A peer id file: per line an int32 count, then that many int32 ids.
inline std::vector<std::vector<std::int32_t>> read_ids(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<std::vector<std::int32_t>> out;
  std::int32_t n = 0;
  while (in.read(reinterpret_cast<char*>(&n), 4)) {
    std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
    in.read(reinterpret_cast<char*>(ids.data()), static_cast<std::streamsize>(n) * 4);
    out.push_back(std::move(ids));
  }
  return out;
}

inline std::string show(const std::vector<std::int32_t>& ids) {
  std::string s = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s + "]";
}

inline std::string escape(const std::string& s) { return nlohmann::json(s).dump(); }

// Encodes every line with lowbit for each case of the peer's manifest and compares.
// `load` turns a manifest tokenizer path into a lowbit tokenizer.
template <typename Load>
void compare_manifest(const std::filesystem::path& outdir, const std::vector<std::string>& lines, Load load) {
  std::ifstream mf(outdir / "manifest.json");
  const auto manifest = nlohmann::json::parse(mf);
  ASSERT_FALSE(manifest.empty());
  std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  std::size_t total_lines = 0, total_tokens = 0, total_bad = 0;
  double seconds = 0;
  for (const auto& c : manifest) {
    const std::string path = c["tokenizer"], name = c["case"];
    const bool add_special = c["add_special"], parse_special = c["parse_special"];
    if (!loaded.count(path)) loaded[path] = load(path);
    const Tokenizer& tok = *loaded[path];
    const auto expected = read_ids(outdir / (name + ".bin"));
    ASSERT_EQ(expected.size(), lines.size()) << name;
    std::size_t bad = 0, tokens = 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::vector<std::int32_t>> got(lines.size());
    for (std::size_t i = 0; i < lines.size(); ++i) got[i] = tok.encode(lines[i], add_special, parse_special);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t i = 0; i < lines.size(); ++i) {
      tokens += expected[i].size();
      if (got[i] == expected[i]) continue;
      if (++bad <= 20)
        ADD_FAILURE() << name << " line " << i << ": " << escape(lines[i]) << "\n  peer:   " << show(expected[i])
                      << "\n  lowbit: " << show(got[i]);
    }
    std::printf("  %-28s %zu lines, %zu tokens, %zu mismatching\n", name.c_str(), lines.size(), tokens, bad);
    total_lines += lines.size();
    total_tokens += tokens;
    total_bad += bad;
  }
  std::printf("  total: %zu cases, %zu lines, %zu tokens compared, %zu mismatching; lowbit encoded them in %.2f s\n",
              manifest.size(), total_lines, total_tokens, total_bad, seconds);
  EXPECT_EQ(total_bad, 0u);
}

}  // namespace lowbit::testing::tok
