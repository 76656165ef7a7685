// The per-tensor rules of llama.cpp's mixes (src/llama-quant.cpp): which tensors may be
// quantized, the type each role gets for each file type, and the fallback for rows that
// a block size does not divide. Every branch names the llama.cpp rule it mirrors; the
// order of the branches is llama.cpp's, since the first match wins there too.
#include <array>
#include <cctype>
#include <cstdlib>
#include <string>

#include "lowbit/error.h"
#include "quant/gguf_mix_rules.h"

namespace lowbit::ggml::mix_detail {
namespace {

using FT = FileType;

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

template <typename... T>
bool any_of(FT ft, T... options) {
  return ((ft == options) || ...);
}

const char* tname(Type t) { return traits(t).name; }
std::int64_t block(Type t) { return traits(t).block_size; }

// ggml_n_dims: trailing dimensions of size 1 do not count.
int n_dims(const MixTensor& t) {
  for (std::size_t i = t.ne.size(); i-- > 1;) {
    if (t.ne[i] > 1) return int(i) + 1;
  }
  return 1;
}

std::int64_t dim(const MixTensor& t, std::size_t i) { return i < t.ne.size() ? t.ne[i] : 1; }

// use_more_bits: the first and last eighth of the layers, and every third in between.
bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 ||
         (i_layer - n_layers / 8) % 3 == 2;
}

// llama_hparams::n_gqa(0).
std::uint32_t n_gqa(const MixModel& m) { return m.n_head_kv == 0 ? 0 : m.n_head / m.n_head_kv; }

void add(std::string& why, const std::string& s) {
  if (!why.empty()) why += "; ";
  why += s;
}

// The layer the ffn rules use: a running count of the tensors of that role (llama.cpp's
// i_ffn_* counters) unless the model has experts, whose tensors are not one per layer,
// so the index comes from the name (layer_info).
std::pair<int, int> layer_info(const MixModel& m, int counter, int n_layer, const MixTensor& t) {
  if (std::max<std::uint32_t>(1, m.n_expert) > 1) {
    auto i = scan_block_index(t.name);
    if (!i) fail("gguf mix: cannot tell the layer of tensor ", t.name);
    if (*i < 0 || *i >= n_layer) {
      fail("gguf mix: bad layer ", *i, " for tensor ", t.name, ": must be in [0, ", n_layer, ")");
    }
    return {*i, n_layer};
  }
  return {counter, n_layer};
}

}  // namespace

Category categorize(std::string_view name) {
  if (name == "output.weight") return Category::Output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::TokenEmbd;
  if (contains(name, "attn_qkv.weight")) return Category::AttnQkv;
  if (contains(name, "attn_kv_b.weight")) return Category::AttnKvB;
  if (contains(name, "attn_v.weight")) return Category::AttnV;
  if (contains(name, "attn_k.weight")) return Category::AttnK;
  if (contains(name, "attn_q.weight")) return Category::AttnQ;
  if (contains(name, "attn_output.weight")) return Category::AttnOutput;
  if (contains(name, "ffn_up")) return Category::FfnUp;
  if (contains(name, "ffn_gate")) return Category::FfnGate;
  if (contains(name, "ffn_down")) return Category::FfnDown;
  return Category::Other;
}

bool is_attn_v_like(Category c) {
  return c == Category::AttnV || c == Category::AttnQkv || c == Category::AttnKvB;
}

std::optional<int> scan_block_index(std::string_view name) {
  // sscanf semantics: "blk." literally, then %d (leading blanks and a sign allowed);
  // what follows the number is not checked, since a failed literal after the last
  // conversion does not change sscanf's count.
  if (name.substr(0, 4) != "blk.") return std::nullopt;
  std::size_t p = 4;
  while (p < name.size() && std::isspace(static_cast<unsigned char>(name[p]))) ++p;
  bool neg = false;
  if (p < name.size() && (name[p] == '+' || name[p] == '-')) neg = name[p++] == '-';
  if (p >= name.size() || !std::isdigit(static_cast<unsigned char>(name[p]))) return std::nullopt;
  long long v = 0;
  for (; p < name.size() && std::isdigit(static_cast<unsigned char>(name[p])); ++p) {
    v = v * 10 + (name[p] - '0');
    if (v > 2147483647LL) v = 2147483647LL;  // out of range either way
  }
  return int(neg ? -v : v);
}

