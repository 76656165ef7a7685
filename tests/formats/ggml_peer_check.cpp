// Test rows, the llama.cpp peer runner and byte comparison for the ggml format tests
// (see ggml_peer_check.h).
#include "formats/ggml_peer_check.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "lowbit/safetensors.h"
#include "support/peer.h"

namespace fs = std::filesystem;

namespace lowbit::testing {

namespace {

std::vector<float> minilm_rows(std::int64_t& nrows, std::int64_t& n_per_row) {
  std::string path = run_peer("minilm_path.py", {});
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  const SafetensorsFile f = SafetensorsFile::open(path);
  // intermediate.dense is [1536, 384]; output.dense is [384, 1536] (rows of 1536 suit
  // the 256-blocks of the k-quants).
  const char* name = n_per_row % 256 == 0 ? "encoder.layer.0.output.dense.weight"
                                          : "encoder.layer.0.intermediate.dense.weight";
  const TensorView& t = f.tensor(name);
  std::vector<float> all = tensor_to_f32(t);
  const std::int64_t cols = t.shape.at(1);
  const std::int64_t rows = std::min<std::int64_t>(nrows, t.shape.at(0));
  n_per_row = cols;
  nrows = rows;
  all.resize(static_cast<std::size_t>(rows * cols));
  return all;
}

}  // namespace

const char* row_kind_name(RowKind k) {
  switch (k) {
    case RowKind::Cos: return "cos";
    case RowKind::Gauss: return "gauss";
    case RowKind::Heavy: return "heavy";
    case RowKind::Edge: return "edge";
    case RowKind::MiniLM: return "minilm";
  }
  return "?";
}

std::vector<float> ggml_test_rows(RowKind kind, std::int64_t& nrows, std::int64_t& n_per_row, std::uint32_t seed) {
  if (kind == RowKind::MiniLM) return minilm_rows(nrows, n_per_row);
  std::vector<float> x(static_cast<std::size_t>(nrows * n_per_row));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::student_t_distribution<float> student(2.f);
  std::uniform_real_distribution<float> expo(-3.f, 1.f);
  for (std::int64_t r = 0; r < nrows; ++r) {
    float* row = x.data() + r * n_per_row;
    const float scale = std::pow(10.f, expo(rng));
    for (std::int64_t i = 0; i < n_per_row; ++i) {
      switch (kind) {
        case RowKind::Cos: row[i] = 0.1f + 2.f * std::cos(float(i + r * n_per_row) + float(seed)); break;
        case RowKind::Gauss: row[i] = scale * normal(rng); break;
        case RowKind::Heavy: row[i] = scale * student(rng); break;
        case RowKind::Edge: {
          switch (r % 7) {
            case 0: row[i] = 0.f; break;
            case 1: row[i] = 0.75f; break;
            case 2: row[i] = 1e-30f * normal(rng); break;
            case 3: row[i] = -std::abs(normal(rng)) - 0.5f; break;
            case 4: row[i] = i % 37 == 5 ? 3.f : 0.f; break;
            case 5: row[i] = i % 2 ? 1.f : -1.f; break;
            default: row[i] = (i % 5 == 0 ? 1000.f : 0.01f) * normal(rng); break;
          }
          break;
        }
        case RowKind::MiniLM: break;
      }
    }
    if (kind == RowKind::Heavy)
      for (int k = 0; k < 3; ++k) row[rng() % n_per_row] *= 50.f;
  }
  return x;
}

std::vector<float> ggml_test_imatrix(std::int64_t n_per_row, std::uint32_t seed) {
  std::mt19937 rng(seed ^ 0x9e3779b9u);
  std::uniform_real_distribution<float> expo(-3.f, 1.f);
  std::vector<float> w(static_cast<std::size_t>(n_per_row));
  for (std::int64_t i = 0; i < n_per_row; ++i) w[i] = (rng() % 61 == 0) ? 0.f : std::pow(10.f, expo(rng));
  return w;
}

std::vector<std::uint8_t> ggml_peer_quantize(ggml::Type t, const std::string& mode, const std::vector<float>& x,
                                             std::int64_t nrows, std::int64_t n_per_row,
                                             const std::vector<float>& imatrix) {
  const fs::path dir = scratch_dir();
  write_raw(dir / "src.f32", x);
  std::vector<std::string> args = {"quant", ggml::traits(t).name, mode, (dir / "src.f32").string(),
                                   std::to_string(nrows), std::to_string(n_per_row), (dir / "out.bin").string()};
  if (!imatrix.empty()) {
    write_raw(dir / "imatrix.f32", imatrix);
    args.push_back((dir / "imatrix.f32").string());
  }
  run_peer("ggml_quants.py", args);
  return read_raw<std::uint8_t>(dir / "out.bin");
}

std::vector<float> ggml_peer_dequantize(ggml::Type t, const std::vector<std::uint8_t>& q, std::int64_t n) {
  const fs::path dir = scratch_dir();
  write_raw(dir / "q.bin", q);
  run_peer("ggml_quants.py", {"dequant", ggml::traits(t).name, (dir / "q.bin").string(), std::to_string(n),
                              (dir / "deq.f32").string()});
  return read_raw<float>(dir / "deq.f32");
}

std::string ggml_first_difference(ggml::Type t, const std::vector<std::uint8_t>& got,
                                  const std::vector<std::uint8_t>& want, std::int64_t n_per_row) {
  std::ostringstream os;
  if (got.size() != want.size()) {
    os << "size: got " << got.size() << " bytes, want " << want.size();
    return os.str();
  }
  const ggml::TypeTraits& tr = ggml::traits(t);
  const std::size_t row_bytes = *ggml::row_size(t, n_per_row);
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;
    const std::size_t row = i / row_bytes, in_row = i % row_bytes;
    const std::size_t block = in_row / tr.type_size, byte = in_row % tr.type_size;
    std::size_t ndiff = 0;
    for (std::size_t j = i; j < got.size(); ++j) ndiff += got[j] != want[j];
    os << tr.name << ": row " << row << " block " << block << " byte " << byte << ": got 0x" << std::hex
       << int(got[i]) << " want 0x" << int(want[i]) << std::dec << " (" << ndiff << " bytes differ of "
       << got.size() << ")";
    return os.str();
  }
  return {};
}

std::string float_first_difference(const std::vector<float>& got, const std::vector<float>& want) {
  std::ostringstream os;
  if (got.size() != want.size()) {
    os << "size: got " << got.size() << " floats, want " << want.size();
    return os.str();
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    std::uint32_t a, b;
    std::memcpy(&a, &got[i], 4);
    std::memcpy(&b, &want[i], 4);
    if (a == b) continue;
    os << "index " << i << ": got " << got[i] << " want " << want[i];
    return os.str();
  }
  return {};
}

}  // namespace lowbit::testing
