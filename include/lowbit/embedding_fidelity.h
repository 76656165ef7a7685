// How much of a sentence encoder survives quantization: the cosine between the pooled
// embeddings a reference encoder (fp32) and a candidate (quantized) give the same
// sentences. Scale-free, so it reads the same with or without the Normalize module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/bert.h"

namespace lowbit {

struct EmbeddingFidelity {
  std::vector<double> cosine;  // per sentence
  double mean_cosine = 0.0;
  double min_cosine = 0.0;
  std::size_t worst = 0;  // index of the sentence with min_cosine
};

// a.b / sqrt(|a|^2 |b|^2) accumulated in double and clamped to [-1, 1]; exactly 1 when
// a == b (sqrt(x*x) == x in IEEE arithmetic); 0 when either vector is all zeros.
double cosine_similarity(std::span<const float> a, std::span<const float> b);

// Mean-pooled embeddings of every sentence (token ids, already truncated) under both
// encoders, and their cosines. The encoders must share a hidden size.
EmbeddingFidelity embedding_fidelity(const BertEncoder& reference, const BertEncoder& candidate,
                                     const std::vector<std::vector<std::int32_t>>& sentences, int threads);

}  // namespace lowbit
