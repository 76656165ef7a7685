// The one-time repack of 4-bit codes into the W4A16 tile layout of include/lowbit/w4a16.h,
// and its inverse used as the tests' oracle. Host code with no CUDA in it, so CI checks
// the layout without a GPU and the device check links the same function.
#include <cstddef>

#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/w4a16.h"

namespace lowbit::kernels {
namespace {

// Nibble p of a word holds input kNibbleInput[p] of the word's eight.
constexpr int kNibbleInput[8] = {0, 2, 4, 6, 1, 3, 5, 7};

std::size_t tile_index(std::int64_t nb, std::int64_t kb, std::int64_t kt) { return static_cast<std::size_t>(nb * kt + kb); }

}  // namespace

W4A16Weights repack_w4a16(const std::uint8_t* codes, const std::uint16_t* scales_fp16, const std::uint8_t* zeros,
                          std::int64_t n, std::int64_t k) {
  if (n <= 0 || k <= 0 || n % 8 != 0 || k % kW4A16Group != 0)
    fail("W4A16 repack: weight [", n, ", ", k, "] needs out % 8 == 0 and in % 128 == 0");
  const std::int64_t kt = k / kW4A16Group, groups = kt;
  W4A16Weights w;
  w.n = n;
  w.k = k;
  w.symmetric = zeros == nullptr;
  w.qweight.assign(static_cast<std::size_t>(n / 8 * kt * 128), 0u);
  w.scales.resize(static_cast<std::size_t>(n * kt));
  if (!w.symmetric) w.zeros.assign(static_cast<std::size_t>(n / 8 * kt), 0u);
  for (std::int64_t col = 0; col < n; ++col) {
    const std::int64_t nb = col / 8, c = col % 8;
    for (std::int64_t kb = 0; kb < kt; ++kb) {
      const std::size_t tile = tile_index(nb, kb, kt);
      w.scales[tile * 8 + static_cast<std::size_t>(c)] = scales_fp16[col * groups + kb];
      if (zeros) {
        const std::uint8_t z = zeros[col * groups + kb];
        if (z > 15) fail("W4A16 repack: zero point ", int(z), " of column ", col, " group ", kb, " exceeds 4 bits");
        w.zeros[tile] |= std::uint32_t{z} << (4 * c);
      }
      for (int t = 0; t < 4; ++t)
        for (int i = 0; i < 4; ++i) {
          std::uint32_t word = 0;
          for (int p = 0; p < 8; ++p) {
            const std::int64_t j = kb * kW4A16Group + 32 * t + 8 * i + kNibbleInput[p];
            const std::uint8_t q = codes[col * k + j];
            if (q > 15) fail("W4A16 repack: code ", int(q), " at [", col, ", ", j, "] exceeds 4 bits");
            word |= std::uint32_t{q} << (4 * p);
          }
          w.qweight[(tile * 32 + static_cast<std::size_t>(4 * c + t)) * 4 + static_cast<std::size_t>(i)] = word;
        }
    }
  }
  return w;
}

std::vector<float> dequantize_w4a16(const W4A16Weights& w) {
  const std::int64_t kt = w.k / kW4A16Group;
  std::vector<float> out(static_cast<std::size_t>(w.n * w.k));
  for (std::int64_t nb = 0; nb < w.n / 8; ++nb)
    for (std::int64_t kb = 0; kb < kt; ++kb) {
      const std::size_t tile = tile_index(nb, kb, kt);
      for (int lane = 0; lane < 32; ++lane) {
        const int c = lane / 4, t = lane % 4;
        const float s = fp16_to_fp32(w.scales[tile * 8 + static_cast<std::size_t>(c)]);
        const int z = w.symmetric ? 8 : static_cast<int>((w.zeros[tile] >> (4 * c)) & 15u);
        for (int i = 0; i < 4; ++i) {
          const std::uint32_t word = w.qweight[(tile * 32 + static_cast<std::size_t>(lane)) * 4 + static_cast<std::size_t>(i)];
          for (int p = 0; p < 8; ++p) {
            const std::int64_t j = kb * kW4A16Group + 32 * t + 8 * i + kNibbleInput[p];
            const int q = static_cast<int>((word >> (4 * p)) & 15u);
            out[static_cast<std::size_t>((nb * 8 + c) * w.k + j)] = s * static_cast<float>(q - z);
          }
        }
      }
    }
  return out;
}

}  // namespace lowbit::kernels
