// Sensitivity-weighted non-uniform quantization (Kim et al., "SqueezeLLM: Dense-and-Sparse
// Quantization", ICML 2024): each output channel gets its own 2^bits-entry codebook, the
// weighted 1-D k-means of its weights with the sensitivity of each weight (diagonal
// Fisher; here its calibration proxy, the input second moment diag(XᵀX)/n) as the weight;
// optionally the largest-magnitude fraction of weights is kept exact in a sparse part.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/codebook.h"

namespace lowbit {

struct SqueezeLlmOptions {
  int bits = 4;                   // 1..8: 2^bits centroids per output channel
  double outlier_fraction = 0;    // e.g. 0.0045: this share of |w| kept exact (sparse)
  KMeansOptions kmeans;           // k is set from bits
};

struct SqueezeLlmResult {
  std::int64_t rows = 0, cols = 0;
  std::vector<std::uint8_t> codes;       // [rows, cols]
  std::vector<float> codebooks;          // [rows, 2^bits], ascending per row
  std::vector<std::int64_t> outliers;    // flat indices kept exact, ascending
  std::vector<float> outlier_values;
  std::vector<float> dequantized;        // codebook value, or the exact outlier
  // Stored size: codes, an fp16 codebook per row, and per outlier an fp16 value and an
  // int32 column index (CSR; row pointers not counted).
  double bits_per_weight() const;
};

// sensitivity: one value per column (shared by every row) or one per weight; >= 0.
SqueezeLlmResult squeezellm_quantize(std::span<const float> w, std::int64_t rows, std::int64_t cols,
                                     std::span<const float> sensitivity, const SqueezeLlmOptions& opt,
                                     int threads = 0);

}  // namespace lowbit
