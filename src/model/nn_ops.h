// Small numeric building blocks shared by the model runtimes (BERT encoder, decoders):
// LayerNorm, the GELU forms, SiLU and a row softmax, written the way PyTorch computes
// them in fp32 so that lowbit's hidden states agree with transformers'.
#pragma once
#include <cstdint>
#include <span>

namespace lowbit::nn {

// In place, per row of x [rows, cols]: (x - mean) / sqrt(var + eps) * gamma + beta, with
// the biased variance (torch.nn.LayerNorm). Row statistics are accumulated in double
// (cancellation in x - mean is the one place fp32 sums lose digits); the element-wise
// math is fp32. Empty gamma/beta mean no affine part; otherwise each holds cols values.
void layer_norm(float* x, std::int64_t rows, std::int64_t cols, std::span<const float> gamma,
                std::span<const float> beta, float eps);

// GELU as 0.5 x (1 + erf(x / sqrt 2)): HF's "gelu" (BERT), torch's default.
float gelu_erf(float x);
// GELU's tanh approximation: HF's "gelu_new" / "gelu_pytorch_tanh".
float gelu_tanh(float x);
// x * sigmoid(x) (Llama's SwiGLU gate).
float silu(float x);

// In place over n values: exp(x - max) / sum; the sum is accumulated in double. Entries
// equal to -inf get probability 0; a row that is all -inf is left as NaN (no keys).
void softmax_row(float* x, std::int64_t n);

}  // namespace lowbit::nn
