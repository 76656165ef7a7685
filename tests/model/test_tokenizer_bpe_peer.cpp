// Byte-level BPE against its peers on >10,000 lines of Austen plus hand-written hard
// cases (tests/peers/model_tokenizers_bpe.py): llama.cpp's tokenizer on the real
// SmolLM2-135M GGUF and on copies with other tokenizer.ggml.pre / BOS / EOS settings, and
// the `tokenizers` library on tokenizer.json files built from that vocabulary. Every line,
// with and without special-token wrapping and special-token parsing, must give the same ids.
#include <gtest/gtest.h>

#include "lowbit/gguf.h"
#include "lowbit/tokenizer.h"
#include "model/tokenizer_peer_compare.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

std::string smollm2_path() {
  const auto j = nlohmann::json::parse(lowbit::testing::run_peer("gguf_model_paths.py", {}));
  return j["smollm2"].get<std::string>();
}

}  // namespace

TEST(PeerTokBpeGguf, MatchesLlamaCppOnAustenAndHardLines) {
  const fs::path dir = lowbit::testing::scratch_dir();
  fs::path lines_path;
  const auto lines = lowbit::testing::tok::write_corpus("model_tokenizers_bpe.py", dir, lines_path);
  lowbit::testing::run_peer("model_tokenizers_bpe.py", {"gguf", smollm2_path(), lines_path.string(), dir.string()});
  lowbit::testing::tok::compare_manifest(dir, lines, [](const std::string& p) { return load_tokenizer_gguf(GgufFile::open(p)); });
}

TEST(PeerTokBpeJson, MatchesHfTokenizersOnAustenAndHardLines) {
  const fs::path dir = lowbit::testing::scratch_dir();
  fs::path lines_path;
  const auto lines = lowbit::testing::tok::write_corpus("model_tokenizers_bpe.py", dir, lines_path);
  lowbit::testing::run_peer("model_tokenizers_bpe.py", {"json", smollm2_path(), lines_path.string(), dir.string()});
  lowbit::testing::tok::compare_manifest(dir, lines, [](const std::string& p) { return load_tokenizer_json(p); });
}
