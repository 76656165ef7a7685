// Rotary position embeddings: the per-pair angles for each supported scaling variant,
// computed the way each source defines them (transformers' inv_freq tables for HF
// checkpoints, ggml's running product for GGUF), and their application to q/k rows.
#pragma once
#include <cstdint>
#include <vector>

#include "lowbit/decoder.h"

namespace lowbit::model {

// cos/sin of position first + p and pair i at [p * n_pairs + i], for positions [first, T).
struct RopeTable {
  int n_pairs = 0;
  std::vector<float> cos, sin;
  // ggml's x86 build contracts the rotation: x0*c - x1*s as fma(x0, c, -(x1*s)) and
  // x0*s + x1*c as fma(x0, s, x1*c).
  bool ggml_fma = false;
};

// T is the sequence's length so far ("dynamic" scaling depends on it); a generation step
// asks only for its new positions [first, T).
RopeTable rope_table(const RopeConfig& rc, float base, int context_length, std::int64_t T, std::int64_t first = 0);

// Rotates the first n_rot dims of each head in x [T][n_heads * head_dim].
void apply_rope(float* x, std::int64_t T, int n_heads, int head_dim, const RopeTable& t, RopeStyle style);

}  // namespace lowbit::model
