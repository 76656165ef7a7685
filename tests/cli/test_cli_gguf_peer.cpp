// `lowbit quantize IN.gguf OUT.gguf --scheme gguf:TYPE` against llama.cpp itself: the
// same input goes through llama_model_quantize (tests/peers/gguf_llamacpp_quantize.py,
// the llama-cpp-python build) and both outputs must hold the same tensors, types and
// bytes — and, without an imatrix, be the same file. Inputs are the real SmolLM2 and
// Gemma 3 GGUFs (requantized: they ship quantized) and an F32 GGUF lowbit writes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "lowbit/gguf.h"
#include "lowbit/imatrix.h"
#include "support/peer.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;
using testing::cli_path;
using testing::run_command;
using testing::run_peer;
using testing::scratch_dir;
using testing::shell_quote;

const nlohmann::json& model_paths() {
  static const nlohmann::json j = nlohmann::json::parse(run_peer("gguf_model_paths.py", {}));
  return j;
}
fs::path smollm2() { return model_paths()["smollm2"].get<std::string>(); }
fs::path gemma3() { return model_paths()["gemma3"].get<std::string>(); }

void lowbit_quantize(const fs::path& in, const fs::path& out, const std::string& ftype, const std::string& extra = "") {
  const auto r = run_command(shell_quote(cli_path().string()) + " quantize -q " + shell_quote(in.string()) + " " +
                             shell_quote(out.string()) + " --scheme gguf:" + ftype + " " + extra + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

void llamacpp_quantize(const fs::path& in, const fs::path& out, const std::string& ftype,
                       const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {in.string(), out.string(), ftype};
  args.insert(args.end(), extra.begin(), extra.end());
  run_peer("gguf_llamacpp_quantize.py", args);
}

// Same tensors in the same order with the same ne, type and bytes; empty when so.
std::string tensor_difference(const fs::path& a, const fs::path& b) {
  const GgufFile fa = GgufFile::open(a), fb = GgufFile::open(b);
  if (fa.tensors().size() != fb.tensors().size()) return "tensor counts differ";
  std::size_t bad = 0;
  std::string first;
  for (std::size_t i = 0; i < fa.tensors().size(); ++i) {
    const GgufTensor &x = fa.tensors()[i], &y = fb.tensors()[i];
    const bool same = x.name == y.name && x.ne == y.ne && x.type == y.type && x.data.size() == y.data.size() &&
                      std::equal(x.data.begin(), x.data.end(), y.data.begin());
    if (!same && bad++ == 0)
      first = x.name + " (" + ggml::traits(x.type).name + ") vs " + y.name + " (" + ggml::traits(y.type).name + ")";
  }
  return bad ? std::to_string(bad) + " tensors differ, first " + first : "";
}


// An importance matrix (llama.cpp's GGUF form) for every matrix of the model: positive
// per-column sums of squares spanning four decades, 64 tokens seen, one chunk.
fs::path synthetic_imatrix(const fs::path& model, const fs::path& dir) {
  const GgufFile f = GgufFile::open(model);
  Imatrix m;
  m.datasets = {"synthetic"};
  m.chunk_count = 1;
  m.chunk_size = 64;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> expo(-2.f, 2.f);
  for (const GgufTensor& t : f.tensors()) {
    if (t.n_dims < 2) continue;
    ImatrixEntry e;
    for (std::int64_t i = 0; i < t.ne[0]; ++i) e.sums.push_back(64.f * std::pow(10.f, expo(rng)));
    e.counts = {64};
    m.entries.emplace(t.name, std::move(e));
  }
  const fs::path out = dir / "imatrix.gguf";
  write_imatrix_gguf(out, m);
  return out;
}

}  // namespace

TEST(SlowPeerGgufQuantize, SmolLM2EveryMixIsLlamaCppsFile) {
  const fs::path dir = scratch_dir();
  for (const char* ft : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S",
                         "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS"}) {
    const fs::path l = dir / "lowbit.gguf", p = dir / "llama.gguf";
    lowbit_quantize(smollm2(), l, ft);
    llamacpp_quantize(smollm2(), p, ft);
    EXPECT_EQ(tensor_difference(l, p), "") << ft;
    EXPECT_TRUE(testing::files_equal(l, p)) << ft << ": tensors agree but the files differ (metadata or layout)";
  }
}

TEST(SlowPeerGgufQuantize, ImatrixMixesMatchLlamaCpp) {
  const fs::path dir = scratch_dir();
  // The weighted searches are slow (llama.cpp's too), so each model gets the mixes whose
  // rules and block types differ most: legacy, 2-3-bit k-quants, 4-6-bit k-quants, IQ4.
  const std::vector<std::pair<fs::path, std::vector<const char*>>> runs = {
      {smollm2(), {"Q4_0", "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_M", "Q6_K", "IQ4_XS"}},
      {gemma3(), {"Q4_K_M", "Q2_K"}}};
  for (const auto& [model, ftypes] : runs) {
    const fs::path imatrix = synthetic_imatrix(model, dir);
    for (const char* ft : ftypes) {
      const fs::path l = dir / "lowbit.gguf", p = dir / "llama.gguf";
      lowbit_quantize(model, l, ft, "--imatrix " + shell_quote(imatrix.string()));
      llamacpp_quantize(model, p, ft, {"--imatrix", imatrix.string()});
      EXPECT_EQ(tensor_difference(l, p), "") << model.filename() << " " << ft << " with imatrix";
    }
  }
}

TEST(SlowPeerGgufQuantize, Gemma3MixesAreLlamaCppsFile) {
  const fs::path dir = scratch_dir();
  for (const char* ft : {"Q8_0", "Q4_K_M", "Q3_K_S"}) {
    const fs::path l = dir / "lowbit.gguf", p = dir / "llama.gguf";
    lowbit_quantize(gemma3(), l, ft);
    llamacpp_quantize(gemma3(), p, ft);
    EXPECT_EQ(tensor_difference(l, p), "") << ft;
    EXPECT_TRUE(testing::files_equal(l, p)) << ft;
  }
}

// An F32 GGUF written by lowbit (the SmolLM2 weights decoded) is what llama.cpp writes
// for ftype F32, and quantizing it gives llama.cpp's bytes (no requantization path).
TEST(SlowPeerGgufQuantize, F32InputWrittenByLowbit) {
  const fs::path dir = scratch_dir();
  const fs::path f32 = dir / "f32.gguf", f32_peer = dir / "f32_llama.gguf";
  lowbit_quantize(smollm2(), f32, "F32");
  llamacpp_quantize(smollm2(), f32_peer, "F32");
  EXPECT_TRUE(testing::files_equal(f32, f32_peer));
  for (const char* ft : {"Q4_K_M", "Q2_K", "Q6_K", "Q8_0"}) {
    const fs::path l = dir / "lowbit.gguf", p = dir / "llama.gguf";
    lowbit_quantize(f32, l, ft);
    llamacpp_quantize(f32, p, ft);
    EXPECT_EQ(tensor_difference(l, p), "") << ft << " from F32";
    EXPECT_TRUE(testing::files_equal(l, p)) << ft;
  }
}

}  // namespace lowbit
