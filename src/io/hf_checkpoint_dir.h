// Pieces shared by the writers of HF-style checkpoint directories from a DecoderModel
// (AWQ/GPTQ layouts, lowbit's own format): HF tensor names, config.json, q/k row order,
// and a temporary directory that replaces the output whole or not at all.
#pragma once
#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "lowbit/decoder.h"
#include "lowbit/gptq.h"

namespace lowbit::hfdir {

// HF module names of DecoderLayer::linears(), in that order.
inline constexpr const char* kHfRoles[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                            "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                            "mlp.down_proj"};

template <typename T>
std::vector<std::byte> raw_bytes(const std::vector<T>& v) {
  const auto b = std::as_bytes(std::span<const T>(v));
  return {b.begin(), b.end()};
}

// Rows of r (codes, grids, dequantized values) reordered: new row k is old row perm[k].
GptqResult permute_rows(const GptqResult& r, const std::vector<std::int64_t>& perm);
std::vector<float> permute_vector(std::span<const float> v, const std::vector<std::int64_t>& perm);

// Row order HF expects for Linear k of a layer: HF row i is the model's row order[i] (q, k
// of a GGUF llama, un-permuted from its adjacent-pair rope); empty when they agree.
std::vector<std::int64_t> hf_row_order(const DecoderModel& model, std::size_t k);

// config.json: the source's own for a HF directory, else rebuilt from the GGUF metadata
// (llama, mistral, qwen2).
nlohmann::json hf_model_config(const DecoderModel& model);

// Copies the tokenizer and generation files of a HF source directory into dir; returns
// their names (none for a GGUF source).
std::vector<std::string> copy_tokenizer_files(const DecoderModel& model, const std::filesystem::path& dir);

// A fresh directory beside `out`, removed unless installed.
class TempDir {
 public:
  explicit TempDir(const std::filesystem::path& out);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Moves the finished directory over `out`: an existing output directory is set aside
  // first and removed after, so `out` is always either the old checkpoint or the new one.
  void install(const std::filesystem::path& out);

 private:
  std::filesystem::path path_;
};

}  // namespace lowbit::hfdir
