// ModelWeights (include/lowbit/model_weights.h): one lookup by name over a GGUF or a
// HF safetensors checkpoint. lowbit-quantized checkpoints are folded into logical
// tensors and decoded by the quantizer's own dequantize(), the definition of the codes.
// Every accessor copies, so the mapped pages it read are given back: a model costs its
// decoded size in memory, not that plus the file.
#include "lowbit/model_weights.h"

#include <algorithm>
#include <map>

#include "lowbit/error.h"
#include "lowbit/gguf_model.h"
#include "lowbit/parallel.h"
#include "lowbit/quantized_model.h"

namespace lowbit {

struct ModelWeights::Hf {
  SafetensorsCheckpoint ckpt;
  std::map<std::string, LogicalTensor, std::less<>> tensors;
};

namespace {

const GgufTensor* find_gguf(const GgufFile& f, const std::string& name) {
  for (const auto& t : f.tensors())
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace

ModelWeights ModelWeights::open(const std::filesystem::path& path) {
  ModelWeights w;
  w.path_ = path;
  if (!std::filesystem::is_directory(path) && is_gguf_file(path)) {
    w.gguf_ = std::make_shared<GgufFile>(GgufFile::open(path));
    return w;
  }
  auto hf = std::make_shared<Hf>(Hf{SafetensorsCheckpoint::open(path), {}});
  for (auto& t : logical_tensors(hf->ckpt)) {
    std::string name = t.name;
    hf->tensors.emplace(std::move(name), std::move(t));
  }
  w.hf_ = std::move(hf);
  return w;
}

bool ModelWeights::has(const std::string& name) const {
  if (gguf_) return find_gguf(*gguf_, name) != nullptr;
  return hf_->tensors.count(name) != 0;
}

std::vector<std::string> ModelWeights::names() const {
  std::vector<std::string> out;
  if (gguf_)
    for (const auto& t : gguf_->tensors()) out.push_back(t.name);
  else
    for (const auto& [n, t] : hf_->tensors) out.push_back(n);
  return out;
}

std::vector<std::int64_t> ModelWeights::shape(const std::string& name) const {
  if (gguf_) {
    const auto* t = find_gguf(*gguf_, name);
    if (!t) fail(path_.string(), ": no tensor \"", name, "\"");
    std::vector<std::int64_t> s(t->shape().begin(), t->shape().end());
    std::reverse(s.begin(), s.end());
    return s;
  }
  auto it = hf_->tensors.find(name);
  if (it == hf_->tensors.end()) fail(path_.string(), ": no tensor \"", name, "\"");
  return it->second.shape;
}

std::vector<float> ModelWeights::f32(const std::string& name) const {
  if (gguf_) {
    const auto* t = find_gguf(*gguf_, name);
    if (!t) fail(path_.string(), ": no tensor \"", name, "\"");
    if (!ggml::traits(t->type).to_float)
      fail(path_.string(), ": tensor \"", name, "\" has type ", ggml::traits(t->type).name, ", which lowbit cannot decode");
    std::vector<float> out(static_cast<std::size_t>(t->numel()));
    ggml::dequantize_pieces(t->type, t->data, out.data(), t->numel(), hardware_threads(),
                            [&](std::span<const std::byte> piece) { gguf_->drop_pages(piece); });
    return out;
  }
  auto it = hf_->tensors.find(name);
  if (it == hf_->tensors.end()) fail(path_.string(), ": no tensor \"", name, "\"");
  const LogicalTensor& t = it->second;
  if (t.view) {
    auto out = tensor_to_f32(*t.view);
    hf_->ckpt.drop_pages(*t.view);
    return out;
  }
  const QuantizedTensor q = load_quantized(hf_->ckpt, t);
  std::int64_t n = 1;
  for (auto d : t.shape) n *= d;
  std::vector<float> out(static_cast<std::size_t>(n));
  dequantize_tensor(q, out, hardware_threads());
  return out;
}

Linear ModelWeights::linear(const std::string& name, int /*threads*/) const {
  const auto s = shape(name);
  if (s.size() != 2) fail(path_.string(), ": tensor \"", name, "\" is ", s.size(), "-D, a Linear weight must be 2-D");
  if (gguf_) {
    const auto* t = find_gguf(*gguf_, name);
    // The Linear holds its own copy: each decoded piece's pages go back as it is done.
    return Linear::from_ggml(name, t->type, t->data, s[0], s[1], ActivationRounding::GgmlCpu,
                             [&](std::span<const std::byte> piece) { gguf_->drop_pages(piece); });
  }
  return Linear::from_f32(name, f32(name), s[0], s[1]);
}

Linear ModelWeights::mapped_linear(const std::string& name) const {
  if (!gguf_) {
    Linear l = linear(name);
    l.use_exact_f32();
    return l;
  }
  const auto s = shape(name);
  if (s.size() != 2) fail(path_.string(), ": tensor \"", name, "\" is ", s.size(), "-D, a Linear weight must be 2-D");
  const auto* t = find_gguf(*gguf_, name);
  if (!ggml::traits(t->type).to_float)
    fail(path_.string(), ": tensor \"", name, "\" has type ", ggml::traits(t->type).name, ", which lowbit cannot decode");
  std::shared_ptr<const GgufFile> file = gguf_;
  return Linear::from_rows(name, mapped_ggml_weight_rows(t->type, t->data, s[0], s[1], file,
                                                         [file](std::span<const std::byte> b) { file->drop_pages(b); }));
}

}  // namespace lowbit
