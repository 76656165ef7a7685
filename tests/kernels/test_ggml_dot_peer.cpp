// lowbit's ggml-order block dots (reference and AVX2) against llama.cpp's own vec_dot,
// called at test time through tests/peers/ggml_vec_dot.py: realistic weight rows from
// lowbit's quantizers, activation rows from the runtime's quantizer, equal bit for bit.
// The activation bytes themselves are checked against ggml's from_float first.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/ggml_dot.h"
#include "kernels/quant_rows.h"
#include "lowbit/ggml_types.h"
#include "model/ggml_cpu_activations.h"
#include "support/peer.h"

using namespace lowbit;
using ggml::Type;

namespace {

template <typename T>
void write_file(const std::filesystem::path& p, const T* data, std::size_t n) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(T)));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

std::vector<std::byte> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::vector<std::byte> v(static_cast<std::size_t>(f.tellg()));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size()));
  return v;
}

// rows x n floats, each row at its own scale (10^[lo, hi]); heavy tails when asked, and a
// few large outliers so the block maxima vary.
std::vector<float> random_rows(std::int64_t rows, std::int64_t n, std::mt19937& rng, float lo, float hi, bool heavy) {
  std::normal_distribution<float> g;
  std::student_t_distribution<float> st(3.0f);
  std::uniform_real_distribution<float> ex(lo, hi);
  std::vector<float> x(static_cast<std::size_t>(rows * n));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float scale = std::pow(10.f, ex(rng));
    float* row = x.data() + r * n;
    for (std::int64_t i = 0; i < n; ++i) row[i] = scale * (heavy ? st(rng) : g(rng));
    for (int k = 0; k < 2; ++k) row[rng() % static_cast<std::uint32_t>(n)] *= 20.f;
  }
  return x;
}

struct Case {
  Type type;
  std::int64_t n;
};

class PeerGgmlVecDot : public ::testing::TestWithParam<Case> {};

TEST_P(PeerGgmlVecDot, ReferenceAndAvx2EqualLlamaCppBitForBit) {
  const auto [t, n] = GetParam();
  const std::int64_t rows = 96;
  std::mt19937 rng(99 + static_cast<std::uint32_t>(t) * 7919u + static_cast<std::uint32_t>(n));
  const auto dir = lowbit::testing::scratch_dir();
  const std::string name = ggml::traits(t).name;

  const auto wf = random_rows(rows, n, rng, -3.f, 1.f, false);
  const std::size_t wrow = *ggml::row_size(t, n);
  std::vector<std::byte> w(wrow * static_cast<std::size_t>(rows));
  ggml::quantize_rows(t, wf.data(), w.data(), rows, n);

  const auto xf = random_rows(rows, n, rng, -3.f, 3.f, true);
  const auto x = model::ggml_quantize_activations(model::ggml_vec_dot_type(t), xf.data(), rows, n);
  const std::size_t xrow = x.size() / static_cast<std::size_t>(rows);

  write_file(dir / "w.bin", w.data(), w.size());
  write_file(dir / "x.bin", x.data(), x.size());
  write_file(dir / "x.f32", xf.data(), xf.size());
  const std::string ns = std::to_string(n), rs = std::to_string(rows);

  // The runtime's activation blocks are the ones llama.cpp would have made.
  lowbit::testing::run_peer("ggml_vec_dot.py", {"quantize", name, ns, rs, (dir / "x.f32").string(),
                                                (dir / "xpeer.bin").string()});
  ASSERT_TRUE(read_file(dir / "xpeer.bin") == x) << name << ": activation blocks differ from ggml's from_float";

  const std::string out = lowbit::testing::run_peer(
      "ggml_vec_dot.py", {"dot", name, ns, rs, (dir / "w.bin").string(), (dir / "x.bin").string()});
  std::istringstream lines(out);
  const auto ref = kernels::ggml_dot_kernel(t, true);
  const bool avx2 = kernels::fast_kernels_enabled();
  if (!avx2) std::printf("no AVX2+FMA+F16C on this CPU: only the reference is compared\n");
  ASSERT_NE(ref, nullptr);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::string hex;
    ASSERT_TRUE(lines >> hex) << "peer printed " << r << " of " << rows << " results:\n" << out;
    const auto want = static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16));
    const void* wr = w.data() + static_cast<std::size_t>(r) * wrow;
    const void* xr = x.data() + static_cast<std::size_t>(r) * xrow;
    const float got = ref(wr, xr, n);
    ASSERT_TRUE(std::isfinite(got)) << name << " row " << r;
    EXPECT_EQ(std::bit_cast<std::uint32_t>(got), want)
        << name << " n " << n << " row " << r << ": reference " << got << ", llama.cpp " << std::bit_cast<float>(want);
    if (avx2) {
      const float fast = kernels::ggml_dot_kernel(t)(wr, xr, n);
      EXPECT_EQ(std::bit_cast<std::uint32_t>(fast), want)
          << name << " n " << n << " row " << r << ": avx2 " << fast << ", llama.cpp " << std::bit_cast<float>(want);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    PeerTypes, PeerGgmlVecDot,
    ::testing::Values(Case{Type::Q4_K, 256}, Case{Type::Q4_K, 512}, Case{Type::Q4_K, 4096}, Case{Type::Q5_K, 256},
                      Case{Type::Q5_K, 4096}, Case{Type::Q6_K, 256},
                      Case{Type::Q6_K, 512}, Case{Type::Q6_K, 4096}, Case{Type::Q4_0, 256}, Case{Type::Q4_0, 4096},
                      Case{Type::Q5_0, 256}, Case{Type::Q5_0, 4096},
                      Case{Type::Q8_0, 256}, Case{Type::Q8_0, 4096}),
    [](const auto& i) { return std::string(ggml::traits(i.param.type).name) + "_" + std::to_string(i.param.n); });

}  // namespace
