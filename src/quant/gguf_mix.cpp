// llama.cpp file types (names, default types) and plan_mix, the driver of the mix rules:
// it visits tensors in llama_model_quantize's order (the rules count attn_v / ffn_down
// tensors as they go), applies the override options around the rules exactly where
// llama_tensor_get_type does, then the row-length fallback.
#include <algorithm>
#include <array>
#include <cctype>
#include <numeric>
#include <regex>

#include "lowbit/error.h"
#include "lowbit/gguf_mix.h"
#include "quant/gguf_mix_rules.h"

namespace lowbit::ggml {
namespace {

using namespace mix_detail;

struct FileTypeInfo {
  FileType ft;
  const char* name;
  std::optional<Type> default_type;  // llama_ftype_get_default_type
};

// llama-quantize's QUANT_OPTIONS spellings; NVFP4 has an id but no default type.
constexpr std::array<FileTypeInfo, 36> kFileTypes = {{
    {FileType::F32, "F32", Type::F32},
    {FileType::F16, "F16", Type::F16},
    {FileType::BF16, "BF16", Type::BF16},
    {FileType::Q4_0, "Q4_0", Type::Q4_0},
    {FileType::Q4_1, "Q4_1", Type::Q4_1},
    {FileType::Q5_0, "Q5_0", Type::Q5_0},
    {FileType::Q5_1, "Q5_1", Type::Q5_1},
    {FileType::Q8_0, "Q8_0", Type::Q8_0},
    {FileType::Q1_0, "Q1_0", Type::Q1_0},
    {FileType::Q2_0, "Q2_0", Type::Q2_0},
    {FileType::MXFP4_MOE, "MXFP4_MOE", Type::MXFP4},
    {FileType::Q2_K, "Q2_K", Type::Q2_K},
    {FileType::Q2_K_S, "Q2_K_S", Type::Q2_K},
    {FileType::IQ3_XS, "IQ3_XS", Type::IQ3_S},
    {FileType::Q3_K_S, "Q3_K_S", Type::Q3_K},
    {FileType::Q3_K_M, "Q3_K_M", Type::Q3_K},
    {FileType::Q3_K_L, "Q3_K_L", Type::Q3_K},
    {FileType::Q4_K_S, "Q4_K_S", Type::Q4_K},
    {FileType::Q4_K_M, "Q4_K_M", Type::Q4_K},
    {FileType::Q5_K_S, "Q5_K_S", Type::Q5_K},
    {FileType::Q5_K_M, "Q5_K_M", Type::Q5_K},
    {FileType::Q6_K, "Q6_K", Type::Q6_K},
    {FileType::TQ1_0, "TQ1_0", Type::TQ1_0},
    {FileType::TQ2_0, "TQ2_0", Type::TQ2_0},
    {FileType::IQ2_XXS, "IQ2_XXS", Type::IQ2_XXS},
    {FileType::IQ2_XS, "IQ2_XS", Type::IQ2_XS},
    {FileType::IQ2_S, "IQ2_S", Type::IQ2_XS},   // the mix is IQ2_XS plus IQ3_S where it counts
    {FileType::IQ2_M, "IQ2_M", Type::IQ2_S},
    {FileType::IQ3_XXS, "IQ3_XXS", Type::IQ3_XXS},
    {FileType::IQ1_S, "IQ1_S", Type::IQ1_S},
    {FileType::IQ1_M, "IQ1_M", Type::IQ1_M},
    {FileType::IQ4_NL, "IQ4_NL", Type::IQ4_NL},
    {FileType::IQ4_XS, "IQ4_XS", Type::IQ4_XS},
    {FileType::IQ3_S, "IQ3_S", Type::IQ3_S},
    {FileType::IQ3_M, "IQ3_M", Type::IQ3_S},
    {FileType::NVFP4, "NVFP4", std::nullopt},
}};

const FileTypeInfo* info(FileType ft) {
  for (const auto& i : kFileTypes) {
    if (i.ft == ft) return &i;
  }
  return nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const char* tname(Type t) { return traits(t).name; }

// llama_model_loader's weights_map order: block index (-1 without one), then name.
bool loader_order(const MixTensor& a, const MixTensor& b) {
  const int la = scan_block_index(a.name).value_or(-1);
  const int lb = scan_block_index(b.name).value_or(-1);
  if (la != lb) return la < lb;
  return a.name < b.name;
}

struct Compiled {
  std::regex re;
  Type type;
};

}  // namespace

std::optional<FileType> parse_file_type(std::string_view name) {
  for (const auto& i : kFileTypes) {
    if (i.default_type && iequals(name, i.name)) return i.ft;
  }
  // llama-quantize's aliases for the _M mixes.
  if (iequals(name, "Q3_K")) return FileType::Q3_K_M;
  if (iequals(name, "Q4_K")) return FileType::Q4_K_M;
  if (iequals(name, "Q5_K")) return FileType::Q5_K_M;
  if (!name.empty() && name.size() <= 4 &&
      std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    const unsigned id = unsigned(std::stoul(std::string(name)));
    for (const auto& i : kFileTypes) {
      if (i.default_type && unsigned(i.ft) == id) return i.ft;
    }
  }
  return std::nullopt;
}

const char* file_type_name(FileType ft) {
  const FileTypeInfo* i = info(ft);
  return i ? i->name : "?";
}

std::optional<Type> file_type_default_type(FileType ft) {
  const FileTypeInfo* i = info(ft);
  return i ? i->default_type : std::nullopt;
}

MixModel mix_model_from_metadata(std::string arch, const MixKeyLookup& get) {
  MixModel m;
  auto u32 = [&](const std::string& key, std::uint32_t dflt) -> std::uint32_t {
    auto v = get(key);
    if (!v) return dflt;
    if (*v < 0 || *v > 0xffffffffLL) fail("gguf mix: metadata ", key, " = ", *v, " is out of range");
    return std::uint32_t(*v);
  };
  const std::string p = arch + ".";
  m.n_layer = u32(p + "block_count", 0);
  m.n_layer_nextn = u32(p + "nextn_predict_layers", 0);
  m.n_expert = u32(p + "expert_count", 0);
  m.n_head = u32(p + "attention.head_count", 0);
  m.n_head_kv = u32(p + "attention.head_count_kv", m.n_head);
  m.arch = std::move(arch);
  return m;
}

std::vector<MixChoice> plan_mix(const MixModel& model, const std::vector<MixTensor>& tensors,
                                FileType ftype, const MixOptions& opt) {
  const FileTypeInfo* fti = info(ftype);
  if (!fti || !fti->default_type) {
    fail("gguf mix: llama.cpp cannot quantize to file type ", fti ? fti->name : "?", " (id ",
         unsigned(ftype), ")");
  }
  const Type default_type = *fti->default_type;
  const bool default_quantized = traits(default_type).quantized;
  for (const auto& t : tensors) {
    if (t.ne.empty() || t.ne[0] <= 0) fail("gguf mix: tensor ", t.name, " has no row length");
  }

  std::vector<Compiled> patterns;
  for (const auto& o : opt.tensor_types) {
    try {
      patterns.push_back({std::regex(o.pattern), o.type});
    } catch (const std::regex_error& e) {
      fail("gguf mix: bad tensor type pattern '", o.pattern, "': ", e.what());
    }
  }
  auto first_match = [&](const std::string& name) -> const Compiled* {
    for (const auto& p : patterns) {
      if (std::regex_search(name, p.re)) return &p;
    }
    return nullptr;
  };

  // init_quantize_state_counters: attn_v-like tensors are counted by name over the whole
  // file; the ffn counters run against block_count; any output.weight unties embeddings.
  MixState qs;
  qs.has_imatrix = opt.has_imatrix;
  for (const auto& t : tensors) {
    const Category c = categorize(t.name);
    if (is_attn_v_like(c)) ++qs.n_attention_wv;
    if (c == Category::Output) qs.has_tied_embeddings = false;
  }
  qs.n_ffn_down = qs.n_ffn_gate = qs.n_ffn_up = int(model.n_layer);

  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return loader_order(tensors[a], tensors[b]);
  });

