// Constructors of the tokenizer families, called by tokenizer_load.cpp once it has
// decided from tokenizer.json's model/pre_tokenizer or GGUF's tokenizer.ggml.model which
// family a file is. Each family lives in its own file (tokenizer_<family>.cpp).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lowbit/gguf.h"
#include "lowbit/tokenizer.h"

namespace lowbit::model {

// `source` names the file in error messages.
std::unique_ptr<Tokenizer> make_bytelevel_bpe_from_json(const nlohmann::json& j, const std::string& source);
std::unique_ptr<Tokenizer> make_bytelevel_bpe_from_gguf(const GgufFile& f);
std::unique_ptr<Tokenizer> make_wordpiece_from_json(const nlohmann::json& j, const std::string& source);
std::unique_ptr<Tokenizer> make_wordpiece_from_gguf(const GgufFile& f);
std::unique_ptr<Tokenizer> make_spm_bpe_from_json(const nlohmann::json& j, const std::string& source);
std::unique_ptr<Tokenizer> make_spm_from_gguf(const GgufFile& f);

// A tokenizer.json given as text (load_tokenizer_json reads the file; the fuzzer feeds
// bytes): parses the JSON and dispatches on model.type and the pre-tokenizer.
std::unique_ptr<Tokenizer> load_tokenizer_json_text(std::string_view text, const std::string& source);

}  // namespace lowbit::model
