// HQQ, Half-Quadratic Quantization (Badri & Shaji, Mobius Labs 2023): calibration-free;
// per group, the zero point is refined by half-quadratic splitting of min ||W - Q^-1(Q(W))||_p
// with p = 0.7: alternate W_e = shrink_p(W - dequant(W_q)) (a generalized soft threshold)
// and the closed-form zero mean(W_q - (W - W_e) * s), as hqq 0.2.8's
// optimize_weights_proximal_legacy does (20 steps, beta 10, all groups of the tensor
// together until the tensor's mean |error| stops falling). The scale stays min/max:
// s = (2^b - 1) / (max - min).
#pragma once
#include <cstdint>
#include <span>

#include "lowbit/gptq.h"

namespace lowbit {

struct HqqOptions {
  int bits = 4;                  // codes 0 .. 2^bits - 1
  std::int64_t group_size = 64;  // consecutive columns per (scale, zero); <= 0: per row
  float lp_norm = 0.7f;
  float beta = 10.0f;
  int iters = 20;
  bool optimize = true;          // false: plain min/max rounding (HQQ's starting point)
};

// Result in the GPTQ convention w ~ scale * (code - zero) with scale = 1/s (HQQ stores
// the inverse too); zero is HQQ's fractional zero point (not rounded).
GptqResult hqq_quantize(std::span<const float> w, std::int64_t rows, std::int64_t cols, const HqqOptions& opt,
                        int threads = 0);

}  // namespace lowbit
