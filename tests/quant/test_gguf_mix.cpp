// Unit checks of lowbit::ggml's mix planner that the llama.cpp peer test does not spell
// out: file type names and aliases, the per-tensor notes (fallbacks for 576/640-wide
// rows, tied embeddings, kept tensors) and the refusals llama.cpp also makes.
#include <gtest/gtest.h>

#include <map>

#include "lowbit/error.h"
#include "lowbit/gguf_mix.h"

using namespace lowbit::ggml;

namespace {

MixModel smol_like() {
  MixModel m;
  m.arch = "llama";
  m.n_layer = 30;
  m.n_head = 9;
  m.n_head_kv = 3;
  return m;
}

// SmolLM2's shapes for the first `layers` blocks plus embeddings (tied: no output.weight).
std::vector<MixTensor> smol_tensors(int layers, bool untied = false) {
  std::vector<MixTensor> t = {{"token_embd.weight", {576, 49152}, Type::F32},
                              {"output_norm.weight", {576}, Type::F32}};
  if (untied) t.push_back({"output.weight", {576, 49152}, Type::F32});
  for (int i = 0; i < layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    t.push_back({b + "attn_norm.weight", {576}, Type::F32});
    t.push_back({b + "attn_q.weight", {576, 576}, Type::F32});
    t.push_back({b + "attn_k.weight", {576, 192}, Type::F32});
    t.push_back({b + "attn_v.weight", {576, 192}, Type::F32});
    t.push_back({b + "attn_output.weight", {576, 576}, Type::F32});
    t.push_back({b + "ffn_gate.weight", {576, 1536}, Type::F32});
    t.push_back({b + "ffn_up.weight", {576, 1536}, Type::F32});
    t.push_back({b + "ffn_down.weight", {1536, 576}, Type::F32});
    t.push_back({b + "ffn_norm.weight", {576}, Type::F32});
  }
  return t;
}

const MixChoice& find(const std::vector<MixTensor>& t, const std::vector<MixChoice>& c,
                      const std::string& name) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].name == name) return c[i];
  }
  throw std::runtime_error("no tensor " + name);
}

}  // namespace

TEST(GgufMixFileType, ParseNamesAliasesAndIds) {
  EXPECT_EQ(parse_file_type("Q4_K_M"), FileType::Q4_K_M);
  EXPECT_EQ(parse_file_type("q4_k_m"), FileType::Q4_K_M);
  EXPECT_EQ(parse_file_type("Q4_K"), FileType::Q4_K_M);  // llama-quantize's aliases
  EXPECT_EQ(parse_file_type("q3_k"), FileType::Q3_K_M);
  EXPECT_EQ(parse_file_type("Q5_K"), FileType::Q5_K_M);
  EXPECT_EQ(parse_file_type("iq4_xs"), FileType::IQ4_XS);
  EXPECT_EQ(parse_file_type("F32"), FileType::F32);
  EXPECT_EQ(parse_file_type("bf16"), FileType::BF16);
  EXPECT_EQ(parse_file_type("15"), FileType::Q4_K_M);
  EXPECT_EQ(parse_file_type("7"), FileType::Q8_0);
  EXPECT_FALSE(parse_file_type("Q4_K_X"));
  EXPECT_FALSE(parse_file_type(""));
  EXPECT_FALSE(parse_file_type("NVFP4"));  // an id, but llama.cpp cannot write it
  EXPECT_FALSE(parse_file_type("39"));
  EXPECT_FALSE(parse_file_type("4"));      // retired Q4_1_SOME_F16
  for (FileType ft : {FileType::Q4_0, FileType::Q3_K_L, FileType::IQ4_NL, FileType::MXFP4_MOE,
                      FileType::F16, FileType::Q2_K_S}) {
    EXPECT_EQ(parse_file_type(file_type_name(ft)), ft) << file_type_name(ft);
  }
}

