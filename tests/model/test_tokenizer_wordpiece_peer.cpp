// WordPiece against its peers on >10,000 lines of Austen plus hand-written hard cases
// (tests/peers/model_tokenizers_wordpiece.py): the `tokenizers` library on the real
// all-MiniLM-L6-v2 tokenizer.json (and copies with other BertNormalizer settings and added
// tokens), and llama.cpp's WPM tokenizer on a BERT GGUF converted from it the way
// convert_hf_to_gguf.py does. Every line, with and without [CLS]/[SEP] and special-token
// parsing, must give the same ids.
#include <gtest/gtest.h>

#include "lowbit/gguf.h"
#include "lowbit/tokenizer.h"
#include "model/tokenizer_peer_compare.h"

using namespace lowbit;
namespace fs = std::filesystem;

TEST(PeerTokWordPieceJson, MatchesHfTokenizersOnMiniLm) {
  const fs::path dir = lowbit::testing::scratch_dir();
  fs::path lines_path;
  const auto lines = lowbit::testing::tok::write_corpus("model_tokenizers_wordpiece.py", dir, lines_path);
  lowbit::testing::run_peer("model_tokenizers_wordpiece.py", {"json", lines_path.string(), dir.string()});
  lowbit::testing::tok::compare_manifest(dir, lines, [](const std::string& p) { return load_tokenizer_json(p); });
}

TEST(PeerTokWordPieceGguf, MatchesLlamaCppWpmOnMiniLmVocab) {
  const fs::path dir = lowbit::testing::scratch_dir();
  fs::path lines_path;
  const auto lines = lowbit::testing::tok::write_corpus("model_tokenizers_wordpiece.py", dir, lines_path);
  lowbit::testing::run_peer("model_tokenizers_wordpiece.py", {"gguf", lines_path.string(), dir.string()});
  lowbit::testing::tok::compare_manifest(dir, lines, [](const std::string& p) { return load_tokenizer_gguf(GgufFile::open(p)); });
}