  std::vector<MixChoice> out(tensors.size());
  for (std::size_t idx : order) {
    const MixTensor& t = tensors[idx];
    const Category cat = categorize(t.name);
    std::string why;
    Type type = t.type;

    // llama_tensor_get_type, step by step.
    if (auto kept = why_kept(opt, model, t)) {
      why = "kept: " + *kept;
    } else if (opt.token_embedding_type && cat == Category::TokenEmbd &&
               !(t.name == "per_layer_token_embd.weight" && first_match(t.name))) {
      // --token-embedding-type wins outright (no fallback), except that an explicit
      // --tensor-type may still name the separate per-layer table.
      type = *opt.token_embedding_type;
      why = std::string(tname(type)) + ": token_embedding_type";
    } else if (opt.output_tensor_type && cat == Category::Output) {
      type = *opt.output_tensor_type;
      why = std::string(tname(type)) + ": output_tensor_type";
    } else {
      type = default_type;
      why = std::string(tname(type)) + ": default of " + fti->name;
      // Mixes only refine quantized defaults: F16/BF16/F32 files are uniform.
      if (default_quantized) {
        const Compiled* manual = first_match(t.name);
        if (manual) {
          if (manual->type != type) {
            type = manual->type;
            why = std::string(tname(type)) + ": tensor type override";
          }
        } else if (!opt.pure) {
          std::string rule;
          type = mix_rule(qs, model, opt, ftype, t, cat, type, rule);
          if (!rule.empty()) why = rule;
        } else {
          why += " (pure)";
        }
        type = fallback(t, type, why);
      }
    }

    MixChoice& c = out[idx];
    c.type = type;
    c.quantized = type != t.type;
    // The check runs on every tensor llama.cpp may quantize, even one left as it was.
    c.needs_imatrix = !why_kept(opt, model, t) && requires_imatrix(t.name, type, ftype);
    if (!c.quantized && why.rfind("kept: ", 0) != 0) why += std::string(" (already ") + tname(t.type) + ")";
    c.note = std::move(why);
    if (c.needs_imatrix && !opt.has_imatrix) {
      fail("gguf mix: ", fti->name, " needs an importance matrix: tensor ", t.name, " gets ",
           tname(type));
    }
  }
  // An override type that cannot hold the row length trips a GGML_ASSERT in llama.cpp
  // (overrides of token_embd / output.weight skip the fallback); refuse it here.
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    if (out[i].quantized && t.ne[0] % traits(out[i].type).block_size != 0) {
      fail("gguf mix: tensor ", t.name, ": ", tname(out[i].type), " needs rows that are a multiple of ",
           traits(out[i].type).block_size, ", the row length is ", t.ne[0]);
    }
  }
  return out;
}

}  // namespace lowbit::ggml
