// Whole-checkpoint quantization and dequantization in lowbit's safetensors layout:
// tensor by tensor (mmap in, stream out, one tensor in memory at a time), with the
// per-tensor and whole-model error report the CLI prints and writes as JSON.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "lowbit/metrics.h"
#include "lowbit/quantize.h"
#include "lowbit/safetensors.h"

namespace lowbit {

// Metadata keys lowbit writes into the safetensors header.
inline constexpr const char* kMetaFormat = "lowbit.format";        // "1"
inline constexpr const char* kMetaScheme = "lowbit.scheme";        // the SPEC used
inline constexpr const char* kMetaQuantized = "lowbit.quantized";  // JSON: name -> {scheme, shape, dtype}

// A tensor as the user sees it: either stored as-is or as quantized parts.
struct LogicalTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  DType dtype;                     // the original dtype (quantized) or the stored one
  std::optional<Scheme> scheme;    // set when quantized
  const TensorView* view = nullptr;  // passthrough tensors only
};

// Logical tensors of a checkpoint in storage order; a lowbit-quantized file's parts are
// folded back into their tensor (errors name the file and tensor on a broken layout).
std::vector<LogicalTensor> logical_tensors(const SafetensorsCheckpoint& ckpt);
std::vector<LogicalTensor> logical_tensors(const SafetensorsFile& file);
bool is_lowbit_quantized(const SafetensorsCheckpoint& ckpt);

// Reassembles a quantized tensor from its stored parts.
QuantizedTensor load_quantized(const SafetensorsCheckpoint& ckpt, const LogicalTensor& t);
QuantizedTensor load_quantized(const SafetensorsFile& file, const LogicalTensor& t);

struct TensorReport {
  std::string name;
  std::vector<std::int64_t> shape;
  DType dtype;
  std::string scheme;  // "" = kept as-is
  std::uint64_t bytes_in = 0, bytes_out = 0;
  ErrorStats error;
};

struct ModelReport {
  std::string input, output, scheme;
  std::uint64_t input_bytes = 0;   // tensor data bytes of the input
  std::uint64_t output_bytes = 0;  // size of the written file
  std::uint64_t params = 0, quantized_params = 0, quantized_bytes = 0;
  ErrorStats model;  // merged over quantized tensors
  std::vector<TensorReport> tensors;
  std::string to_json() const;
};

struct QuantizeOptions {
  Scheme scheme;
  int threads = 0;
  std::vector<std::regex> skip;  // tensors whose name matches stay as-is
  std::function<void(const std::string&)> on_tensor;  // progress callback
};

// Which tensors get quantized: floating point, at least 2-D, not matched by skip.
bool should_quantize(const TensorView& v, const QuantizeOptions& opt);

ModelReport quantize_checkpoint(const std::filesystem::path& in, const std::filesystem::path& out,
                                const QuantizeOptions& opt);
void dequantize_checkpoint(const std::filesystem::path& in, const std::filesystem::path& out, DType dtype,
                           int threads = 0, const std::function<void(const std::string&)>& on_tensor = {});

}  // namespace lowbit