std::optional<std::string> why_kept(const MixOptions& opt, const MixModel& model,
                                    const MixTensor& t) {
  // tensor_allows_quantization: only 2-D and 3-D (expert) matrices named *weight.
  if (n_dims(t) < 2) return "1-D tensor";
  const std::string_view n = t.name;
  if (n.size() < 6 || n.substr(n.size() - 6) != "weight") return "name does not end in 'weight'";
  if (contains(n, "_norm.weight")) return "norm";
  if (!opt.quantize_output_tensor && n == "output.weight") return "output.weight (quantize_output_tensor off)";
  if (contains(n, "ffn_gate_inp.weight")) return "expert router";
  if (contains(n, "ffn_gate_tid2eid.weight")) return "token-to-expert table";
  for (const char* small : {"altup", "laurel", "per_layer_model_proj"}) {
    if (contains(n, small)) return std::string("small ") + small + " tensor";
  }
  if (n == "position_embd.weight" || n == "token_types.weight") return "positional/token-type embedding";
  for (const char* conv : {"ssm_conv1d", "shortconv.conv.weight"}) {
    if (contains(n, conv)) return "small conv1d weight";
  }
  for (const char* idx : {"indexer.k_proj.weight", "indexer.q_proj.weight"}) {
    if (contains(n, idx)) return "small indexer projection";
  }
  if (model.arch == "glm5-next") {
    static constexpr std::array<const char*, 14> glm = {
        "hc_", "indexer.attn_q_b", "indexer.attn_k", "indexer.proj", "indexer_compressor_gate",
        "indexer_compressor_ape", "ssm_f_a.weight", "ssm_f_b.weight", "ssm_g_a.weight",
        "ssm_g_b.weight", "ssm_beta.weight", "attn_kv_a_mqa.weight", "attn_k_b.weight",
        "attn_v_b.weight"};
    for (const char* g : glm) {
      if (contains(n, g)) return std::string("glm5-next keeps ") + g;
    }
  }
  static constexpr std::array<const char*, 15> rwkv = {
      "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
      "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
      "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
      "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight"};
  for (const char* r : rwkv) {
    if (contains(n, r)) return "small RWKV weight";
  }
  if (contains(n, "attn_rel_b.weight")) return "relative position bias";
  static constexpr std::array<const char*, 9> mm = {
      ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd",
      ".patch_merger", "a.rvq.codebook", "mm.a.code_embd"};
  for (const char* m : mm) {
    if (contains(n, m)) return std::string("multimodal ") + m;
  }
  return std::nullopt;
}

bool is_70b(const MixModel& m) {
  // Only these load_arch_hparams set LLM_TYPE_70B, from n_layer() = block_count - nextn.
  const std::uint32_t n_layer = m.n_layer - m.n_layer_nextn;
  if (m.arch == "llama" || m.arch == "llama-embed") {
    return m.n_expert != 8 && n_layer == 80 && m.n_head != m.n_head_kv;
  }
  if (m.arch == "qwen2" || m.arch == "deci" || m.arch == "olmo") return n_layer == 80;
  if (m.arch == "jais2") return n_layer == 68;
  return false;
}

