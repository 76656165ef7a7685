// Internal pieces of lowbit::ggml::plan_mix (gguf_mix.cpp drives, gguf_mix_rules.cpp
// holds the per-tensor rules). Each function mirrors one helper of llama.cpp's
// src/llama-quant.cpp; the names there are given so the two can be read side by side.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "lowbit/gguf_mix.h"

namespace lowbit::ggml::mix_detail {

// tensor_category: broad roles by name, not per-arch tensor names.
enum class Category {
  TokenEmbd, AttnQ, AttnV, AttnK, AttnQkv, AttnKvB, AttnOutput,
  FfnUp, FfnGate, FfnDown, Output, Other,
};
Category categorize(std::string_view name);  // tensor_get_category
bool is_attn_v_like(Category c);              // category_is_attn_v

// quantize_state_impl: counters the rules read and advance, in llama.cpp's tensor order.
struct MixState {
  int n_attention_wv = 0, i_attention_wv = 0;
  int n_ffn_down = 0, i_ffn_down = 0;
  int n_ffn_gate = 0, i_ffn_gate = 0;
  int n_ffn_up = 0, i_ffn_up = 0;
  bool has_imatrix = false;
  bool has_tied_embeddings = true;  // until a tensor named output.weight is seen
};

// sscanf(name, "blk.%d.", &i): the block index, nullopt when the name has none.
std::optional<int> scan_block_index(std::string_view name);

// tensor_allows_quantization, inverted: nullopt when llama.cpp may quantize the tensor,
// otherwise why it is copied as it is ("1-D tensor", "norm", ...).
std::optional<std::string> why_kept(const MixOptions& opt, const MixModel& model,
                                    const MixTensor& t);

// llama_tensor_get_type_impl: the mix's type for one quantizable tensor, starting from
// the file type's default. Advances the counters; appends the reason to `why`.
Type mix_rule(MixState& qs, const MixModel& model, const MixOptions& opt, FileType ftype,
              const MixTensor& t, Category cat, Type new_type, std::string& why);

// tensor_type_fallback: a type whose block size divides ne[0]; appends a note when the
// target does not fit. Fails for types llama.cpp has no fallback for.
Type fallback(const MixTensor& t, Type target, std::string& why);

// tensor_requires_imatrix.
bool requires_imatrix(std::string_view name, Type dst, FileType ftype);

// The model is what llama.cpp calls LLM_TYPE_70B (attn_v gets more bits then).
bool is_70b(const MixModel& model);

}  // namespace lowbit::ggml::mix_detail
