// Placeholder until the bytelevel_bpe tokenizer lands (issue 5 work in progress).
#include "lowbit/error.h"
#include "model/tokenizer_factories.h"
namespace lowbit::model {
std::unique_ptr<Tokenizer> make_bytelevel_bpe_from_json(const nlohmann::json&, const std::string& s) { fail(s, ": byte-level BPE not built yet"); }
std::unique_ptr<Tokenizer> make_bytelevel_bpe_from_gguf(const GgufFile& f) { fail(f.source(), ": byte-level BPE not built yet"); }
}  // namespace lowbit::model
