// Picks the tokenizer family of a GGUF (tokenizer.ggml.model) and hands it to that
// family's file; tokenizer.json files go through load_tokenizer_json_text's dispatch.
// Families that lowbit does not implement are named in the error, never guessed.
#include <fstream>
#include <sstream>

#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/gguf_model.h"
#include "lowbit/tokenizer.h"
#include "model/tokenizer_factories.h"

namespace lowbit {

std::unique_ptr<Tokenizer> load_tokenizer_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), ": cannot open tokenizer.json");
  std::ostringstream ss;
  ss << in.rdbuf();
  return model::load_tokenizer_json_text(ss.str(), path.string());
}

std::unique_ptr<Tokenizer> load_tokenizer_gguf(const GgufFile& f) {
  if (!f.find_kv("tokenizer.ggml.model")) fail(f.source(), ": no tokenizer.ggml.model key, the GGUF carries no tokenizer");
  const auto model = f.get_string("tokenizer.ggml.model");
  if (model == "gpt2") return model::make_bytelevel_bpe_from_gguf(f);
  if (model == "llama") return model::make_spm_from_gguf(f);
  if (model == "bert") return model::make_wordpiece_from_gguf(f);
  fail(f.source(), ": tokenizer.ggml.model \"", model, "\" is not supported (gpt2, llama and bert are)");
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model) {
  if (std::filesystem::is_directory(model)) {
    const auto p = model / "tokenizer.json";
    if (!std::filesystem::exists(p)) fail(model.string(), ": no tokenizer.json in the model directory");
    return load_tokenizer_json(p);
  }
  if (is_gguf_file(model)) return load_tokenizer_gguf(GgufFile::open(model));
  return load_tokenizer_json(model);
}

}  // namespace lowbit
