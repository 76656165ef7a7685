// Constructors of the tokenizer families, called by tokenizer_load.cpp once it has
// decided from tokenizer.json's model/pre_tokenizer or GGUF's tokenizer.ggml.model which
// family a file is. Each family lives in its own file (tokenizer_<family>.cpp).
#pragma once

#include <memory>
#include <string>

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

}  // namespace lowbit::model
