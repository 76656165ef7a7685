// Inputs shared by the BERT encoder tests: the real all-MiniLM-L6-v2 folder shipped in the
// peer venv, real Austen sentences tokenized by the `tokenizers` library
// (tests/peers/model_bert_ids.py, independent of lowbit's tokenizer), raw f32 files, and
// lowbit CLI runs that make quantized copies.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/peer.h"

namespace lowbit::testing::bert {

inline std::filesystem::path minilm_dir() {
  std::string path = run_peer("minilm_path.py", {});
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  return std::filesystem::path(path).parent_path();
}

// `count` sentences spanning the length distribution, [CLS] ... [SEP], at most max_length
// ids; the file is written to `out` for the transformers peer to read the same ids.
inline std::vector<std::vector<std::int32_t>> sentence_ids(const std::filesystem::path& model, int count,
                                                           int max_length, const std::filesystem::path& out) {
  run_peer("model_bert_ids.py", {"--model", model.string(), "--count", std::to_string(count), "--max-length",
                                 std::to_string(max_length), "--out", out.string()});
  std::ifstream f(out);
  return nlohmann::json::parse(f)["ids"].get<std::vector<std::vector<std::int32_t>>>();
}

inline std::vector<float> read_f32(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<float> v(std::filesystem::file_size(p) / 4);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  return v;
}

// Runs `lowbit ARGS`; the test fails with the CLI's output when it exits non-zero.
inline void lowbit_cli(const std::string& args) {
  const auto r = run_command(shell_quote(cli_path().string()) + " " + args);
  ASSERT_EQ(r.exit_code, 0) << "lowbit " << args << "\n" << r.output;
}

}  // namespace lowbit::testing::bert
