// `lowbit quantize --method gptq|awq --scheme gguf:TYPE` on the real SmolLM2-135M: the file
// it writes has the tensor names, shapes and types of llama.cpp's own mix for that type,
// llama.cpp (llama-cpp-python) loads it, and llama.cpp's perplexity of it equals the
// perplexity lowbit measured in-process on the quantized model within 1 %.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "lowbit/gguf.h"
#include "support/peer.h"

using namespace lowbit;
using lowbit::testing::shell_quote;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string cli() { return shell_quote(lowbit::testing::cli_path().string()); }

void run_ok(const std::string& cmd) {
  const auto r = lowbit::testing::run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
}

void write_text(const std::string& novel, const fs::path& out, std::size_t max_lines) {
  const auto lines = json::parse(lowbit::testing::run_peer("austen_lines.py", {novel})).get<std::vector<std::string>>();
  std::ofstream f(out, std::ios::binary);
  for (std::size_t i = 0; i < std::min(max_lines, lines.size()); ++i) f << (i ? "\n" : "") << lines[i];
}

void expect_ptq_gguf_loads_in_llamacpp(const std::string& method, const std::string& type) {
  const fs::path dir = lowbit::testing::scratch_dir() / (method + "_" + type);
  fs::create_directories(dir);
  const auto smol =
      json::parse(lowbit::testing::run_peer("gguf_model_paths.py", {}))["smollm2"].get<std::string>();
  const auto base = (dir / "base.gguf").string(), calib = (dir / "calib.txt").string(),
             eval = (dir / "eval.txt").string(), logits = (dir / "base.logits").string(),
             out = (dir / "out.gguf").string(), mix = (dir / "mix.gguf").string(), report = (dir / "r.json").string();
  write_text("sensesensibility", calib, 300);
  write_text("prideprejudice", eval, 400);
  run_ok(cli() + " quantize " + shell_quote(smol) + " " + shell_quote(base) + " --scheme gguf:F32 -q");
  run_ok(cli() + " perplexity " + shell_quote(base) + " --f32 --text " + shell_quote(eval) +
         " --ctx 256 --chunks 3 --threads 2 --save-logits " + shell_quote(logits));
  run_ok(cli() + " quantize " + shell_quote(base) + " " + shell_quote(out) + " --method " + method +
         " --scheme gguf:" + type + " --calib " + shell_quote(calib) +
         " --calib-ctx 256 --calib-chunks 2 --awq-search-seqs 1 --threads 2 --kld-base " + shell_quote(logits) +
         " --report " + shell_quote(report) + " -q");
  // llama.cpp's mix for the type with an imatrix (PTQ has calibration, and llama.cpp picks
  // some types differently with one, e.g. Q4_1 for Q4_0's ffn_down), through lowbit's
  // llama-quantize port (byte-identical to llama_model_quantize, SlowPeerGgufQuantize):
  // same tensors, shapes and types.
  const auto imatrix = (dir / "imatrix.gguf").string();
  run_ok(cli() + " calibrate " + shell_quote(base) + " --text " + shell_quote(calib) +
         " --ctx 256 --chunks 2 --threads 2 -q --out " + shell_quote((dir / "stats.safetensors").string()) +
         " --imatrix " + shell_quote(imatrix));
  run_ok(cli() + " quantize " + shell_quote(base) + " " + shell_quote(mix) + " --scheme gguf:" + type + " --imatrix " +
         shell_quote(imatrix) + " -q");
  const GgufFile a = GgufFile::open(out), b = GgufFile::open(mix);
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (std::size_t i = 0; i < a.tensors().size(); ++i) {
    EXPECT_EQ(a.tensors()[i].name, b.tensors()[i].name);
    EXPECT_EQ(a.tensors()[i].type, b.tensors()[i].type) << a.tensors()[i].name;
    EXPECT_EQ(a.tensors()[i].ne, b.tensors()[i].ne) << a.tensors()[i].name;
  }
  const json ours = json::parse(std::ifstream(report));
  const auto peer = json::parse(lowbit::testing::run_peer(
      "model_llamacpp.py", {"perplexity", "--model", out, "--text", eval, "--ctx", "256", "--chunks", "3"}));
  const double p = ours["eval"]["ppl"].get<double>(), q = peer["ppl"].get<double>();
  std::printf("%s into %s: lowbit in-process PPL %.4f, llama.cpp on the written file %.4f (%+.2f %%)\n",
              method.c_str(), type.c_str(), p, q, 100 * (q - p) / p);
  EXPECT_LT(std::fabs(q - p) / p, 0.01);
}

}  // namespace

TEST(SlowPeerPtqGguf, GptqIntoQ4_0LoadsInLlamaCppWithTheSamePerplexity) { expect_ptq_gguf_loads_in_llamacpp("gptq", "Q4_0"); }

TEST(SlowPeerPtqGguf, AwqIntoQ4_K_MLoadsInLlamaCppWithTheSamePerplexity) {
  expect_ptq_gguf_loads_in_llamacpp("awq", "Q4_K_M");
}

TEST(CliPtq, GgufSchemesNeedAGgufInputAndAKnownFileType) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const auto txt = (dir / "not_a_model.txt").string();
  std::ofstream(txt) << "plain text";
  for (const std::string scheme : {"gguf:Q4_K_M", "gguf:Q4_Z"}) {
    const auto r = lowbit::testing::run_command(cli() + " quantize " + shell_quote(txt) + " " +
                                                shell_quote((dir / "o.gguf").string()) + " --method gptq --scheme " +
                                                scheme + " --calib " + shell_quote(txt));
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(scheme == "gguf:Q4_Z" ? "Q4_Z" : "needs a GGUF input"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir / "o.gguf"));
  }
}

// --format's refusals come before any quantizing, name the constraint, exit non-zero and
// leave no OUT behind (SmolLM2: 576 inputs are not whole 128-groups for AutoAWQ).
TEST(PeerCliPtqFormat, RefusesWhatTheLayoutCannotHoldBeforeQuantizing) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const std::string smol =
      json::parse(lowbit::testing::run_peer("gguf_model_paths.py", {}))["smollm2"].get<std::string>();
  const std::string out = (dir / "ckpt").string();
  const std::pair<std::string, std::string> cases[] = {
      {"--method rtn --scheme int3:g64:asym --format awq", "4-bit"},
      {"--method rtn --scheme int4:g128:asym --format awq", "whole groups of 128"},
      {"--method hqq --scheme int4:g64:asym --format safetensors", "fractional zero points"},
      {"--method gptq --act-order --scheme int4:g64:asym --format safetensors", "act-order"},
      {"--method kmeans --scheme kmeans3:channel --format gptq", "no AWQ/GPTQ checkpoint form"},
      {"--method rtn --scheme int4:g128:asym --format gguf", "needs --scheme gguf:"},
  };
  for (const auto& [args, expect] : cases) {
    const auto r = lowbit::testing::run_command(cli() + " quantize " + shell_quote(smol) + " " + shell_quote(out) + " " + args);
    EXPECT_NE(r.exit_code, 0) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(expect), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(r.output.find("layer 0"), std::string::npos) << args << ": quantizing started\n" << r.output;
    EXPECT_FALSE(fs::exists(out)) << args;
  }
  const auto r = lowbit::testing::run_command(cli() + " quantize " + shell_quote(smol) + " --scheme int4:g64:asym --format gptq");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("needs OUT"), std::string::npos) << r.output;
}
