// Embedding fidelity (include/lowbit/embedding_fidelity.h): per-sentence cosine between
// a reference and a candidate encoder's mean-pooled embeddings, with mean and minimum.
#include "lowbit/embedding_fidelity.h"

#include <algorithm>
#include <cmath>

#include "lowbit/error.h"

namespace lowbit {

double cosine_similarity(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) fail("cosine_similarity: vectors of ", a.size(), " and ", b.size(), " values");
  double dot = 0.0, aa = 0.0, bb = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  // sqrt(aa * bb) rather than sqrt(aa) * sqrt(bb): the latter is not exactly aa for
  // a == b (sqrt(2)^2 != 2 in binary), the former is.
  const double denom = std::sqrt(aa * bb);
  if (denom == 0.0) return 0.0;
  return std::clamp(dot / denom, -1.0, 1.0);
}

EmbeddingFidelity embedding_fidelity(const BertEncoder& reference, const BertEncoder& candidate,
                                     const std::vector<std::vector<std::int32_t>>& sentences, int threads) {
  if (reference.hidden_size() != candidate.hidden_size())
    fail("embedding_fidelity: reference ", reference.weights().path().string(), " has hidden size ",
         reference.hidden_size(), ", candidate ", candidate.weights().path().string(), " has ", candidate.hidden_size());
  if (sentences.empty()) fail("embedding_fidelity: no sentences");
  EmbeddingFidelity f;
  double sum = 0.0;
  f.min_cosine = 2.0;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    const double c = cosine_similarity(reference.mean_pooled(sentences[i], threads),
                                       candidate.mean_pooled(sentences[i], threads));
    f.cosine.push_back(c);
    sum += c;
    if (c < f.min_cosine) {
      f.min_cosine = c;
      f.worst = i;
    }
  }
  f.mean_cosine = sum / static_cast<double>(sentences.size());
  return f;
}

}  // namespace lowbit
