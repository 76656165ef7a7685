// The second peer for the ggml block formats: gguf-py (llama.cpp's numpy code in the
// PyPI gguf package). Its quantizers cover F16, BF16 and Q4_0..Q8_0, which must give
// lowbit's bytes; its dequantizers cover every type lowbit encodes and must give
// lowbit's floats for lowbit's bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "formats/ggml_peer_check.h"
#include "support/peer.h"

using namespace lowbit;
using namespace lowbit::testing;
using ggml::Type;
namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> lowbit_quantize(Type t, const std::vector<float>& x, std::int64_t rows, std::int64_t npr) {
  std::vector<std::uint8_t> q(static_cast<std::size_t>(rows) * *ggml::row_size(t, npr));
  ggml::quantize_rows(t, x.data(), q.data(), rows, npr);
  return q;
}

const RowKind kKinds[] = {RowKind::Cos, RowKind::Gauss, RowKind::Heavy, RowKind::Edge, RowKind::MiniLM};

}  // namespace

TEST(PeerGgmlGgufPy, QuantizersGiveTheSameBytes) {
  for (Type t : {Type::F16, Type::BF16, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0}) {
    for (RowKind kind : kKinds) {
      std::int64_t rows = 24, npr = 512;
      const auto x = ggml_test_rows(kind, rows, npr, 3);
      const auto got = lowbit_quantize(t, x, rows, npr);
      const fs::path dir = scratch_dir();
      write_raw(dir / "x.f32", x);
      run_peer("ggml_gguf_py.py", {"quant", ggml::traits(t).name, (dir / "x.f32").string(), std::to_string(rows),
                                   std::to_string(npr), (dir / "q.bin").string()});
      EXPECT_EQ(ggml_first_difference(t, got, read_raw<std::uint8_t>(dir / "q.bin"), npr), "")
          << ggml::traits(t).name << " on " << row_kind_name(kind) << " rows";
    }
  }
}

TEST(PeerGgmlGgufPy, DequantizersGiveTheSameFloats) {
  for (Type t : {Type::F16, Type::BF16, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0, Type::Q2_K,
                 Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::IQ4_NL, Type::IQ4_XS}) {
    for (RowKind kind : kKinds) {
      std::int64_t rows = 12, npr = 1536;
      const auto x = ggml_test_rows(kind, rows, npr, 5);
      const auto q = lowbit_quantize(t, x, rows, npr);
      std::vector<float> got(x.size());
      ggml::dequantize(t, q.data(), got.data(), rows * npr);
      const fs::path dir = scratch_dir();
      write_raw(dir / "q.bin", q);
      run_peer("ggml_gguf_py.py", {"dequant", ggml::traits(t).name, (dir / "q.bin").string(), std::to_string(rows),
                                   std::to_string(npr), (dir / "y.f32").string()});
      EXPECT_EQ(float_first_difference(got, read_raw<float>(dir / "y.f32")), "")
          << ggml::traits(t).name << " on " << row_kind_name(kind) << " rows";
    }
  }
}
