// Placeholder until the wordpiece tokenizer lands (issue 5 work in progress).
#include "lowbit/error.h"
#include "model/tokenizer_factories.h"
namespace lowbit::model {
std::unique_ptr<Tokenizer> make_wordpiece_from_json(const nlohmann::json&, const std::string& s) { fail(s, ": WordPiece not built yet"); }
std::unique_ptr<Tokenizer> make_wordpiece_from_gguf(const GgufFile& f) { fail(f.source(), ": WordPiece not built yet"); }
}  // namespace lowbit::model
