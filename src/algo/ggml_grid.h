// GPTQ (or RTN) inside a ggml block type: each block's header (d, and m / dmin and the
// sub-block scales) is fitted by llama.cpp's own quantizer, with lowbit's calibration as
// the importance vector, on the weights as GPTQ has updated them so far; GPTQ then picks
// the codes on that block's grid, and the codes are packed back into the block's bits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lowbit/ggml_types.h"
#include "lowbit/gptq.h"

namespace lowbit::algo {

// Types whose block grid is affine per group (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K,
// Q6_K). Q2_K/Q3_K/IQ types are not poured into: their headers and codes interlock.
bool ggml_grid_supported(ggml::Type t);

// The uniform grid AWQ searches with for a tensor going into type t: the type's code
// width (whole bits of its bits/weight for the interlocked types, at most 8), groups of
// 32, a zero point where the type has a min (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K).
struct AwqProxy {
  int bits;
  std::int64_t group_size;
  bool zero_point;
};
AwqProxy ggml_awq_proxy(ggml::Type t);

class GgmlGrid {
 public:
  // importance: one value per column (an imatrix slice, e.g. diag(X^T X)), or empty.
  GgmlGrid(ggml::Type t, std::int64_t rows, std::int64_t cols, std::vector<float> importance);

  int bits() const;                  // codes 0 .. 2^bits - 1
  std::int64_t group_size() const;   // columns per (scale, zero/offset)
  // GptqOptions with bits, group_size and the fitter set (the fitter refers to *this).
  GptqOptions options(GptqOptions base) const;
  // The tensor's bytes: the fitted headers with r's codes in place. r must come from
  // options() of this object.
  std::vector<std::byte> pack(const GptqResult& r);

 private:
  GroupGrid fit(std::int64_t row, std::int64_t first_col, const float* row_values);
  std::byte* block(std::int64_t row, std::int64_t first_col);

  ggml::Type type_;
  std::int64_t rows_, cols_, block_n_;
  std::size_t block_bytes_, row_bytes_;
  std::vector<float> importance_;
  std::vector<std::byte> bytes_;  // rows x row_bytes_, headers written by fit()
};

}  // namespace lowbit::algo
