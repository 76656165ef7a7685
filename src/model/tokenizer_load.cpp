// Picks the tokenizer family of a tokenizer.json (model.type + pre_tokenizer) or of a
// GGUF (tokenizer.ggml.model) and hands the parsed description to that family's file.
// Families that lowbit does not implement are named in the error, never guessed.
#include <fstream>
#include <sstream>

#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/gguf_model.h"
#include "lowbit/tokenizer.h"
#include "model/tokenizer_factories.h"

namespace lowbit {
namespace {

// True when the pre-tokenizer (or one of a Sequence's members) is ByteLevel: that is
// what separates GPT-2-style BPE from SentencePiece-style BPE in tokenizer.json.
bool has_byte_level(const nlohmann::json& pre) {
  if (!pre.is_object()) return false;
  const auto type = pre.value("type", std::string());
  if (type == "ByteLevel") return true;
  if (type == "Sequence" && pre.contains("pretokenizers"))
    for (const auto& p : pre["pretokenizers"])
      if (has_byte_level(p)) return true;
  return false;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), ": cannot open tokenizer.json");
  std::ostringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    fail(path.string(), ": not valid JSON: ", e.what());
  }
  const std::string source = path.string();
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    fail(source, ": no \"model\" object, not a HF tokenizer.json");
  const auto type = j["model"].value("type", std::string());
  if (type == "WordPiece") return model::make_wordpiece_from_json(j, source);
  if (type == "BPE") {
    if (has_byte_level(j.value("pre_tokenizer", nlohmann::json()))) return model::make_bytelevel_bpe_from_json(j, source);
    return model::make_spm_bpe_from_json(j, source);
  }
  fail(source, ": tokenizer model type \"", type, "\" is not supported (BPE and WordPiece are)");
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
