// tokenizer.json from bytes in memory: the same family dispatch as load_tokenizer_json
// (tokenizer_load.cpp), without the file, so the fuzzer can reach every JSON reader.
#include "lowbit/error.h"
#include "model/tokenizer_factories.h"

namespace lowbit::model {
namespace {

// A ByteLevel pre-tokenizer, alone or in a Sequence, marks GPT-2-style BPE.
bool has_byte_level(const nlohmann::json& pre, int depth = 0) {
  if (!pre.is_object() || depth > 16) return false;
  const auto it = pre.find("type");
  if (it == pre.end() || !it->is_string()) return false;
  if (*it == "ByteLevel") return true;
  const auto list = pre.find("pretokenizers");
  if (*it == "Sequence" && list != pre.end() && list->is_array())
    for (const auto& p : *list)
      if (has_byte_level(p, depth + 1)) return true;
  return false;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_json_text(std::string_view text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(source, ": not valid JSON: ", e.what());
  }
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    fail(source, ": no \"model\" object, not a HF tokenizer.json");
  const auto& m = j["model"];
  const std::string type = m.contains("type") && m["type"].is_string() ? m["type"].get<std::string>() : std::string();
  try {
    if (type == "WordPiece") return make_wordpiece_from_json(j, source);
    if (type == "BPE") {
      if (has_byte_level(j.contains("pre_tokenizer") ? j["pre_tokenizer"] : nlohmann::json()))
        return make_bytelevel_bpe_from_json(j, source);
      return make_spm_bpe_from_json(j, source);
    }
  } catch (const nlohmann::json::exception& e) {
    // A member of an unexpected type that a reader did not check first.
    fail(source, ": malformed tokenizer.json: ", e.what());
  }
  fail(source, ": tokenizer model type \"", type, "\" is not supported (BPE and WordPiece are)");
}

}  // namespace lowbit::model
