// plan_mix against llama.cpp's llama_model_quantize, run at test time by
// tests/peers/gguf_mix_llamacpp.py on tiny F32 copies of SmolLM2-135M (llama, 576-wide
// rows, tied embeddings), the same with an untied output.weight, and Gemma 3 270M
// (gemma3, 640-wide rows): every tensor's type, for every file type and option set.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/gguf_mix.h"
#include "support/peer.h"

using namespace lowbit::ggml;
using nlohmann::json;

namespace {

Type type_id(const json& j) { return Type(j.get<std::uint32_t>()); }

MixOptions options_from(const json& o) {
  MixOptions opt;
  opt.pure = o.value("pure", false);
  opt.has_imatrix = o.value("imatrix", false);
  opt.quantize_output_tensor = o.value("quantize_output_tensor", true);
  if (o.contains("output_tensor_type")) opt.output_tensor_type = type_id(o["output_tensor_type"]);
  if (o.contains("token_embedding_type")) opt.token_embedding_type = type_id(o["token_embedding_type"]);
  if (o.contains("tensor_types")) {
    for (const auto& p : o["tensor_types"]) {
      opt.tensor_types.push_back({p[0].get<std::string>(), type_id(p[1])});
    }
  }
  return opt;
}

struct Counts {
  int runs = 0, failing_runs = 0, tensors = 0;
};

// Runs the peer for one model and checks every run; returns what was compared.
Counts check_model(const std::string& label, std::size_t expect_tensors) {
  const json peer = json::parse(lowbit::testing::run_peer("gguf_mix_llamacpp.py", {label}));
  const json& m = peer.at("models").at(0);
  const json& kv = m.at("kv");
  const MixModel model = mix_model_from_metadata(m.at("arch").get<std::string>(),
      [&](std::string_view key) -> std::optional<std::int64_t> {
        auto it = kv.find(std::string(key));
        if (it == kv.end()) return std::nullopt;
        return it->get<std::int64_t>();
      });
  std::vector<MixTensor> tensors;
  for (const auto& t : m.at("tensors")) {
    tensors.push_back({t.at("name").get<std::string>(), t.at("ne").get<std::vector<std::int64_t>>(),
                       type_id(t.at("type"))});
  }
  EXPECT_EQ(tensors.size(), expect_tensors) << label;

  Counts n;
  for (const auto& run : m.at("runs")) {
    const FileType ft = FileType(run.at("ftype_id").get<std::uint32_t>());
    const MixOptions opt = options_from(run.at("options"));
    const std::string what = label + " " + run.at("ftype").get<std::string>() + " " +
                             run.at("options").dump();
    EXPECT_EQ(parse_file_type(run.at("ftype").get<std::string>()), ft) << what;
    ++n.runs;
    if (run.at("types").is_string()) {  // llama.cpp refused: so must plan_mix
      ++n.failing_runs;
      EXPECT_THROW(plan_mix(model, tensors, ft, opt), lowbit::Error) << what;
      continue;
    }
    std::vector<MixChoice> plan;
    try {
      plan = plan_mix(model, tensors, ft, opt);
    } catch (const lowbit::Error& e) {
      ADD_FAILURE() << what << ": plan_mix failed where llama.cpp did not: " << e.what();
      continue;
    }
    const auto& want = run.at("types");
    if (plan.size() != want.size()) {
      ADD_FAILURE() << what << ": " << plan.size() << " choices for " << want.size() << " tensors";
      continue;
    }
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const Type expected = type_id(want[i]);
      EXPECT_EQ(traits(plan[i].type).name, std::string(traits(expected).name))
          << what << " " << tensors[i].name << " (plan note: " << plan[i].note << ")";
      EXPECT_EQ(plan[i].quantized, expected != tensors[i].type) << what << " " << tensors[i].name;
      ++n.tensors;
    }
  }
  return n;
}

}  // namespace

TEST(PeerGgufMixLlamaCpp, SmolLM2TiedEmbeddings) {
  const Counts n = check_model("smollm2", 272);
  EXPECT_EQ(n.runs, 124);
  EXPECT_GT(n.tensors, 100 * 272);
  EXPECT_EQ(n.failing_runs, 9);  // 7 need an imatrix, Q1_0 has no fallback for 576
}

TEST(PeerGgufMixLlamaCpp, SmolLM2UntiedOutput) {
  const Counts n = check_model("smollm2-untied", 273);
  EXPECT_EQ(n.runs, 124);
  // + output_tensor_type q4_K for a 576-wide output.weight (no fallback there)
  EXPECT_EQ(n.failing_runs, 16);
}

TEST(PeerGgufMixLlamaCpp, Gemma3) {
  const Counts n = check_model("gemma3", 236);
  EXPECT_EQ(n.runs, 124);
  EXPECT_GT(n.tensors, 100 * 236);
  EXPECT_EQ(n.failing_runs, 7);
}
