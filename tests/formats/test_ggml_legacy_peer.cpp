// lowbit's Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL and IQ4_XS must write llama.cpp's bytes
// exactly, on every row kind and on the reference, importance-weighted and weightless
// quantize_<t> paths; the expected bytes and floats come from llama.cpp's own functions
// at test time. The error-bound test repeats llama.cpp's test-quantize-fns check.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "formats/ggml_peer_check.h"
#include "lowbit/ggml_types.h"

namespace lowbit::testing {
namespace {

using ggml::Type;

constexpr Type kTypes[] = {Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0, Type::IQ4_NL, Type::IQ4_XS};

enum class Mode { Ref, Imatrix, NoImatrix };
const char* mode_name(Mode m) {
  switch (m) {
    case Mode::Ref: return "ref";
    case Mode::Imatrix: return "imatrix";
    case Mode::NoImatrix: return "noimatrix";
  }
  return "?";
}

// Rows per kind and their length: 512 is a whole number of IQ4_XS super-blocks, and
// MiniLM's 1536-wide output.dense rows are too.
constexpr std::int64_t kRows = 16, kSyntheticPerRow = 512, kMiniLMPerRow = 1536;
constexpr RowKind kSynthetic[] = {RowKind::Cos, RowKind::Gauss, RowKind::Heavy, RowKind::Edge};

// One peer process costs more than quantizing, so each type's rows of all synthetic
// kinds are stacked into one matrix (MiniLM, of another width, is a second one) and
// llama.cpp quantizes each matrix once per mode; tests then compare their kind's rows.
// Stacking also matters for the reference IQ4_NL: an all-zero block keeps the previous
// block's codes (uninitialized memory for a call's first block), so Cos goes first.
struct Matrix {
  std::vector<float> x;
  std::int64_t nrows = 0, n_per_row = 0;
  std::map<RowKind, std::int64_t> first_row;  // kind -> its first row in x
  std::vector<float> imatrix;
};

struct Quantized {
  std::vector<std::uint8_t> got, want;  // lowbit's and llama.cpp's bytes
  std::vector<float> deq_want;          // llama.cpp's dequantization of `want`
};

const Matrix& matrix(bool minilm) {
  static std::map<bool, Matrix> cache;
  auto it = cache.find(minilm);
  if (it != cache.end()) return it->second;
  Matrix m;
  if (minilm) {
    m.nrows = kRows;
    m.n_per_row = kMiniLMPerRow;
    m.x = ggml_test_rows(RowKind::MiniLM, m.nrows, m.n_per_row, 0);
    m.first_row[RowKind::MiniLM] = 0;
  } else {
    m.n_per_row = kSyntheticPerRow;
    std::uint32_t seed = 11;
    for (RowKind k : kSynthetic) {
      std::int64_t nr = kRows, npr = kSyntheticPerRow;
      std::vector<float> rows = ggml_test_rows(k, nr, npr, seed++);
      m.first_row[k] = m.nrows;
      m.nrows += nr;
      m.x.insert(m.x.end(), rows.begin(), rows.end());
    }
  }
  m.imatrix = ggml_test_imatrix(m.n_per_row, 7);
  return cache.emplace(minilm, std::move(m)).first->second;
}

std::vector<std::uint8_t> lowbit_quantize(Type t, Mode mode, const Matrix& m) {
  const ggml::TypeTraits& tr = ggml::traits(t);
  std::vector<std::uint8_t> out(*ggml::row_size(t, m.n_per_row) * static_cast<std::size_t>(m.nrows));
  if (mode == Mode::Ref) {
    tr.from_float_ref(m.x.data(), out.data(), m.nrows * m.n_per_row);
  } else {
    const std::size_t n = ggml::quantize_rows(t, m.x.data(), out.data(), m.nrows, m.n_per_row,
                                              mode == Mode::Imatrix ? m.imatrix.data() : nullptr);
    EXPECT_EQ(n, out.size()) << tr.name << " " << mode_name(mode);
  }
  return out;
}

// All three modes of both matrices for one type: 6 quantize calls, 1 dequantize call.
const Quantized& quantized(Type t, Mode mode, bool minilm) {
  using Key = std::tuple<Type, Mode, bool>;
  static std::map<Key, Quantized> cache;
  if (auto it = cache.find({t, mode, minilm}); it != cache.end()) return it->second;
  std::vector<Key> keys;
  std::vector<std::uint8_t> all_bytes;
  std::int64_t all_n = 0;
  for (bool ml : {false, true}) {
    const Matrix& m = matrix(ml);
    for (Mode md : {Mode::Ref, Mode::Imatrix, Mode::NoImatrix}) {
      Quantized q;
      q.got = lowbit_quantize(t, md, m);
      q.want = ggml_peer_quantize(t, md == Mode::Ref ? "ref" : "imatrix", m.x, m.nrows, m.n_per_row,
                                  md == Mode::Imatrix ? m.imatrix : std::vector<float>{});
      all_bytes.insert(all_bytes.end(), q.want.begin(), q.want.end());
      all_n += m.nrows * m.n_per_row;
      keys.push_back({t, md, ml});
      cache[keys.back()] = std::move(q);
    }
  }
  // Blocks are independent, so one dequantize call over the concatenation serves all.
  const std::vector<float> deq = ggml_peer_dequantize(t, all_bytes, all_n);
  std::size_t at = 0;
  for (const Key& k : keys) {
    Quantized& q = cache[k];
    const std::size_t n = q.got.size() / ggml::traits(t).type_size * ggml::traits(t).block_size;
    q.deq_want.assign(deq.begin() + static_cast<std::ptrdiff_t>(at), deq.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  }
  return cache[{t, mode, minilm}];
}

template <typename T>
std::vector<T> slice(const std::vector<T>& v, std::size_t first, std::size_t count) {
  return std::vector<T>(v.begin() + static_cast<std::ptrdiff_t>(first),
                        v.begin() + static_cast<std::ptrdiff_t>(first + count));
}

using Param = std::tuple<Type, RowKind, Mode>;
std::string param_name(const Param& p) {
  return std::string(ggml::traits(std::get<0>(p)).name) + "_" + row_kind_name(std::get<1>(p)) + "_" +
         mode_name(std::get<2>(p));
}
// Found by ADL (the tuple's element types live here), so failures name the case.
void PrintTo(const Param& p, std::ostream* os) { *os << param_name(p); }

class PeerGgmlLegacy : public ::testing::TestWithParam<Param> {};

TEST_P(PeerGgmlLegacy, BytesAndDequantizeEqualLlamaCpp) {
  const auto [t, kind, mode] = GetParam();
  const bool minilm = kind == RowKind::MiniLM;
  const Matrix& m = matrix(minilm);
  const Quantized& q = quantized(t, mode, minilm);
  const std::size_t rb = *ggml::row_size(t, m.n_per_row);
  const std::int64_t row0 = m.first_row.at(kind);
  const std::int64_t nrows = minilm ? m.nrows : kRows;
  const std::vector<std::uint8_t> got = slice(q.got, static_cast<std::size_t>(row0) * rb, static_cast<std::size_t>(nrows) * rb);
  const std::vector<std::uint8_t> want = slice(q.want, static_cast<std::size_t>(row0) * rb, static_cast<std::size_t>(nrows) * rb);
  EXPECT_EQ(ggml_first_difference(t, got, want, m.n_per_row), "");

  // Decode llama.cpp's bytes, so a decoder bug cannot hide behind an encoder bug.
  const std::size_t n = static_cast<std::size_t>(nrows * m.n_per_row);
  std::vector<float> deq(n);
  ggml::dequantize(t, want.data(), deq.data(), static_cast<std::int64_t>(n));
  EXPECT_EQ(float_first_difference(deq, slice(q.deq_want, static_cast<std::size_t>(row0 * m.n_per_row), n)), "");
}

std::vector<Param> all_params() {
  std::vector<Param> ps;
  for (Type t : kTypes)
    for (RowKind k : {RowKind::Cos, RowKind::Gauss, RowKind::Heavy, RowKind::Edge, RowKind::MiniLM})
      for (Mode md : {Mode::Ref, Mode::Imatrix, Mode::NoImatrix}) ps.emplace_back(t, k, md);
  return ps;
}

INSTANTIATE_TEST_SUITE_P(PeerAllTypes, PeerGgmlLegacy, ::testing::ValuesIn(all_params()),
                         [](const ::testing::TestParamInfo<Param>& info) { return param_name(info.param); });

// The reference IQ4_NL packs stale codes for an all-zero block (ggml skips the block
// but packs its code buffer anyway); lowbit carries them the same way. The first block
// of the call is non-zero here, so llama.cpp's bytes are deterministic.
TEST(PeerGgmlLegacyIq4nl, ZeroBlockCarriesPreviousCodesLikeLlamaCpp) {
  std::vector<float> x(4 * 32, 0.0f);
  for (int i = 0; i < 32; ++i) x[i] = std::sin(0.37f * float(i)) * 3.0f;
  for (int i = 0; i < 32; ++i) x[64 + i] = -0.5f + float(i) / 31.0f;  // blocks 1 and 3 stay zero
  std::vector<std::uint8_t> got(4 * 18);
  ggml::traits(Type::IQ4_NL).from_float_ref(x.data(), got.data(), 128);
  const std::vector<std::uint8_t> want = ggml_peer_quantize(Type::IQ4_NL, "ref", x, 1, 128);
  EXPECT_EQ(ggml_first_difference(Type::IQ4_NL, got, want, 128), "");
  EXPECT_EQ(std::memcmp(got.data() + 2, got.data() + 18 + 2, 16), 0) << "block 1 should repeat block 0's codes";
}

}  // namespace
}  // namespace lowbit::testing
