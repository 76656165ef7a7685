// Reference weight-only GEMM (kernels/gemm_wo.h) and its packers: each weight row is
// dequantized exactly as wo_weight_at defines it, then y = sum_t x[t] * w[t] is one running
// fp32 sum in k order (gemm_f32_nt__ref on the dequantized matrix, bit for bit).
#include <vector>

#include "kernels/gemm_wo.h"
#include "lowbit/error.h"

namespace lowbit::kernels {
namespace {

void check_shape(const char* who, std::int64_t n, std::int64_t k, std::int64_t group, std::int64_t multiple,
                 const void* codes, const float* scales) {
  if (n < 1 || k < 1) fail(who, ": shape [", n, ", ", k, "] is empty");
  if (group < 1 || group % multiple != 0 || k % group != 0)
    fail(who, ": group ", group, " must be a multiple of ", multiple, " that divides k = ", k);
  if (!codes || !scales) fail(who, ": codes and scales are required");
}

// Copies scales and zeros (null: every zero is `fixed_zero`), checking zeros against `max_zero`.
void fill_params(const char* who, WoWeights& w, const float* scales, const std::uint8_t* zeros, int fixed_zero,
                 int max_zero) {
  const auto count = static_cast<std::size_t>(w.n * (w.k / w.group));
  w.scales.assign(scales, scales + count);
  w.symmetric = zeros == nullptr;
  if (w.symmetric) {
    w.zeros.assign(count, static_cast<std::uint8_t>(fixed_zero));
    return;
  }
  w.zeros.assign(zeros, zeros + count);
  for (std::size_t i = 0; i < count; ++i)
    if (w.zeros[i] > max_zero) fail(who, ": zero point ", int{w.zeros[i]}, " at group ", i, " exceeds ", max_zero);
}

WoWeights pack_bytes(const char* who, const std::uint8_t* codes, const float* scales, const std::uint8_t* zeros,
                     int fixed_zero, std::uint8_t offset, std::int64_t n, std::int64_t k, std::int64_t group) {
  check_shape(who, n, k, group, 8, codes, scales);
  WoWeights w;
  w.n = n;
  w.k = k;
  w.group = group;
  w.bits = 8;
  w.codes.resize(static_cast<std::size_t>(n * k));
  for (std::size_t i = 0; i < w.codes.size(); ++i) w.codes[i] = static_cast<std::uint8_t>(codes[i] + offset);
  fill_params(who, w, scales, zeros, fixed_zero, 255);
  return w;
}

}  // namespace

WoWeights pack_wo_u4(const std::uint8_t* codes, const float* scales, const std::uint8_t* zeros, std::int64_t n,
                     std::int64_t k, std::int64_t group) {
  check_shape("pack_wo_u4", n, k, group, 16, codes, scales);
  WoWeights w;
  w.n = n;
  w.k = k;
  w.group = group;
  w.bits = 4;
  w.codes.assign(static_cast<std::size_t>(n * k / 2), 0);
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t t = 0; t < k; ++t) {
      const std::uint8_t q = codes[j * k + t];
      if (q > 15) fail("pack_wo_u4: code ", int{q}, " at [", j, ", ", t, "] does not fit 4 bits");
      // Layout of kernels/gemm_wo.h: 16 codes per 8 bytes, t0 + b low, t0 + 8 + b high.
      std::uint8_t& byte = w.codes[static_cast<std::size_t>(j * (k / 2) + (t / 16) * 8 + t % 8)];
      byte = static_cast<std::uint8_t>(byte | (t % 16 < 8 ? q : q << 4));
    }
  fill_params("pack_wo_u4", w, scales, zeros, 8, 15);
  return w;
}

WoWeights pack_wo_s8(const std::int8_t* codes, const float* scales, std::int64_t n, std::int64_t k,
                     std::int64_t group) {
  // Stored as q + 128 against a zero point of 128: s * ((q + 128) - 128) is s * q exactly.
  return pack_bytes("pack_wo_s8", reinterpret_cast<const std::uint8_t*>(codes), scales, nullptr, 128, 128, n, k,
                    group);
}

WoWeights pack_wo_u8(const std::uint8_t* codes, const float* scales, const std::uint8_t* zeros, std::int64_t n,
                     std::int64_t k, std::int64_t group) {
  if (!zeros) fail("pack_wo_u8: asymmetric weights need zero points");
  return pack_bytes("pack_wo_u8", codes, scales, zeros, 0, 0, n, k, group);
}

void gemm_wo__ref(const float* x, const WoWeights& w, float* y, std::int64_t m, std::int64_t n0, std::int64_t n1) {
  const std::int64_t k = w.k, n = w.n;
  std::vector<float> row(static_cast<std::size_t>(k));
  for (std::int64_t j = n0; j < n1; ++j) {
    for (std::int64_t t = 0; t < k; ++t) row[static_cast<std::size_t>(t)] = wo_weight_at(w, j, t);
    for (std::int64_t i = 0; i < m; ++i) {
      float s = 0.0f;
      for (std::int64_t t = 0; t < k; ++t) s += x[i * k + t] * row[static_cast<std::size_t>(t)];
      y[i * n + j] = s;
    }
  }
}

}  // namespace lowbit::kernels
