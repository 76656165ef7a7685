// The real GGUF files (SmolLM2-135M Q4_1, Gemma 3 270M Q4_K_M) through lowbit, checked by
// llama.cpp's Python reader (gguf package): lowbit reads every tensor where gguf-py does,
// `lowbit dequantize` decodes every tensor to gguf-py's floats, a copy through lowbit's
// reader and writer is the same file, and re-quantized files read back in gguf-py.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string_view>
#include <nlohmann/json.hpp>

#include "lowbit/gguf.h"
#include "support/peer.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;
using testing::cli_path;
using testing::run_command;
using testing::run_peer;
using testing::scratch_dir;
using testing::shell_quote;

std::vector<fs::path> real_models() {
  const auto j = nlohmann::json::parse(run_peer("gguf_model_paths.py", {}));
  return {j["smollm2"].get<std::string>(), j["gemma3"].get<std::string>()};
}

// lowbit's view of the tensors must be gguf-py's: names, types, shapes, and the very
// bytes (same absolute offsets and sizes in the file).
void expect_same_view(const fs::path& file) {
  const GgufFile f = GgufFile::open(file);
  const auto peer = nlohmann::json::parse(run_peer("gguf_check_with_gguf_py.py", {"tensors", file.string()}));
  ASSERT_EQ(peer.size(), f.tensors().size()) << file;
  for (std::size_t i = 0; i < peer.size(); ++i) {
    const GgufTensor& t = f.tensors()[i];
    const auto& p = peer[i];
    EXPECT_EQ(p["name"].get<std::string>(), t.name) << file;
    EXPECT_EQ(p["type"].get<std::uint32_t>(), static_cast<std::uint32_t>(t.type)) << t.name;
    std::vector<std::int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    EXPECT_EQ(p["ne"].get<std::vector<std::int64_t>>(), ne) << t.name;
    EXPECT_EQ(p["offset"].get<std::uint64_t>(), f.data_offset() + t.offset) << t.name;
    EXPECT_EQ(p["nbytes"].get<std::uint64_t>(), t.nbytes) << t.name;
  }
}


}  // namespace

TEST(SlowPeerGgufRealFiles, ReadAndDequantizeEveryTensorLikeGgufPy) {
  for (const fs::path& model : real_models()) {
    expect_same_view(model);
    const fs::path st = scratch_dir() / "deq.safetensors";
    const auto r = run_command(shell_quote(cli_path().string()) + " dequantize -q " + shell_quote(model.string()) +
                               " " + shell_quote(st.string()) + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j =
        nlohmann::json::parse(run_peer("gguf_check_with_gguf_py.py", {"dequant", model.string(), st.string()}));
    EXPECT_EQ(j["tensors"].get<std::size_t>(), GgufFile::open(model).tensors().size());
    EXPECT_TRUE(j["mismatched"].empty()) << model.filename() << ": " << j["mismatched"].dump();
  }
}

TEST(SlowPeerGgufRealFiles, LosslessCopyIsTheSameFile) {
  for (const fs::path& model : real_models()) {
    const GgufFile f = GgufFile::open(model);
    GgufWriter w;
    w.copy_metadata(f);
    for (const GgufTensor& t : f.tensors()) w.add_tensor(t);
    const fs::path copy = scratch_dir() / "copy.gguf";
    w.write(copy);
    EXPECT_TRUE(testing::files_equal(model, copy)) << model.filename();
    expect_same_view(copy);
  }
}

TEST(SlowPeerGgufRealFiles, RequantizedFilesReadBackInGgufPy) {
  const fs::path dir = scratch_dir();
  const auto models = real_models();
  for (const fs::path& model : models) {
    // Gemma's file gets one type: each of its views costs gguf-py 12 s (the 262k-token
    // vocabulary), and the three block writers are the ones SmolLM2 checks.
    const bool first = model == models.front();
    for (const char* ft : {"Q6_K", "Q4_0", "IQ4_XS"}) {
      if (!first && std::string_view(ft) != "Q6_K") continue;
      const fs::path out = dir / "q.gguf";
      const auto r = run_command(shell_quote(cli_path().string()) + " quantize -q " + shell_quote(model.string()) +
                                 " " + shell_quote(out.string()) + " --scheme gguf:" + ft + " 2>&1");
      ASSERT_EQ(r.exit_code, 0) << r.output;
      expect_same_view(out);
      if (!first) continue;
      // SmolLM2's re-quantized tensors also decode to gguf-py's floats (numpy decoding of
      // Gemma's 262k-row embedding would take minutes; the types are the same).
      const fs::path st = dir / "deq.safetensors";
      ASSERT_EQ(run_command(shell_quote(cli_path().string()) + " dequantize -q " + shell_quote(out.string()) + " " +
                            shell_quote(st.string()))
                    .exit_code,
                0);
      const auto j = nlohmann::json::parse(run_peer("gguf_check_with_gguf_py.py", {"dequant", out.string(), st.string()}));
      EXPECT_TRUE(j["mismatched"].empty()) << model.filename() << " " << ft << ": " << j["mismatched"].dump();
    }
  }
}

}  // namespace lowbit