Type mix_rule(MixState& qs, const MixModel& model, const MixOptions& opt, FileType ft,
              const MixTensor& t, Category cat, Type new_type, std::string& why) {
  const std::string_view name = t.name;
  const std::string& arch = model.arch;
  const bool falcon = arch == "falcon";
  const std::uint32_t gqa = n_gqa(model);
  const char* ftn = file_type_name(ft);
  auto set = [&](Type ty, const std::string& reason) {
    new_type = ty;
    add(why, std::string(tname(ty)) + ": " + reason);
  };

  // glm5-next keeps its q projections and nextn.eh_proj at Q8_0 or better.
  if (arch == "glm5-next" &&
      (contains(name, "attn_q_a") || contains(name, "attn_q_b") || contains(name, "nextn.eh_proj"))) {
    if (new_type != Type::F32 && new_type != Type::BF16 && new_type != Type::F16) {
      set(Type::Q8_0, "glm5-next keeps this projection at q8_0");
      return new_type;
    }
  }

  if (cat == Category::Output || (qs.has_tied_embeddings && cat == Category::TokenEmbd)) {
    // The lm head (or the token embeddings that double as it) is the most sensitive tensor.
    const std::string role = cat == Category::Output ? "output.weight" : "tied token_embd (serves as output)";
    if (opt.output_tensor_type) {
      set(*opt.output_tensor_type, role + " takes output_tensor_type");
    } else if (ft == FT::MXFP4_MOE) {
      set(Type::Q8_0, role + " is q8_0 in MXFP4_MOE");
    } else if (falcon || t.ne[0] % block(new_type) != 0) {
      set(Type::Q8_0, falcon ? role + " is q8_0 for falcon"
                             : role + ": row length " + std::to_string(t.ne[0]) +
                                   " is not a multiple of " + std::to_string(block(new_type)) +
                                   " (" + tname(new_type) + ")");
    } else if (any_of(ft, FT::IQ2_XXS, FT::IQ2_XS, FT::IQ3_XXS, FT::IQ1_S, FT::IQ2_S, FT::IQ2_M,
                      FT::IQ1_M)) {
      set(Type::Q5_K, role + " in the very-low-bit IQ mixes");
    } else if (new_type != Type::Q8_0) {
      set(Type::Q6_K, role + " gets q6_K");
    }
  } else if (ft == FT::MXFP4_MOE) {
    // Expert tensors (3-D) to MXFP4, everything else Q8_0; bailingmoe3's MLA projections
    // are 3-D too, so only its ffn roles count as experts.
    const bool bailing_expert = arch == "bailingmoe3" &&
        (cat == Category::FfnUp || cat == Category::FfnGate || cat == Category::FfnDown);
    if (dim(t, 2) > 1 && (arch != "bailingmoe3" || bailing_expert)) {
      set(Type::MXFP4, "expert tensor in MXFP4_MOE");
    } else {
      set(Type::Q8_0, "non-expert tensor in MXFP4_MOE");
    }
  } else if (cat == Category::TokenEmbd) {
    if (opt.token_embedding_type) {
      set(*opt.token_embedding_type, "token_embedding_type");
    } else if (any_of(ft, FT::IQ2_XXS, FT::IQ2_XS, FT::IQ1_S, FT::IQ1_M)) {
      set(Type::Q2_K, "token_embd in the lowest-bit IQ mixes");
    } else if (any_of(ft, FT::IQ2_S, FT::IQ2_M, FT::IQ3_XXS)) {
      set(Type::IQ3_S, std::string("token_embd in ") + ftn);
    } else if (any_of(ft, FT::TQ1_0, FT::TQ2_0, FT::Q2_0)) {
      set(Type::Q4_K, std::string("token_embd in ") + ftn);
    }
  } else if (any_of(ft, FT::IQ2_XXS, FT::IQ2_XS, FT::IQ1_S, FT::IQ2_S, FT::IQ2_M, FT::IQ1_M)) {
    // The 1-2 bit IQ mixes: attn_v, attn_k of 8-expert models, the first eighth of
    // ffn_down and attn_output get more.
    const bool iq2sm = any_of(ft, FT::IQ2_S, FT::IQ2_M);
    if (is_attn_v_like(cat)) {
      if (gqa >= 4 || model.n_expert >= 4) {
        set(Type::Q4_K, "attn_v with n_gqa >= 4 or >= 4 experts");
      } else {
        set(iq2sm ? Type::IQ3_S : Type::Q2_K, std::string("attn_v in ") + ftn);
      }
      ++qs.i_attention_wv;
    } else if (model.n_expert == 8 && cat == Category::AttnK) {
      set(Type::Q4_K, "attn_k of an 8-expert model");
    } else if (cat == Category::FfnDown) {
      if (qs.i_ffn_down < qs.n_ffn_down / 8) {
        set(iq2sm ? Type::IQ3_S : Type::Q2_K, "ffn_down #" + std::to_string(qs.i_ffn_down) +
                                                  " in the first eighth of " + std::to_string(qs.n_ffn_down));
      }
      ++qs.i_ffn_down;
    } else if (cat == Category::AttnOutput) {
      if (model.n_expert == 8) {
        set(Type::Q5_K, "attn_output of an 8-expert model");
      } else if (any_of(ft, FT::IQ1_S, FT::IQ1_M)) {
        set(Type::IQ2_XXS, std::string("attn_output in ") + ftn);
      } else if (iq2sm) {
        set(Type::IQ3_S, std::string("attn_output in ") + ftn);
      }
    }
  } else if (is_attn_v_like(cat)) {
    // attn_v (and fused qkv / kv_b): small but sensitive, most mixes give it more bits.
    const int i = qs.i_attention_wv, n = qs.n_attention_wv;
    const std::string pos = "attn_v #" + std::to_string(i) + " of " + std::to_string(n);
    if (ft == FT::Q2_K) {
      set(gqa >= 4 ? Type::Q4_K : Type::Q3_K, std::string("attn_v in Q2_K") + (gqa >= 4 ? " with n_gqa >= 4" : ""));
    } else if (ft == FT::Q2_K_S && gqa >= 4) {
      set(Type::Q4_K, "attn_v in Q2_K_S with n_gqa >= 4");
    } else if (ft == FT::IQ3_XXS) {
      set(gqa >= 4 ? Type::Q4_K : (!qs.has_imatrix ? Type::IQ3_S : Type::IQ3_XXS),
          gqa >= 4 ? "attn_v in IQ3_XXS with n_gqa >= 4"
                   : (!qs.has_imatrix ? "attn_v in IQ3_XXS without imatrix" : "attn_v in IQ3_XXS with imatrix"));
    } else if (any_of(ft, FT::IQ3_XS, FT::IQ3_S) && gqa >= 4) {
      set(Type::Q4_K, std::string("attn_v in ") + ftn + " with n_gqa >= 4");
    } else if (ft == FT::IQ3_M) {
      set(Type::Q4_K, "attn_v in IQ3_M");
    } else if (ft == FT::Q3_K_M) {
      set(i < 2 ? Type::Q5_K : Type::Q4_K, pos + (i < 2 ? " (first two)" : "") + " in Q3_K_M");
    } else if (ft == FT::Q3_K_L) {
      set(Type::Q5_K, "attn_v in Q3_K_L");
    } else if (any_of(ft, FT::IQ4_NL, FT::IQ4_XS) && gqa >= 4) {
      set(Type::Q5_K, std::string("attn_v in ") + ftn + " with n_gqa >= 4");
    } else if (any_of(ft, FT::Q4_K_M, FT::Q5_K_M) && use_more_bits(i, n)) {
      set(Type::Q6_K, pos + " is a use_more_bits layer in " + ftn);
    } else if (ft == FT::Q4_K_S && i < 4) {
      set(Type::Q5_K, pos + " (first four) in Q4_K_S");
    }
    if (is_70b(model) && (new_type == Type::Q3_K || new_type == Type::Q4_K)) {
      // 70B: 8 heads share attn_v, so it is 8x smaller than attn_q; more bits are cheap.
      set(Type::Q5_K, "attn_v of a 70B model (GQA 8)");
    }
    if (model.n_expert == 8) set(Type::Q8_0, "attn_v of an 8-expert model");
    ++qs.i_attention_wv;
  } else if (cat == Category::AttnK) {
    if (model.n_expert == 8) {
      set(Type::Q8_0, "attn_k of an 8-expert model");
    } else if (ft == FT::IQ3_XS) {
      set(Type::IQ3_XXS, "attn_k in IQ3_XS");
    } else if (ft == FT::IQ3_XXS) {
      set(Type::IQ2_S, "attn_k in IQ3_XXS");
    }
  } else if (cat == Category::AttnQ) {
    if (ft == FT::IQ3_XS) {
      set(Type::IQ3_XXS, "attn_q in IQ3_XS");
    } else if (ft == FT::IQ3_XXS) {
      set(Type::IQ2_S, "attn_q in IQ3_XXS");
    }
  } else if (cat == Category::FfnDown) {
    // ffn_down is the most sensitive ffn matrix; which layers get more depends on the mix.
    auto [il, nl] = layer_info(model, qs.i_ffn_down, qs.n_ffn_down, t);
    const std::string pos = "ffn_down layer " + std::to_string(il) + " of " + std::to_string(nl);
    if (ft == FT::Q2_K) {
      set(Type::Q3_K, "ffn_down in Q2_K");
    } else if (ft == FT::Q2_K_S) {
      if (il < nl / 8) set(Type::Q4_K, pos + " (first eighth) in Q2_K_S");
    } else if (ft == FT::IQ3_XXS && !qs.has_imatrix) {
      set(il < nl / 8 ? Type::Q4_K : Type::Q3_K, pos + " in IQ3_XXS without imatrix");
    } else if (ft == FT::Q3_K_M) {
      const Type ty = il < nl / 16 ? Type::Q5_K
                      : (!falcon || use_more_bits(il, nl)) ? Type::Q4_K : Type::Q3_K;
      set(ty, pos + (il < nl / 16 ? " (first sixteenth)" : "") + " in Q3_K_M");
    } else if (ft == FT::IQ3_M && (il < nl / 8 || (model.n_expert == 8 && use_more_bits(il, nl)))) {
      set(Type::Q4_K, pos + " in IQ3_M");
    } else if (ft == FT::Q3_K_L) {
      set(falcon ? Type::Q4_K : Type::Q5_K, "ffn_down in Q3_K_L");
    } else if (ft == FT::Q4_K_M) {
      if (falcon) {
        set(il < nl / 16 ? Type::Q6_K : use_more_bits(il, nl) ? Type::Q5_K : Type::Q4_K,
            pos + " in Q4_K_M (falcon)");
      } else if (use_more_bits(il, nl)) {
        set(Type::Q6_K, pos + " is a use_more_bits layer in Q4_K_M");
      }
    } else if (il < nl / 8 && any_of(ft, FT::IQ4_NL, FT::IQ4_XS) && !qs.has_imatrix) {
      set(Type::Q5_K, pos + " (first eighth) in " + ftn + " without imatrix");
    } else if (ft == FT::Q5_K_M && use_more_bits(il, nl)) {
      set(Type::Q6_K, pos + " is a use_more_bits layer in Q5_K_M");
    } else if (ft == FT::Q4_K_S && !falcon && il < nl / 8) {
      set(Type::Q5_K, pos + " (first eighth) in Q4_K_S");
    } else if (any_of(ft, FT::Q4_0, FT::Q5_0) && qs.has_imatrix && il < nl / 8) {
      // Only with an imatrix, so that a run without one reproduces the old files.
      set(ft == FT::Q4_0 ? Type::Q4_1 : Type::Q5_1, pos + " (first eighth) with imatrix");
    }
    ++qs.i_ffn_down;
  } else if (cat == Category::AttnOutput) {
    if (!falcon) {
      if (model.n_expert == 8) {
        if (any_of(ft, FT::Q2_K, FT::IQ3_XS, FT::IQ3_XXS, FT::Q3_K_S, FT::Q3_K_M, FT::IQ4_NL,
                   FT::Q4_K_S, FT::Q4_K_M, FT::IQ3_S, FT::IQ3_M, FT::IQ4_XS)) {
          set(Type::Q5_K, "attn_output of an 8-expert model");
        }
      } else if (ft == FT::Q2_K) {
        set(Type::Q3_K, "attn_output in Q2_K");
      } else if (ft == FT::IQ3_XXS) {
        set(Type::IQ3_S, "attn_output in IQ3_XXS");
      } else if (ft == FT::Q3_K_M) {
        set(Type::Q4_K, "attn_output in Q3_K_M");
      } else if (ft == FT::Q3_K_L) {
        set(Type::Q5_K, "attn_output in Q3_K_L");
      } else if (ft == FT::IQ3_M) {
        set(Type::Q4_K, "attn_output in IQ3_M");
      }
    } else if (ft == FT::Q3_K_L) {
      set(Type::Q4_K, "attn_output in Q3_K_L (falcon)");
    }
  } else if (cat == Category::FfnGate || cat == Category::FfnUp) {
    // (llama.cpp's ATTENTION_QKV branch sits here but is unreachable: qkv is attn_v-like.)
    int& counter = cat == Category::FfnGate ? qs.i_ffn_gate : qs.i_ffn_up;
    const int n = cat == Category::FfnGate ? qs.n_ffn_gate : qs.n_ffn_up;
    auto [il, nl] = layer_info(model, counter, n, t);
    if (ft == FT::IQ3_XS && il >= nl / 8 && il < 7 * nl / 8) {
      set(Type::IQ3_XXS, std::string(cat == Category::FfnGate ? "ffn_gate" : "ffn_up") +
                             " in the middle layers of IQ3_XS");
    }
    ++counter;
  }
  return new_type;
}

