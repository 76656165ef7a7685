// Shared by the ggml block-format tests: test rows (llama.cpp's test-quantize-fns data,
// random, heavy-tailed, edge rows and a real MiniLM weight matrix), running llama.cpp's
// own row functions through tests/peers/ggml_quants.py, and a byte comparison that names
// the first differing row, block and byte.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/ggml_types.h"

namespace lowbit::testing {

enum class RowKind {
  Cos,      // 0.1 + 2 cos(i + offset): the data of llama.cpp's test-quantize-fns
  Gauss,    // N(0, 1) scaled per row by 10^[-3, 1]
  Heavy,    // Student-t(2) with a few huge outliers per row
  Edge,     // all-zero, constant, tiny (1e-30), negative-only, one-hot and alternating rows
  MiniLM,   // real weights: all-MiniLM-L6-v2's layer-0 FFN matrices, rows of 1536 or 384
};
const char* row_kind_name(RowKind k);

// nrows x n_per_row floats; MiniLM ignores nrows/n_per_row requests it cannot meet and
// reports what it gave through the out-parameters.
std::vector<float> ggml_test_rows(RowKind kind, std::int64_t& nrows, std::int64_t& n_per_row, std::uint32_t seed);

// Positive importance weights like llama.cpp's imatrix (mean x^2 per column), with a
// spread of four orders of magnitude and a few exact zeros.
std::vector<float> ggml_test_imatrix(std::int64_t n_per_row, std::uint32_t seed);

// llama.cpp's bytes: mode "ref" runs quantize_row_<t>_ref, "imatrix" runs
// quantize_<t>(..., imatrix) (imatrix may be empty: quant_weights = NULL).
std::vector<std::uint8_t> ggml_peer_quantize(ggml::Type t, const std::string& mode, const std::vector<float>& x,
                                             std::int64_t nrows, std::int64_t n_per_row,
                                             const std::vector<float>& imatrix = {});
// llama.cpp's dequantize_row_<t> of n weights.
std::vector<float> ggml_peer_dequantize(ggml::Type t, const std::vector<std::uint8_t>& q, std::int64_t n);

// Empty when equal, else "row r block b byte k: got 0x.. want 0x.." plus context.
std::string ggml_first_difference(ggml::Type t, const std::vector<std::uint8_t>& got,
                                  const std::vector<std::uint8_t>& want, std::int64_t n_per_row);
// Raw little-endian arrays, the files the peer scripts read and write.
template <typename T>
void write_raw(const std::filesystem::path& p, const std::vector<T>& v) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

template <typename T>
std::vector<T> read_raw(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  const auto n = static_cast<std::size_t>(f.tellg());
  std::vector<T> v(n / sizeof(T));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  return v;
}

// Bitwise float comparison (NaN payloads included); empty when equal.
std::string float_first_difference(const std::vector<float>& got, const std::vector<float>& want);

}  // namespace lowbit::testing
