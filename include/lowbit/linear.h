// A Linear layer as the runtime sees it: weight rows [out, in] in whatever format the
// checkpoint stores (fp32/fp16/bf16, any ggml block type, lowbit's own codes), an
// optional bias, and y = x W^T + b. The reference path decodes the weight once to fp32
// and runs an fp32 matmul; a ggml weight with a fast integer dot (issue 7) keeps only its
// blocks and decodes to fp32 on request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lowbit/activation_quant.h"
#include "lowbit/ggml_types.h"
#include "lowbit/weight_rows.h"

namespace lowbit {

// How activations meet a ggml weight. GgmlCpu rounds them the way llama.cpp's CPU
// backend converts its matmul input to the weight type's vec_dot_type (Q8_0, Q8_1, Q8_K,
// F16, BF16) before the dot products, so lowbit's logits agree with llama.cpp's up to
// summation order; for Q4_0, Q4_1 and Q8_0 the dot products themselves run in ggml's
// x86 order (kernels/ggml_dot.h), bit for bit. Exact keeps fp32 activations (what
// transformers computes).
enum class ActivationRounding { Exact, GgmlCpu };

class Linear {
 public:
  Linear() = default;
  // Rows of ggml type `type` (e.g. a GGUF tensor's data), `rows` x `cols` weights.
  // `done`, when set, is called with each piece of `data` once it is no longer needed.
  static Linear from_ggml(std::string name, ggml::Type type, std::span<const std::byte> data, std::int64_t rows,
                          std::int64_t cols, ActivationRounding rounding,
                          const std::function<void(std::span<const std::byte>)>& done = {});
  static Linear from_f32(std::string name, std::vector<float> weight, std::int64_t rows, std::int64_t cols);
  // A weight in a compact or mapped form (set_weight_rows), fp32 activations.
  static Linear from_rows(std::string name, std::shared_ptr<const WeightRows> rows);

  void set_bias(std::vector<float> bias);
  // Replaces the weight (e.g. by its quantized-dequantized version in GPTQ's sequential
  // mode); keeps name, shape and bias; activations are no longer rounded.
  void set_weight_f32(std::vector<float> weight);
  // Replaces the weight by a compact form decoded a block of rows at a time in
  // forward(); the fp32 copy is dropped. Computes exactly what set_weight_f32 of its
  // decode would (each output's sum order depends on cols alone).
  void set_weight_rows(std::shared_ptr<const WeightRows> rows);
  // Keeps the decoded fp32 weight and computes with fp32 activations from now on (no
  // ggml rounding or ggml blocks): the baseline PTQ starts from, without a copy.
  void use_exact_f32();

  // Fake-quantizes the inputs of every later forward() (W8A8 evaluation, SmoothQuant):
  // x is quantized and dequantized by `q` first. Only for fp32 weights (set_weight_f32).
  void set_activation_quant(std::optional<calib::ActivationQuantizer> q);

  // y[m][rows] = x[m][cols] W^T + b.
  void forward(const float* x, std::int64_t m, float* y, int threads) const;

  // Linears that run on ggml blocks read x as ggml's activation blocks of one type
  // (input_blocks_type; F32 for every other Linear). Those with the same type and input
  // (q / k / v, gate / up) can share one quantization: forward_blocks(quantize_input(x))
  // gives forward(x)'s bits.
  ggml::Type input_blocks_type() const;
  std::vector<std::byte> quantize_input(const float* x, std::int64_t m, int threads) const;
  void forward_blocks(std::span<const std::byte> xq, std::int64_t m, float* y, int threads) const;

  const std::string& name() const { return name_; }
  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  ggml::Type type() const { return type_; }
  // The fp32 weight; fails for a compact weight or one held as ggml blocks (use
  // decoded_weight(), or use_exact_f32() first).
  std::span<const float> weight_f32() const;
  // The weight as fp32 whatever holds it (a copy).
  std::vector<float> decoded_weight() const;
  // Rows r0..r1-1 as fp32 into out (row-major), whatever holds them: an embedding lookup
  // in a tied output weight.
  void decode_rows(std::int64_t r0, std::int64_t r1, float* out) const;
  const WeightRows* compact() const { return rows_form_.get(); }
  std::span<const float> bias() const { return bias_; }
  bool empty() const { return rows_ == 0; }

 private:
  std::string name_;
  std::int64_t rows_ = 0, cols_ = 0;
  ggml::Type type_ = ggml::Type::F32;
  ActivationRounding rounding_ = ActivationRounding::Exact;
  std::vector<float> weight_;      // decoded [rows, cols]; empty while blocks_ is the weight
  std::vector<std::uint16_t> half_weight_;  // GgmlCpu F16: the fp16 values tinyBLAS reads
  std::vector<float> bias_;        // empty or [rows]
  std::vector<float> block_mins_;  // Q4_1/Q5_1 only: per-32 block m, [rows, cols/32]
  std::vector<std::byte> blocks_;  // GgmlCpu with a ggml-order integer dot: the weight blocks
  bool panels_x8_ = false;         // blocks_ holds eight-row panels (kernels/ggml_gemm_x8.h)
  std::optional<calib::ActivationQuantizer> act_quant_;
  std::shared_ptr<const WeightRows> rows_form_;  // set: weight_ is empty

  void forward_compact(const float* x, std::int64_t m, float* y, int threads) const;

  void add_bias(float* y, std::int64_t m) const;
};

// Sees the input of every Linear just before it runs (calibration statistics).
// `layer` is the block index, -1 for the output head; rows x lin.cols() values.
using LinearInputObserver = std::function<void(int layer, const Linear& lin, const float* x, std::int64_t rows)>;

}  // namespace lowbit
