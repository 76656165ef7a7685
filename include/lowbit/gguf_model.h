// Whole-model GGUF operations: quantize a GGUF to a llama.cpp file type (per-tensor types
// from gguf_mix.h, bytes from the ggml row functions: the file llama_model_quantize would
// write), and dequantize a GGUF to safetensors. One tensor is in memory at a time.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lowbit/dtype.h"
#include "lowbit/gguf_mix.h"
#include "lowbit/imatrix.h"
#include "lowbit/metrics.h"

namespace lowbit {

struct GgufQuantizeOptions {
  ggml::FileType ftype = ggml::FileType::Q4_K_M;
  ggml::MixOptions mix;               // has_imatrix is also set by `imatrix`
  const Imatrix* imatrix = nullptr;   // importance values per weight (llama-quantize's)
  std::string imatrix_path;           // recorded as quantize.imatrix.file, like llama-quantize
  int threads = 0;                    // <= 0: all cores
  std::function<void(const std::string& tensor)> on_tensor;
  std::function<void(const std::string& message)> on_warning;
  // Tensors made elsewhere (GPTQ codes poured into the planned ggml type, AWQ's rescaled
  // norms): their bytes are written instead of the input's, and must have the planned
  // type's size. The error report compares them with the input too.
  std::map<std::string, std::vector<std::byte>> replace;
};

struct GgufTensorReport {
  std::string name;
  std::vector<std::int64_t> ne;       // ggml order
  ggml::Type from = ggml::Type::F32, to = ggml::Type::F32;
  bool converted = false;             // false: bytes copied through unchanged
  bool used_imatrix = false;
  std::string note;                   // the mix rule's note (fallbacks)
  std::uint64_t params = 0, bytes_in = 0, bytes_out = 0;
  ErrorStats error;                   // output vs the input's fp32 values (converted only)
};

struct GgufQuantizeReport {
  std::vector<GgufTensorReport> tensors;  // in output order
  std::uint64_t params = 0, bytes_in = 0, bytes_out = 0;
  ErrorStats error;                       // over converted tensors
  double bits_per_weight() const { return params ? 8.0 * double(bytes_out) / double(params) : 0.0; }
};

// Reads `in`, writes `out` atomically. Metadata is copied through in order, then, like
// llama_model_quantize: general.quantization_version = 2 and general.file_type are
// re-set (moving to the end), split.* keys are dropped, and with an imatrix the four
// quantize.imatrix.* keys llama-quantize adds follow. Tensors are written in llama.cpp's
// order (by layer number, then name). A quantized input is decoded to fp32 first
// ("requantize", reported through on_warning).
// The ggml type quantize_gguf gives each tensor of `in` (llama.cpp's mix rules), by name.
std::map<std::string, ggml::Type> plan_gguf(const std::filesystem::path& in, const GgufQuantizeOptions& options);

GgufQuantizeReport quantize_gguf(const std::filesystem::path& in, const std::filesystem::path& out,
                                 const GgufQuantizeOptions& options);

// Every tensor of a GGUF decoded to `dtype` (f32/f16/bf16) in a safetensors file, shapes
// in row-major order (the reverse of ggml's ne), metadata general.architecture and
// lowbit.source = "gguf". Fails naming the tensor whose type lowbit cannot decode.
void dequantize_gguf(const std::filesystem::path& in, const std::filesystem::path& out, DType dtype, int threads = 0,
                     const std::function<void(const std::string&)>& on_tensor = {});

// True when the file starts with the GGUF magic.
bool is_gguf_file(const std::filesystem::path& path);

}  // namespace lowbit
