// The portable fp16 codec against the F16C instructions it must equal bit for bit:
// VCVTPS2PH (round to nearest even) on every fp32 pattern with an unbiased exponent in
// [-26, 17] (fp16's range +-2 binades), every zero/subnormal/inf/NaN pattern, 10^7 random
// patterns; VCVTPH2PS on all 65,536 halves. NaN payloads included.
#include <gtest/gtest.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "lowbit/fp16.h"
#include "lowbit/parallel.h"

using namespace lowbit;

namespace {

bool cpu_has_f16c() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
}

void f16c_from_fp32(const float* in, std::uint16_t* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i)
    out[i] = static_cast<std::uint16_t>(
        _mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(in[i]), _MM_FROUND_TO_NEAREST_INT), 0));
}

// Compares the library against F16C on the fp32 bit patterns first + [0, n), a block at
// a time on both cores; returns the lowest mismatching pattern index, or n.
std::uint64_t first_mismatch(std::uint32_t first, std::uint64_t n, std::uint16_t* got_out,
                             std::uint16_t* want_out) {
  constexpr std::size_t kBlock = 1u << 16;
  const std::size_t blocks = static_cast<std::size_t>((n + kBlock - 1) / kBlock);
  std::atomic<std::uint64_t> worst{n};
  parallel_for(blocks, 0, 1, [&](std::size_t b0, std::size_t b1) {
    std::vector<float> in(kBlock);
    std::vector<std::uint16_t> got(kBlock), want(kBlock);
    for (std::size_t b = b0; b < b1; ++b) {
      const std::uint64_t start = std::uint64_t(b) * kBlock;
      if (start >= worst.load(std::memory_order_relaxed)) return;  // an earlier one already failed
      const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, n - start));
      for (std::size_t i = 0; i < len; ++i)
        in[i] = std::bit_cast<float>(static_cast<std::uint32_t>(first + start + i));
      fp32_to_fp16(std::span<const float>(in.data(), len), std::span<std::uint16_t>(got.data(), len));
      f16c_from_fp32(in.data(), want.data(), len);
      if (std::memcmp(got.data(), want.data(), len * 2) == 0) continue;
      for (std::size_t i = 0; i < len; ++i) {
        if (got[i] == want[i]) continue;
        std::uint64_t cur = worst.load();
        while (start + i < cur && !worst.compare_exchange_weak(cur, start + i)) {
        }
        break;
      }
    }
  });
  const std::uint64_t bad = worst.load();
  if (bad < n) {
    const float x = std::bit_cast<float>(static_cast<std::uint32_t>(first + bad));
    *got_out = fp32_to_fp16(x);
    f16c_from_fp32(&x, want_out, 1);
  }
  return bad;
}

}  // namespace

TEST(Fp16F16C, Fp32ToFp16EveryPatternNearFp16Range) {
  if (!cpu_has_f16c()) GTEST_SKIP() << "CPU has no F16C; nothing to compare";
  // Contiguous bit ranges, both signs: exponent field 0 (zeros, subnormals), fields
  // 127-26 .. 127+17 (2^-26 up to below 2^18), and field 255 (inf, every NaN payload).
  struct Range {
    std::uint32_t first;
    std::uint64_t count;
  };
  std::vector<Range> ranges;
  for (const std::uint32_t sign : {0u, 0x80000000u}) {
    ranges.push_back({sign, 1u << 23});
    ranges.push_back({sign | (101u << 23), std::uint64_t(145 - 101) << 23});
    ranges.push_back({sign | (255u << 23), 1u << 23});
  }
  std::uint64_t total = 0;
  for (const auto& r : ranges) {
    std::uint16_t got = 0, want = 0;
    const std::uint64_t bad = first_mismatch(r.first, r.count, &got, &want);
    ASSERT_EQ(bad, r.count) << std::hex << "fp32 0x" << (r.first + bad) << ": lowbit 0x" << got << ", F16C 0x"
                            << want;
    total += r.count;
  }
  RecordProperty("patterns", std::to_string(total));
}

TEST(Fp16F16C, Fp32ToFp16RandomPatterns) {
  if (!cpu_has_f16c()) GTEST_SKIP() << "CPU has no F16C; nothing to compare";
  std::mt19937 rng(20240611);
  constexpr std::size_t kN = 10'000'000;
  std::vector<float> in(kN);
  for (auto& x : in) x = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
  std::vector<std::uint16_t> got(kN), want(kN);
  fp32_to_fp16(in, got);
  f16c_from_fp32(in.data(), want.data(), kN);
  for (std::size_t i = 0; i < kN; ++i)
    ASSERT_EQ(got[i], want[i]) << std::hex << "fp32 0x" << std::bit_cast<std::uint32_t>(in[i]) << " (sample "
                               << std::dec << i << ")";
}

TEST(Fp16F16C, Fp16ToFp32AllPatterns) {
  if (!cpu_has_f16c()) GTEST_SKIP() << "CPU has no F16C; nothing to compare";
  std::vector<std::uint16_t> h(65536);
  for (unsigned i = 0; i < 65536; ++i) h[i] = static_cast<std::uint16_t>(i);
  std::vector<float> got(65536), want(65536);
  fp16_to_fp32(h, got);
  for (unsigned i = 0; i < 65536; i += 8)
    _mm256_storeu_ps(want.data() + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h.data() + i))));
  for (unsigned i = 0; i < 65536; ++i)
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(want[i]))
        << std::hex << "fp16 0x" << i;
}
