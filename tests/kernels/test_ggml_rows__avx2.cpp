// The AVX2 twins of the ggml row functions must equal the reference functions bit for
// bit: decoders on random blocks (every code pattern, finite random scales), encoders on
// random, heavy-tailed and edge rows, at several lengths and unaligned addresses.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "formats/ggml_blocks.h"
#include "kernels/ggml_rows_fast.h"
#include "kernels/quant_rows.h"
#include "lowbit/fp16.h"

using namespace lowbit;
using ggml::Type;

namespace {

// Byte offset that makes block data unaligned for vector loads while keeping the 2-byte
// alignment every block (fp16 fields) and F16/BF16 element needs, as in a GGUF file.
std::size_t skew(Type) { return 2; }

// Random finite fp16 with a random sign, magnitudes 2^-14 .. 2^4.
std::uint16_t random_half(std::mt19937& rng) {
  std::uniform_real_distribution<float> e(-14.f, 4.f);
  const float v = std::exp2(e(rng)) * ((rng() & 1) ? -1.f : 1.f);
  return fp32_to_fp16(v);
}

// Random blocks whose fp16 scale fields are finite (so NaN payload rules stay out).
std::vector<std::uint8_t> random_blocks(Type t, std::int64_t nblocks, std::mt19937& rng) {
  const auto& tr = ggml::traits(t);
  std::vector<std::uint8_t> b(static_cast<std::size_t>(nblocks) * tr.type_size + skew(t));
  for (auto& v : b) v = static_cast<std::uint8_t>(rng());
  for (std::int64_t i = 0; i < nblocks; ++i) {
    std::uint8_t* blk = b.data() + skew(t) + i * tr.type_size;  // unaligned on purpose
    auto put = [&](std::size_t off) {
      const std::uint16_t h = random_half(rng);
      std::memcpy(blk + off, &h, 2);
    };
    switch (t) {
      case Type::Q4_0: case Type::Q5_0: case Type::Q8_0: put(0); break;
      case Type::Q4_1: case Type::Q5_1: put(0); put(2); break;
      case Type::Q4_K: case Type::Q5_K: put(0); put(2); break;
      case Type::Q6_K: put(offsetof(ggml::block_q6_K, d)); break;
      case Type::F16: case Type::BF16: break;  // every bit pattern, NaNs included
      default: ADD_FAILURE() << "no scale layout for " << tr.name; break;
    }
  }
  return b;
}

std::vector<float> test_row(std::int64_t n, int kind, std::mt19937& rng) {
  std::vector<float> x(static_cast<std::size_t>(n) + 1);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::student_t_distribution<float> student(1.5f);
  for (std::size_t i = 0; i < x.size(); ++i) {
    switch (kind) {
      case 0: x[i] = normal(rng); break;
      case 1: x[i] = 1e-3f * student(rng); break;
      case 2: x[i] = (i % 64 < 32) ? 0.f : -0.f; break;               // all-zero blocks, signed zeros
      case 3: x[i] = std::round(normal(rng) * 8.f) / 16.f; break;      // ties at halves
      case 4: x[i] = (i % 32 == 7) ? -5.f : ((i % 32 == 9) ? 5.f : 0.25f * normal(rng)); break;  // tied |max|
      default: {
        // Half-integer multiples of the block's scale (max/-8): x/d + 8.5 lands within
        // an ulp of an integer, where a fused multiply-add truncates differently (real
        // requantized weights hit this; random data almost never does).
        // The rows start at x[1] (unaligned on purpose), so blocks are counted from there.
        const std::size_t p = i == 0 ? 0 : i - 1, j = p % 32;
        const float mx = 0.5f + 0.01f * float((p / 32) % 50);
        const float d = mx / 8.0f;
        x[i] = j == 0 ? -mx : (float(rng() % 15) - 7.0f + 0.5f) * d;
        break;
      }
    }
  }
  return x;
}

const Type kDecoders[] = {Type::F16, Type::BF16, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q8_0, Type::Q4_K, Type::Q5_K, Type::Q6_K};
const Type kEncoders[] = {Type::F16, Type::BF16, Type::Q4_0, Type::Q8_0};

}  // namespace

TEST(GgmlRowsAvx2, DecodersMatchReferenceBitwise) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "CPU lacks AVX2/FMA/F16C";
  std::mt19937 rng(7);
  for (Type t : kDecoders) {
    const auto& tr = ggml::traits(t);
    const auto fast = kernels::ggml_rows_avx2(t).to_float;
    ASSERT_NE(fast, nullptr) << tr.name;
    for (std::int64_t nblocks : {1, 2, 3, 17, 64}) {
      const auto b = random_blocks(t, nblocks, rng);
      const std::int64_t n = nblocks * tr.block_size;
      std::vector<float> want(static_cast<std::size_t>(n)), got(static_cast<std::size_t>(n) + 1);
      tr.to_float(b.data() + skew(t), want.data(), n);
      fast(b.data() + skew(t), got.data() + 1, n);  // unaligned output too
      for (std::int64_t i = 0; i < n; ++i) {
        std::uint32_t a, w;
        std::memcpy(&a, &got[static_cast<std::size_t>(i) + 1], 4);
        std::memcpy(&w, &want[static_cast<std::size_t>(i)], 4);
        ASSERT_EQ(a, w) << tr.name << " n=" << n << " first bad index " << i << " got " << got[i + 1] << " want "
                        << want[i];
      }
    }
  }
}

TEST(GgmlRowsAvx2, EncodersMatchReferenceBytewise) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "CPU lacks AVX2/FMA/F16C";
  std::mt19937 rng(11);
  for (Type t : kEncoders) {
    const auto& tr = ggml::traits(t);
    const auto fast = kernels::ggml_rows_avx2(t).from_float_ref;
    ASSERT_NE(fast, nullptr) << tr.name;
    for (int kind = 0; kind < 6; ++kind)
      for (std::int64_t nblocks : {1, 3, 40, 400}) {
        const std::int64_t n = nblocks * tr.block_size;
        const auto x = test_row(n, kind, rng);
        const std::size_t bytes = *ggml::row_size(t, n);
        std::vector<std::uint8_t> want(bytes), got(bytes + skew(t));
        tr.from_float_ref(x.data() + 1, want.data(), n);  // unaligned input
        fast(x.data() + 1, got.data() + skew(t), n);
        for (std::size_t i = 0; i < bytes; ++i)
          ASSERT_EQ(got[i + skew(t)], want[i]) << tr.name << " kind " << kind << " n=" << n << " first bad byte " << i
                                         << " (block " << i / tr.type_size << ")";
      }
  }
}