Type fallback(const MixTensor& t, Type target, std::string& why) {
  const std::int64_t ncols = t.ne[0];
  const std::int64_t qk = block(target);
  if (ncols % qk == 0) return target;
  Type to = target;
  switch (target) {
    // 256-blocks to a 32-block type of similar size.
    case Type::IQ1_S: case Type::IQ1_M: case Type::IQ2_XXS: case Type::IQ2_XS:
    case Type::IQ2_S: case Type::IQ3_XXS: case Type::IQ3_S: case Type::IQ4_XS:
      to = Type::IQ4_NL; break;
    case Type::Q2_0: case Type::Q2_K: case Type::Q3_K: case Type::TQ1_0: case Type::TQ2_0:
      to = Type::Q4_0; break;
    case Type::Q4_K: to = Type::Q5_0; break;
    case Type::Q5_K: to = Type::Q5_1; break;
    case Type::Q6_K: to = Type::Q8_0; break;
    default:
      // A 32-block type has nothing smaller to fall to: the F16 check below takes it.
      if (qk > 32) {
        fail("gguf mix: tensor ", t.name, ": row length ", ncols, " is not a multiple of ", qk,
             " and llama.cpp defines no fallback for ", tname(target));
      }
  }
  std::string note = "fallback " + std::string(tname(target)) + " -> ";
  const std::string reason = "row length " + std::to_string(ncols) + " is not a multiple of " + std::to_string(qk);
  if (ncols % block(to) != 0) {
    // Not even a multiple of 32: llama.cpp keeps such rare shapes in F16.
    note += std::string(tname(Type::F16)) + ": " + reason + " (nor of " + std::to_string(block(to)) + ")";
    to = Type::F16;
  } else {
    note += std::string(tname(to)) + ": " + reason;
  }
  add(why, note);
  return to;
}

bool requires_imatrix(std::string_view name, Type dst, FileType ft) {
  // The 1-3 bit IQ types are garbage without importance weights; Q2_K only inside Q2_K_S.
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight" || name == "output.weight") {
    return false;
  }
  switch (dst) {
    case Type::IQ3_XXS: case Type::IQ2_XXS: case Type::IQ2_XS: case Type::IQ2_S:
    case Type::IQ1_M: case Type::IQ1_S:
      return true;
    case Type::Q2_K:
      return ft == FT::Q2_K_S;
    default:
      return false;
  }
}

}  // namespace lowbit::ggml::mix_detail