TEST(GgufMixFileType, DefaultTypes) {
  EXPECT_EQ(file_type_default_type(FileType::Q4_K_M), Type::Q4_K);
  EXPECT_EQ(file_type_default_type(FileType::Q3_K_S), Type::Q3_K);
  EXPECT_EQ(file_type_default_type(FileType::Q8_0), Type::Q8_0);
  EXPECT_EQ(file_type_default_type(FileType::IQ2_S), Type::IQ2_XS);
  EXPECT_EQ(file_type_default_type(FileType::IQ3_M), Type::IQ3_S);
  EXPECT_EQ(file_type_default_type(FileType::F32), Type::F32);
  EXPECT_FALSE(file_type_default_type(FileType::NVFP4));
  EXPECT_THROW(plan_mix(smol_like(), smol_tensors(1), FileType::NVFP4), lowbit::Error);
}

TEST(GgufMixPlan, FallbackNotesFor576WideRows) {
  const auto t = smol_tensors(30);
  const auto c = plan_mix(smol_like(), t, FileType::Q4_K_M);
  const auto& q = find(t, c, "blk.5.attn_q.weight");
  EXPECT_EQ(q.type, Type::Q5_0);
  EXPECT_TRUE(q.quantized);
  EXPECT_NE(q.note.find("fallback q4_K -> q5_0: row length 576 is not a multiple of 256"),
            std::string::npos) << q.note;
  // attn_v #0 is a use_more_bits layer: q6_K, which 576 does not fit either -> q8_0.
  const auto& v = find(t, c, "blk.0.attn_v.weight");
  EXPECT_EQ(v.type, Type::Q8_0);
  EXPECT_NE(v.note.find("use_more_bits"), std::string::npos) << v.note;
  EXPECT_NE(v.note.find("fallback q6_K -> q8_0"), std::string::npos) << v.note;
  // ffn_down rows are 1536 wide: q6_K fits in the more-bits layers, q4_K elsewhere.
  EXPECT_EQ(find(t, c, "blk.0.ffn_down.weight").type, Type::Q6_K);
  EXPECT_EQ(find(t, c, "blk.4.ffn_down.weight").type, Type::Q4_K);
  EXPECT_EQ(find(t, c, "blk.5.ffn_down.weight").type, Type::Q6_K);  // (5 - 30/8) % 3 == 2
}

TEST(GgufMixPlan, TiedEmbeddingsTakeTheOutputRules) {
  // Without output.weight the token embeddings are the lm head: q6_K for a 32-block
  // default whose row fits, q8_0 when the default's block does not divide the row.
  auto t = smol_tensors(2);
  auto q40 = plan_mix(smol_like(), t, FileType::Q4_0);
  const auto& e = find(t, q40, "token_embd.weight");
  EXPECT_EQ(e.type, Type::Q8_0);  // q6_K, then 576 % 256 -> q8_0
  EXPECT_NE(e.note.find("tied token_embd"), std::string::npos) << e.note;
  EXPECT_NE(e.note.find("fallback q6_K -> q8_0"), std::string::npos) << e.note;
  auto q4km = plan_mix(smol_like(), t, FileType::Q4_K_M);
  EXPECT_EQ(find(t, q4km, "token_embd.weight").type, Type::Q8_0);
  // Untied: token_embd keeps the default (after fallback), output.weight the head rules.
  auto u = smol_tensors(2, true);
  auto q4km_u = plan_mix(smol_like(), u, FileType::Q4_K_M);
  EXPECT_EQ(find(u, q4km_u, "token_embd.weight").type, Type::Q5_0);
  EXPECT_EQ(find(u, q4km_u, "output.weight").type, Type::Q8_0);
}

