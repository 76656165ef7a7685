// Named weights of a model, whatever holds them: a GGUF file, or a HF directory
// (config.json + model.safetensors or a sharded index), plain or lowbit-quantized.
// Model builders ask for tensors by name and get fp32 or a Linear; shapes are given in
// HF order ([out, in]; GGUF's ne[] reversed), and everything stays mmapped until asked.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lowbit/gguf.h"
#include "lowbit/linear.h"
#include "lowbit/safetensors.h"

namespace lowbit {

class ModelWeights {
 public:
  // A .gguf file, a HF directory, or a single .safetensors file.
  static ModelWeights open(const std::filesystem::path& path);

  bool has(const std::string& name) const;
  // HF-order shape; throws naming the file when the tensor is absent.
  std::vector<std::int64_t> shape(const std::string& name) const;
  std::vector<float> f32(const std::string& name) const;
  // A 2-D tensor [out, in] as a Linear. GGUF tensors keep their ggml type and round
  // activations like llama.cpp's CPU backend; safetensors tensors are decoded to fp32.
  Linear linear(const std::string& name, int threads = 0) const;
  // The same weights left in the mapped file, decoded a block of rows at a time when the
  // Linear runs, with fp32 activations (what make_decoder_f32 gives): nothing is copied
  // until used, and the pages go back when the Linear gets another weight. A HF
  // checkpoint's tensors are decoded to fp32 as linear() does.
  Linear mapped_linear(const std::string& name) const;

  const std::filesystem::path& path() const { return path_; }
  const GgufFile* gguf() const { return gguf_.get(); }  // null for HF checkpoints
  std::vector<std::string> names() const;

 private:
  struct Hf;
  std::filesystem::path path_;
  std::shared_ptr<GgufFile> gguf_;
  std::shared_ptr<Hf> hf_;
};

}  // namespace lowbit
