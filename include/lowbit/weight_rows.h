// Quantized weights kept in their compact form (codes and per-group grids, per-row
// codebooks, or ggml blocks) and decoded a few rows at a time when a Linear runs: a PTQ
// run then holds a quantized layer at its code size instead of fp32, which keeps peak
// memory at the model plus one layer. Each form decodes with the quantizer's own formula.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "lowbit/ggml_types.h"

namespace lowbit {

struct GptqResult;
struct SqueezeLlmResult;

class WeightRows {
 public:
  virtual ~WeightRows() = default;
  virtual std::int64_t rows() const = 0;
  virtual std::int64_t cols() const = 0;
  // Rows [r0, r1) as fp32, row-major, into out[(r1 - r0) * cols()].
  virtual void decode(std::int64_t r0, std::int64_t r1, float* out) const = 0;
  // Bytes held (codes, grids, blocks), for memory reports.
  virtual std::size_t bytes() const = 0;
};

// scale * (code - zero), or scale * code + offset where the group has an offset; the
// group of column c is g_idx[c] (act-order). fp16_scales: scales rounded to fp16 first,
// as the AutoAWQ/GPTQ checkpoints store them.
std::shared_ptr<const WeightRows> grid_weight_rows(std::shared_ptr<const GptqResult> r, bool fp16_scales = false);
// SqueezeLLM: codebook[row][code], outliers exact. `codes` holds the codes ([rows, cols]);
// k the codebooks and outliers (copied: they are small).
std::shared_ptr<const WeightRows> codebook_weight_rows(std::shared_ptr<const GptqResult> codes,
                                                       const SqueezeLlmResult& k);
// Rows of ggml blocks of type t.
std::shared_ptr<const WeightRows> ggml_weight_rows(ggml::Type t, std::vector<std::byte> bytes, std::int64_t rows,
                                                   std::int64_t cols);
// Rows of ggml blocks read in place from a mapped file that `owner` keeps alive: nothing
// is copied, and when the form is dropped (the Linear was quantized) `release` is called
// with the bytes, so the file's pages are given back.
std::shared_ptr<const WeightRows> mapped_ggml_weight_rows(ggml::Type t, std::span<const std::byte> bytes,
                                                          std::int64_t rows, std::int64_t cols,
                                                          std::shared_ptr<const void> owner,
                                                          std::function<void(std::span<const std::byte>)> release);

// The whole weight, decoded.
std::vector<float> decode_all(const WeightRows& w);
// True when every decoded value equals want's (==, so -0 and +0 match).
bool decodes_to(const WeightRows& w, std::span<const float> want);

}  // namespace lowbit