TEST(GgufMixPlan, KeptTensorsAndFloatFiles) {
  const auto t = smol_tensors(1);
  const auto c = plan_mix(smol_like(), t, FileType::Q6_K);
  const auto& norm = find(t, c, "blk.0.attn_norm.weight");
  EXPECT_EQ(norm.type, Type::F32);
  EXPECT_FALSE(norm.quantized);
  EXPECT_EQ(norm.note, "kept: 1-D tensor");
  const auto f16 = plan_mix(smol_like(), t, FileType::F16);
  EXPECT_EQ(find(t, f16, "blk.0.attn_q.weight").type, Type::F16);
  EXPECT_EQ(find(t, f16, "token_embd.weight").type, Type::F16);  // no head rules for floats
  const auto f32 = plan_mix(smol_like(), t, FileType::F32);
  for (const auto& ch : f32) EXPECT_FALSE(ch.quantized) << ch.note;
}

TEST(GgufMixPlan, NoFallbackFitsF16) {
  MixModel m = smol_like();
  std::vector<MixTensor> t = {{"blk.0.attn_q.weight", {100, 8}, Type::F32}};
  const auto c = plan_mix(m, t, FileType::Q4_K_M);
  EXPECT_EQ(c[0].type, Type::F16);
  EXPECT_NE(c[0].note.find("fallback q4_K -> f16"), std::string::npos) << c[0].note;
  // Q1_0's 128-blocks have no fallback in llama.cpp: it refuses, and so do we.
  std::vector<MixTensor> w = {{"blk.0.attn_q.weight", {576, 8}, Type::F32}};
  EXPECT_THROW(plan_mix(m, w, FileType::Q1_0), lowbit::Error);
}

TEST(GgufMixPlan, RefusalsLlamaCppAlsoMakes) {
  const auto t = smol_tensors(30);
  // ffn_down (1536 wide) past the first eighth stays iq2_xxs, which needs importance
  // weights; the first eighth gets q2_K, the 576-wide rest falls back to iq4_nl / q4_0.
  EXPECT_THROW(plan_mix(smol_like(), t, FileType::IQ2_XXS), lowbit::Error);
  MixOptions im;
  im.has_imatrix = true;
  const auto c = plan_mix(smol_like(), t, FileType::IQ2_XXS, im);
  EXPECT_EQ(find(t, c, "blk.10.ffn_down.weight").type, Type::IQ2_XXS);
  EXPECT_TRUE(find(t, c, "blk.10.ffn_down.weight").needs_imatrix);
  EXPECT_EQ(find(t, c, "blk.1.ffn_down.weight").type, Type::Q2_K);
  EXPECT_FALSE(find(t, c, "blk.1.ffn_down.weight").needs_imatrix);
  EXPECT_EQ(find(t, c, "blk.1.ffn_up.weight").type, Type::IQ4_NL);
  // An output type override skips the fallback: q4_K cannot hold 576-wide rows.
  MixOptions o;
  o.output_tensor_type = Type::Q4_K;
  EXPECT_THROW(plan_mix(smol_like(), smol_tensors(1, true), FileType::Q4_K_M, o), lowbit::Error);
  // ...but tied token_embd goes through the rules, so it does fall back.
  const auto tied = plan_mix(smol_like(), t, FileType::Q4_K_M, o);
  EXPECT_EQ(find(t, tied, "token_embd.weight").type, Type::Q5_0);
}

TEST(GgufMixPlan, ModelFromMetadata) {
  std::map<std::string, std::int64_t> kv = {{"gemma3.block_count", 18},
                                            {"gemma3.attention.head_count", 4}};
  auto get = [&](std::string_view k) -> std::optional<std::int64_t> {
    auto it = kv.find(std::string(k));
    if (it == kv.end()) return std::nullopt;
    return it->second;
  };
  MixModel m = mix_model_from_metadata("gemma3", get);
  EXPECT_EQ(m.arch, "gemma3");
  EXPECT_EQ(m.n_layer, 18u);
  EXPECT_EQ(m.n_head, 4u);
  EXPECT_EQ(m.n_head_kv, 4u);  // head_count_kv defaults to head_count
  EXPECT_EQ(m.n_expert, 0u);
  kv["gemma3.attention.head_count_kv"] = 1;
  EXPECT_EQ(mix_model_from_metadata("gemma3", get).n_head_kv, 1u);
}
