// `lowbit corpus austen --split calibration|evaluation|all|NOVEL --out FILE`: writes the
// project's fixed Austen texts (lib: src/eval/austen_text.cpp) as a plain UTF-8 file that
// lowbit and llama.cpp's tools read alike; `--list` shows the splits and novels.
#include <cctype>
#include <cstdio>
#include <string>

#include "commands.h"
#include "lowbit/atomic_file.h"
#include "lowbit/austen.h"
#include "lowbit/error.h"

namespace lowbit::cli {
namespace {

struct Counts {
  std::size_t lines = 0, words = 0, bytes = 0;
};

// Lines as stored (the text has no trailing newline), words as `wc -w` counts them.
Counts count(std::string_view text) {
  Counts c;
  c.bytes = text.size();
  c.lines = text.empty() ? 0 : 1;
  bool in_word = false;
  for (char ch : text) {
    if (ch == '\n') ++c.lines;
    const bool space = std::isspace(static_cast<unsigned char>(ch)) != 0;
    if (!space && !in_word) ++c.words;
    in_word = !space;
  }
  return c;
}

std::string join(const std::vector<std::string_view>& v) {
  std::string s;
  for (std::string_view x : v) (s += s.empty() ? "" : "+") += x;
  return s;
}

}  // namespace

void register_corpus(CLI::App& app) {
  auto* corpus = app.add_subcommand("corpus", "Write the project's fixed text corpora");
  corpus->require_subcommand(1);
  static std::string split, out;
  static bool list = false;
  auto* austen = corpus->add_subcommand(
      "austen", "Jane Austen's novels (Debian r-cran-janeaustenr): calibration = Sense and Sensibility, "
                "evaluation = Pride and Prejudice, all = the six novels");
  austen->add_option("--split", split, "calibration | evaluation | all | a novel's name (e.g. emma)");
  austen->add_option("--out", out, "output text file (written atomically)");
  austen->add_flag("--list", list, "print the splits and novels with their sizes");
  austen->callback([] {
    if (list) {
      std::printf("%-18s %-28s %8s %8s %9s\n", "name", "contents", "lines", "words", "bytes");
      for (AustenSplit s : {AustenSplit::calibration, AustenSplit::evaluation, AustenSplit::all}) {
        const Counts c = count(austen_text(s));
        const std::string what = s == AustenSplit::all ? "the six novels below" : join(austen_split_novels(s));
        std::printf("%-18.*s %-28s %8zu %8zu %9zu\n", int(austen_split_name(s).size()), austen_split_name(s).data(),
                    what.c_str(), c.lines, c.words, c.bytes);
      }
      for (std::string_view n : kAustenNovels) {
        const std::string_view one[] = {n};
        const Counts c = count(austen_text(one));
        std::printf("%-18.*s %-28.*s %8zu %8zu %9zu\n", int(n.size()), n.data(), int(austen_title(n).size()),
                    austen_title(n).data(), c.lines, c.words, c.bytes);
      }
      if (out.empty()) return;
    }
    if (split.empty() || out.empty()) fail("corpus austen: --split and --out are required (or --list)");
    std::vector<std::string_view> novels;
    if (const auto s = austen_split_from_name(split)) {
      novels = austen_split_novels(*s);
    } else if (!austen_title(split).empty()) {
      novels = {split};
    } else {
      fail("corpus austen: unknown split '", split,
           "' (calibration, evaluation, all, or a novel: sensesensibility, prideprejudice, mansfieldpark, emma, "
           "northangerabbey, persuasion)");
    }
    const std::string text = austen_text(novels);
    write_file_atomic(out, text);
    const Counts c = count(text);
    std::printf("wrote %s: %s (%s): %zu lines, %zu words, %zu bytes\n", out.c_str(), split.c_str(),
                join(novels).c_str(), c.lines, c.words, c.bytes);
  });
}

}  // namespace lowbit::cli
