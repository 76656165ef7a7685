// Reading the parts of a HF tokenizer.json that every model family shares: checked member
// access (errors name the file and the member), added_tokens, the post-processor's
// [CLS]/BOS wrapping, and a dense id -> token table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tokenizer_pretokenize.h"

namespace lowbit::model::hfjson {

using nlohmann::json;

// j[key], failing with "<source>: <where> has no "<key>"" when absent.
const json& member(const json& j, const char* key, const std::string& source, const char* where);
std::string str_member(const json& j, const char* key, const std::string& source, const char* where);
// A boolean member; `dflt` when absent or null.
bool bool_member(const json& j, const char* key, bool dflt, const std::string& source, const char* where);

// added_tokens (ids checked against vocab_size).
std::vector<pretok::AddedToken> parse_added_tokens(const json& j, const std::string& source, std::size_t vocab_size);

// The ids the post-processor puts before and after the text of a single sequence
// (TemplateProcessing, BertProcessing, RobertaProcessing; ByteLevel adds nothing).
void parse_post_processor(const json& p, const std::string& source, std::vector<std::int32_t>& prefix,
                          std::vector<std::int32_t>& suffix, int depth = 0);

// model.vocab plus added tokens as an id -> text table; ids must be dense. added_only
// marks ids only the added vocabulary defines.
std::vector<std::string> dense_vocab(const json& vocab, const std::vector<pretok::AddedToken>& added, const std::string& source,
                                     const char* model, std::vector<bool>& added_only);

}  // namespace lowbit::model::hfjson
