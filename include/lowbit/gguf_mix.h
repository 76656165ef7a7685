// llama.cpp file types ("mixes" such as Q4_K_M) and the per-tensor type choice that
// llama_model_quantize makes for them: which tensors stay as they are, which get more
// bits (attn_v, ffn_down by layer, output/token_embd, ...) and the fallback when a row
// length does not fit a block size. Mirrors llama.cpp's src/llama-quant.cpp rule by rule.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/ggml_types.h"

namespace lowbit::ggml {

// llama_ftype ids (llama.cpp include/llama.h); stored in GGUF as general.file_type.
enum class FileType : std::uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 7, Q5_0 = 8, Q5_1 = 9,
  Q2_K = 10, Q3_K_S = 11, Q3_K_M = 12, Q3_K_L = 13, Q4_K_S = 14, Q4_K_M = 15,
  Q5_K_S = 16, Q5_K_M = 17, Q6_K = 18, IQ2_XXS = 19, IQ2_XS = 20, Q2_K_S = 21,
  IQ3_XS = 22, IQ3_XXS = 23, IQ1_S = 24, IQ4_NL = 25, IQ3_S = 26, IQ3_M = 27,
  IQ2_S = 28, IQ2_M = 29, IQ4_XS = 30, IQ1_M = 31, BF16 = 32, TQ1_0 = 36,
  TQ2_0 = 37, MXFP4_MOE = 38, NVFP4 = 39, Q1_0 = 40, Q2_0 = 41,
};

// llama-quantize's names, case-insensitive: "Q4_K_M", "q4_k_m", the aliases "Q3_K",
// "Q4_K", "Q5_K" (the _M mixes), or a decimal ftype id. nullopt for anything else,
// including NVFP4, which llama-quantize cannot produce.
std::optional<FileType> parse_file_type(std::string_view name);
// llama-quantize's spelling ("Q4_K_M", "F16", "MXFP4_MOE"); "?" for unknown ids.
const char* file_type_name(FileType ft);
// The type most tensors get (llama_ftype_get_default_type): Q4_K for Q4_K_M, IQ2_XS
// for IQ2_S, ...; nullopt where llama.cpp cannot quantize to that file type (NVFP4).
std::optional<Type> file_type_default_type(FileType ft);

// One tensor as the quantizer sees it (GGUF tensor info).
struct MixTensor {
  std::string name;
  std::vector<std::int64_t> ne;  // ggml order: ne[0] is the row length
  Type type = Type::F32;         // type in the input file
};

// The hparams the rules read, each from the GGUF key named (with {arch} =
// general.architecture). Per-layer arrays contribute their layer-0 entry, as
// llama_hparams::n_head(0) does.
struct MixModel {
  std::string arch;              // general.architecture ("llama", "gemma3", "falcon", ...)
  std::uint32_t n_layer = 0;     // {arch}.block_count (all blocks, MTP/nextn included)
  std::uint32_t n_layer_nextn = 0;  // {arch}.nextn_predict_layers (0 if absent)
  std::uint32_t n_expert = 0;    // {arch}.expert_count (0 if absent)
  std::uint32_t n_head = 0;      // {arch}.attention.head_count (0 if absent)
  std::uint32_t n_head_kv = 0;   // {arch}.attention.head_count_kv (n_head if absent)
};

// Builds a MixModel from GGUF metadata without depending on a GGUF reader: `get`
// returns an integer key's value (layer 0 for per-layer arrays) or nullopt if absent.
using MixKeyLookup = std::function<std::optional<std::int64_t>(std::string_view key)>;
MixModel mix_model_from_metadata(std::string arch, const MixKeyLookup& get);

// llama_model_quantize_params, the parts that change types.
struct TensorTypeOverride {
  std::string pattern;  // ECMAScript regex, searched anywhere in the tensor name
  Type type;
};
struct MixOptions {
  bool pure = false;                      // every quantizable tensor gets the default type
  bool quantize_output_tensor = true;     // false: output.weight stays as it is
  bool has_imatrix = false;               // an importance matrix is given (changes rules)
  std::optional<Type> output_tensor_type;    // output.weight (and tied token_embd)
  std::optional<Type> token_embedding_type;  // token_embd / per_layer_token_embd
  std::vector<TensorTypeOverride> tensor_types;  // first match wins (--tensor-type)
};

struct MixChoice {
  Type type;             // type the tensor has in the output file
  bool quantized;        // type differs from the input type (llama.cpp converts it)
  bool needs_imatrix;    // llama.cpp refuses this type without an importance matrix
  std::string note;      // why, e.g. "fallback q4_K -> q5_0: row length 576 is not a
                         // multiple of 256"
};

// Per-tensor choices, in the order of `tensors`. Fails (lowbit::Error) where
// llama_model_quantize fails: unknown/unsupported file type, a type without fallback,
// a tensor that needs an imatrix when none is given, or an override type whose block
// size does not divide the row length (llama.cpp aborts there).
std::vector<MixChoice> plan_mix(const MixModel& model, const std::vector<MixTensor>& tensors,
                                FileType ftype, const MixOptions& options = {});

}  // namespace lowbit::ggml
