// Placeholder until the spm_bpe tokenizer lands (issue 5 work in progress).
#include "lowbit/error.h"
#include "model/tokenizer_factories.h"
namespace lowbit::model {
std::unique_ptr<Tokenizer> make_spm_bpe_from_json(const nlohmann::json&, const std::string& s) { fail(s, ": SPM BPE not built yet"); }
}  // namespace lowbit::model
