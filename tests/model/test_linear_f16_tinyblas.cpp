// An F16 Linear under ggml's CPU rounding runs tinyBLAS's tiles on fp16 weights and fp16
// activations (ggml's casts), widened in the tile: every output must be, bit for bit, the
// reference tinyBLAS dot of the widened weight row and the fp16-rounded activation row, on
// ragged rows (a last row short of four) and batch sizes, on 1 and 2 threads.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/ggml_dot.h"
#include "lowbit/ggml_types.h"
#include "lowbit/linear.h"
#include "model/ggml_cpu_activations.h"

using namespace lowbit;

namespace {

TEST(LinearF16Tinyblas, ForwardEqualsReferenceDotsOnRoundedActivations) {
  std::mt19937 rng(5);
  std::normal_distribution<float> wd(0.f, 0.05f), xd(0.f, 1.f);
  const std::int64_t cols = 136;  // whole 8-lane steps, not whole 32-blocks
  for (const std::int64_t rows : {4, 7, 26})
    for (const std::int64_t m : {1, 2, 3, 25, 30}) {
      std::vector<float> wf(static_cast<std::size_t>(rows * cols)), x(static_cast<std::size_t>(m * cols));
      for (auto& v : wf) v = wd(rng);
      for (auto& v : x) v = xd(rng);
      std::vector<std::byte> bytes(ggml::row_size(ggml::Type::F16, cols).value() * static_cast<std::size_t>(rows));
      ggml::quantize_rows(ggml::Type::F16, wf.data(), bytes.data(), rows, cols, nullptr, 1);
      std::vector<float> w(wf.size()), xr(x.size());
      ggml::dequantize(ggml::Type::F16, bytes.data(), w.data(), rows * cols, 1);
      model::ggml_round_activations(ggml::Type::F16, x.data(), m, cols, xr.data(), nullptr);
      const Linear l = Linear::from_ggml("w", ggml::Type::F16, bytes, rows, cols, ActivationRounding::GgmlCpu, nullptr);
      for (const int threads : {1, 2}) {
        std::vector<float> y(static_cast<std::size_t>(m * rows), -1.f);
        l.forward(x.data(), m, y.data(), threads);
        for (std::int64_t i = 0; i < m; ++i)
          for (std::int64_t r = 0; r < rows; ++r) {
            const float want = kernels::ggml_dot_f16_tinyblas__ref(w.data() + r * cols, xr.data() + i * cols, cols);
            ASSERT_EQ(std::bit_cast<std::uint32_t>(y[static_cast<std::size_t>(i * rows + r)]),
                      std::bit_cast<std::uint32_t>(want))
                << "rows " << rows << " m " << m << " threads " << threads << " at activation " << i << " row " << r;
          }
      }
    }
}

}  // namespace
