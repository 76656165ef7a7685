// Placeholder until the spm tokenizer lands (issue 5 work in progress).
#include "lowbit/error.h"
#include "model/tokenizer_factories.h"
namespace lowbit::model {
std::unique_ptr<Tokenizer> make_spm_from_gguf(const GgufFile& f) { fail(f.source(), ": SPM not built yet"); }
}  // namespace lowbit::model
