// Text -> token ids for the models lowbit runs: byte-level BPE (GPT-2, SmolLM, Llama-3),
// SentencePiece (llama.cpp's score-driven SPM, and HF's BPE with "▁" and byte fallback)
// and WordPiece (BERT). Loaded from a HF tokenizer.json or from GGUF metadata; ids equal
// those of the `tokenizers` library and of llama.cpp (tests/model prove it on real text).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {

class GgufFile;

// Ids the model treats specially; -1 where the vocabulary has none.
struct SpecialTokens {
  std::int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  std::int32_t cls = -1, sep = -1;  // BERT's post-processor wraps text in [CLS] ... [SEP]
  bool add_bos = false;             // encode(add_special=true) prepends BOS
  bool add_eos = false;             // ... and appends EOS
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // add_special: wrap as the model expects (BOS/EOS per the GGUF flags or the
  // tokenizer.json post-processor; [CLS] ... [SEP] for BERT). parse_special: text that
  // spells a special/added token ("<|im_start|>") becomes that id, as with llama.cpp's
  // parse_special and tokenizers' added tokens; otherwise it is ordinary text.
  virtual std::vector<std::int32_t> encode(std::string_view text, bool add_special = true,
                                           bool parse_special = false) const = 0;
  // UTF-8 text of the ids (special tokens rendered as their text).
  virtual std::string decode(std::span<const std::int32_t> ids) const = 0;
  // The vocabulary entry as stored (e.g. "Ġthe", "▁the", "##ing").
  virtual std::string token_text(std::int32_t id) const = 0;
  virtual std::size_t vocab_size() const = 0;
  virtual const SpecialTokens& special() const = 0;
};

// A HF tokenizer.json (BPE with ByteLevel pre-tokenizer, BPE with byte fallback in the
// SentencePiece style, or WordPiece). Errors name the file and the unsupported part.
std::unique_ptr<Tokenizer> load_tokenizer_json(const std::filesystem::path& path);
// tokenizer.ggml.* metadata of a GGUF ("gpt2" byte-level BPE, "llama" SPM, "bert" WPM).
std::unique_ptr<Tokenizer> load_tokenizer_gguf(const GgufFile& file);
// A .gguf file, a tokenizer.json, or a HF model directory holding tokenizer.json.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model);

}  // namespace lowbit
