// libFuzzer target for the tokenizer.json readers (byte-level BPE, WordPiece, and what
// load_tokenizer_json_text dispatches to). Input: tokenizer.json bytes, optionally a NUL
// and text to encode. Any input must either load or throw lowbit::Error; a tokenizer that
// loads encodes the text with every flag combination (lowbit::Error allowed), each id must
// be inside the vocabulary, and decode must accept them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lowbit/error.h"
#include "lowbit/tokenizer.h"
#include "model/tokenizer_factories.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Copy so that ASan sees reads past the end as heap overflows.
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = bytes.find('\0');
  const std::string_view json = std::string_view(bytes).substr(0, nul);
  const std::string_view text = nul == std::string::npos ? std::string_view("Hello, world! 12 DON'T <s>")
                                                         : std::string_view(bytes).substr(nul + 1);
  std::unique_ptr<lowbit::Tokenizer> tok;
  try {
    tok = lowbit::model::load_tokenizer_json_text(json, "fuzz-input");
  } catch (const lowbit::Error&) {
    return 0;
  }
  for (const bool add : {false, true})
    for (const bool parse : {false, true}) {
      try {
        const auto ids = tok->encode(text, add, parse);
        for (const auto id : ids)
          if (id < 0 || static_cast<std::size_t>(id) >= tok->vocab_size()) std::abort();
        (void)tok->decode(ids);
      } catch (const lowbit::Error&) {
      }
    }
  return 0;
}
