// Shared tokenizer.json readers (see tokenizer_hf_json.h). tokenizers' serde formats are
// the reference: field names, defaults (an added token is normalized unless special) and
// which mistakes it refuses to load.
#include "model/tokenizer_hf_json.h"

#include <algorithm>

#include "lowbit/error.h"

namespace lowbit::model::hfjson {
namespace {

std::vector<std::int32_t> template_ids(const json& entry, const json& specials, const std::string& source) {
  const std::string name = str_member(entry, "id", source, "TemplateProcessing SpecialToken");
  if (!specials.is_object() || !specials.contains(name)) fail(source, ": TemplateProcessing names special token \"", name, "\" but does not define it");
  const json& ids = member(specials[name], "ids", source, "TemplateProcessing special_tokens entry");
  if (!ids.is_array()) fail(source, ": TemplateProcessing special token \"", name, "\" ids is not an array");
  std::vector<std::int32_t> out;
  for (const json& v : ids) {
    if (!v.is_number_integer()) fail(source, ": TemplateProcessing special token \"", name, "\" has a non-integer id");
    out.push_back(v.get<std::int32_t>());
  }
  return out;
}

std::int32_t pair_id(const json& v, const std::string& source, const char* what) {
  if (!v.is_array() || v.size() != 2 || !v[1].is_number_integer()) fail(source, ": ", what, " is not a [token, id] pair");
  return v[1].get<std::int32_t>();
}

}  // namespace

const json& member(const json& j, const char* key, const std::string& source, const char* where) {
  if (!j.is_object() || !j.contains(key)) fail(source, ": ", where, " has no \"", key, "\"");
  return j[key];
}

std::string str_member(const json& j, const char* key, const std::string& source, const char* where) {
  const json& v = member(j, key, source, where);
  if (!v.is_string()) fail(source, ": ", where, ".", key, " is not a string");
  return v.get<std::string>();
}

bool bool_member(const json& j, const char* key, bool dflt, const std::string& source, const char* where) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_boolean()) fail(source, ": ", where, ".", key, " is not a boolean");
  return j[key].get<bool>();
}

void parse_post_processor(const json& p, const std::string& source, std::vector<std::int32_t>& prefix,
                          std::vector<std::int32_t>& suffix, int depth) {
  if (p.is_null()) return;
  if (depth > 8) fail(source, ": post_processor Sequences nested too deeply");
  const std::string type = str_member(p, "type", source, "post_processor");
  if (type == "Sequence") {
    const json& list = member(p, "processors", source, "post_processor Sequence");
    if (!list.is_array()) fail(source, ": post_processor Sequence.processors is not an array");
    for (const json& q : list) parse_post_processor(q, source, prefix, suffix, depth + 1);
  } else if (type == "ByteLevel") {
    // Offsets only; ids are untouched.
  } else if (type == "TemplateProcessing") {
    const json& single = member(p, "single", source, "TemplateProcessing");
    const json& specials = p.value("special_tokens", json::object());
    if (!single.is_array()) fail(source, ": TemplateProcessing.single is not an array");
    bool seen_sequence = false;
    for (const json& e : single) {
      if (e.is_object() && e.contains("Sequence")) {
        if (seen_sequence) fail(source, ": TemplateProcessing.single has two sequences");
        seen_sequence = true;
      } else if (e.is_object() && e.contains("SpecialToken")) {
        const auto ids = template_ids(e["SpecialToken"], specials, source);
        auto& dst = seen_sequence ? suffix : prefix;
        dst.insert(dst.end(), ids.begin(), ids.end());
      } else {
        fail(source, ": TemplateProcessing.single entry is neither Sequence nor SpecialToken");
      }
    }
    if (!seen_sequence) fail(source, ": TemplateProcessing.single has no $A sequence");
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    prefix.push_back(pair_id(member(p, "cls", source, type.c_str()), source, "cls"));
    suffix.push_back(pair_id(member(p, "sep", source, type.c_str()), source, "sep"));
  } else {
    fail(source, ": post_processor type \"", type, "\" is not supported");
  }
}

std::vector<pretok::AddedToken> parse_added_tokens(const json& j, const std::string& source, std::size_t vocab_size) {
  std::vector<pretok::AddedToken> out;
  if (!j.contains("added_tokens") || j["added_tokens"].is_null()) return out;
  const json& list = j["added_tokens"];
  if (!list.is_array()) fail(source, ": added_tokens is not an array");
  for (const json& t : list) {
    pretok::AddedToken a;
    const json& id = member(t, "id", source, "added token");
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() >= static_cast<std::int64_t>(vocab_size))
      fail(source, ": added token id ", id.dump(), " is outside the vocabulary of ", vocab_size);
    a.id = id.get<std::int32_t>();
    a.content = str_member(t, "content", source, "added token");
    a.special = bool_member(t, "special", false, source, "added token");
    a.single_word = bool_member(t, "single_word", false, source, "added token");
    a.lstrip = bool_member(t, "lstrip", false, source, "added token");
    a.rstrip = bool_member(t, "rstrip", false, source, "added token");
    a.normalized = bool_member(t, "normalized", !a.special, source, "added token");
    out.push_back(std::move(a));
  }
  return out;
}

// Vocabulary as a dense id -> text table; added tokens may extend it past model.vocab.
std::vector<std::string> dense_vocab(const json& vocab, const std::vector<pretok::AddedToken>& added, const std::string& source,
                                     const char* model, std::vector<bool>& added_only) {
  if (!vocab.is_object()) fail(source, ": model.vocab of ", model, " is not an object");
  std::int64_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) fail(source, ": model.vocab entry \"", it.key(), "\" has a non-integer id");
    const std::int64_t id = it.value().get<std::int64_t>();
    if (id < 0 || id >= (1 << 24)) fail(source, ": model.vocab entry \"", it.key(), "\" has id ", id, " out of range");
    max_id = std::max(max_id, id);
  }
  for (const auto& a : added) max_id = std::max<std::int64_t>(max_id, a.id);
  // Dense ids cannot exceed the number of entries; checked before allocating the table.
  if (max_id >= static_cast<std::int64_t>(vocab.size() + added.size()))
    fail(source, ": token id ", max_id, " but only ", vocab.size() + added.size(), " tokens (ids must be dense)");
  std::vector<std::string> out(static_cast<std::size_t>(max_id + 1));
  std::vector<bool> set(out.size(), false);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const auto id = static_cast<std::size_t>(it.value().get<std::int64_t>());
    if (set[id]) fail(source, ": model.vocab gives id ", id, " to two tokens (\"", out[id], "\" and \"", it.key(), "\")");
    out[id] = it.key();
    set[id] = true;
  }
  added_only.assign(out.size(), false);
  for (const auto& a : added) {
    const auto id = static_cast<std::size_t>(a.id);
    if (!set[id]) out[id] = a.content, set[id] = true, added_only[id] = true;
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!set[i]) fail(source, ": the vocabulary has no token with id ", i, " (ids must be dense)");
  return out;
}


}  // namespace lowbit::model::hfjson
