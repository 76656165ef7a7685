// The one ggml traits table: every type id ggml has assigned, with its block geometry
// (copied from ggml's type_traits so any GGUF can be sized) and, for the types lowbit
// encodes, the row functions of formats/ggml_rows.h. Ids are ABI and never reused.
#include <algorithm>
#include <array>
#include <cctype>

#include "formats/ggml_rows.h"
#include "kernels/ggml_rows_fast.h"
#include "lowbit/error.h"
#include "lowbit/ggml_types.h"
#include "lowbit/parallel.h"

namespace lowbit::ggml {

namespace {

#define CODEC(t) dequantize_row_##t, quantize_row_##t##_ref, quantize_##t
#define NO_CODEC nullptr, nullptr, nullptr

constexpr TypeTraits kTable[] = {
    {Type::F32, "f32", 1, 4, false, CODEC(f32)},
    {Type::F16, "f16", 1, 2, false, CODEC(f16)},
    {Type::Q4_0, "q4_0", 32, 18, true, CODEC(q4_0)},
    {Type::Q4_1, "q4_1", 32, 20, true, CODEC(q4_1)},
    {Type::Q5_0, "q5_0", 32, 22, true, CODEC(q5_0)},
    {Type::Q5_1, "q5_1", 32, 24, true, CODEC(q5_1)},
    {Type::Q8_0, "q8_0", 32, 34, true, CODEC(q8_0)},
    {Type::Q8_1, "q8_1", 32, 36, true, NO_CODEC},
    {Type::Q2_K, "q2_K", 256, 84, true, CODEC(q2_K)},
    {Type::Q3_K, "q3_K", 256, 110, true, CODEC(q3_K)},
    {Type::Q4_K, "q4_K", 256, 144, true, CODEC(q4_K)},
    {Type::Q5_K, "q5_K", 256, 176, true, CODEC(q5_K)},
    {Type::Q6_K, "q6_K", 256, 210, true, CODEC(q6_K)},
    {Type::Q8_K, "q8_K", 256, 292, true, CODEC(q8_K)},
    {Type::IQ2_XXS, "iq2_xxs", 256, 66, true, NO_CODEC},
    {Type::IQ2_XS, "iq2_xs", 256, 74, true, NO_CODEC},
    {Type::IQ3_XXS, "iq3_xxs", 256, 98, true, NO_CODEC},
    {Type::IQ1_S, "iq1_s", 256, 50, true, NO_CODEC},
    {Type::IQ4_NL, "iq4_nl", 32, 18, true, CODEC(iq4_nl)},
    {Type::IQ3_S, "iq3_s", 256, 110, true, NO_CODEC},
    {Type::IQ2_S, "iq2_s", 256, 82, true, NO_CODEC},
    {Type::IQ4_XS, "iq4_xs", 256, 136, true, CODEC(iq4_xs)},
    {Type::I8, "i8", 1, 1, false, NO_CODEC},
    {Type::I16, "i16", 1, 2, false, NO_CODEC},
    {Type::I32, "i32", 1, 4, false, NO_CODEC},
    {Type::I64, "i64", 1, 8, false, NO_CODEC},
    {Type::F64, "f64", 1, 8, false, NO_CODEC},
    {Type::IQ1_M, "iq1_m", 256, 56, true, NO_CODEC},
    {Type::BF16, "bf16", 1, 2, false, CODEC(bf16)},
    {Type::TQ1_0, "tq1_0", 256, 54, true, NO_CODEC},
    {Type::TQ2_0, "tq2_0", 256, 66, true, NO_CODEC},
    {Type::MXFP4, "mxfp4", 32, 17, true, NO_CODEC},
    {Type::NVFP4, "nvfp4", 64, 36, true, NO_CODEC},
    {Type::Q1_0, "q1_0", 128, 18, true, NO_CODEC},
    {Type::Q2_0, "q2_0", 64, 18, true, NO_CODEC},
};
#undef CODEC
#undef NO_CODEC

constexpr std::uint32_t kMaxId = 42;

constexpr std::array<int, kMaxId + 1> build_index() {
  std::array<int, kMaxId + 1> idx{};
  idx.fill(-1);
  for (int i = 0; i < int(std::size(kTable)); ++i) idx[static_cast<std::uint32_t>(kTable[i].type)] = i;
  return idx;
}
constexpr auto kIndex = build_index();

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const TypeTraits& checked_codec(Type t, std::int64_t n, const char* what) {
  const TypeTraits& tr = traits(t);
  if (!tr.quantize) fail("ggml type ", tr.name, " has no ", what, " in lowbit");
  if (n < 0 || n % tr.block_size != 0)
    fail("ggml type ", tr.name, ": row length ", n, " is not a multiple of its block size ", tr.block_size);
  return tr;
}

}  // namespace

const TypeTraits* traits(std::uint32_t id) {
  if (id > kMaxId || kIndex[id] < 0) return nullptr;
  return &kTable[kIndex[id]];
}

const TypeTraits& traits(Type t) {
  const TypeTraits* tr = traits(static_cast<std::uint32_t>(t));
  if (!tr) fail("unknown ggml type id ", static_cast<std::uint32_t>(t));
  return *tr;
}

const TypeTraits* traits_by_name(std::string_view name) {
  for (const TypeTraits& t : kTable)
    if (iequals(t.name, name)) return &t;
  return nullptr;
}

std::optional<std::size_t> row_size(Type t, std::int64_t n) {
  const TypeTraits& tr = traits(t);
  if (n < 0 || n % tr.block_size != 0) return std::nullopt;
  return static_cast<std::size_t>(n / tr.block_size) * tr.type_size;
}

std::size_t quantize_rows(Type t, const float* src, void* dst, std::int64_t nrows, std::int64_t n_per_row,
                          const float* imatrix, int threads) {
  const TypeTraits& tr = checked_codec(t, n_per_row, "encoder");
  const std::size_t row_bytes = *row_size(t, n_per_row);
  // Without weights quantize_<t> is the reference quantizer for the types that have a
  // bit-identical AVX2 twin; with weights the search runs in the reference code.
  const FromFloatRefFn fast = imatrix ? nullptr : kernels::ggml_from_float_twin(t);
  parallel_for(static_cast<std::size_t>(nrows), threads, 1, [&](std::size_t r0, std::size_t r1) {
    const float* s = src + r0 * static_cast<std::size_t>(n_per_row);
    void* d = static_cast<std::uint8_t*>(dst) + r0 * row_bytes;
    const auto rows = static_cast<std::int64_t>(r1 - r0);
    if (fast)
      fast(s, d, rows * n_per_row);
    else
      tr.quantize(s, d, rows, n_per_row, imatrix);
  });
  return static_cast<std::size_t>(nrows) * row_bytes;
}

void dequantize(Type t, const void* src, float* dst, std::int64_t n, int threads) {
  const TypeTraits& tr = traits(t);
  const ToFloatFn to_float = kernels::ggml_to_float(t);
  if (!to_float) fail("ggml type ", tr.name, " has no decoder in lowbit");
  if (n < 0 || n % tr.block_size != 0)
    fail("ggml type ", tr.name, ": ", n, " weights is not a multiple of its block size ", tr.block_size);
  const auto blocks = static_cast<std::size_t>(n / tr.block_size);
  // Chunks of whole blocks; 4096 blocks keep thread start-up negligible.
  parallel_for(blocks, threads, 4096, [&](std::size_t b0, std::size_t b1) {
    to_float(static_cast<const std::uint8_t*>(src) + b0 * tr.type_size, dst + b0 * static_cast<std::size_t>(tr.block_size),
             static_cast<std::int64_t>((b1 - b0) * static_cast<std::size_t>(tr.block_size)));
  });
}

void dequantize_pieces(Type t, std::span<const std::byte> src, float* dst, std::int64_t n, int threads,
                       const std::function<void(std::span<const std::byte>)>& done) {
  const TypeTraits& tr = traits(t);
  if (n < 0 || n % tr.block_size != 0 || static_cast<std::size_t>(n / tr.block_size) * tr.type_size != src.size())
    fail("ggml type ", tr.name, ": ", src.size(), " bytes do not hold ", n, " weights");
  // ~4 MiB of source per piece: the pages given back lag the decode by that much.
  const std::size_t step = std::max<std::size_t>(1, (std::size_t{4} << 20) / tr.type_size);
  const auto blocks = static_cast<std::size_t>(n / tr.block_size);
  for (std::size_t b0 = 0; b0 < blocks; b0 += step) {
    const std::size_t nb = std::min(step, blocks - b0);
    const auto piece = src.subspan(b0 * tr.type_size, nb * tr.type_size);
    dequantize(t, piece.data(), dst + b0 * static_cast<std::size_t>(tr.block_size),
               static_cast<std::int64_t>(nb) * tr.block_size, threads);
    if (done) done(piece);
  }
}

}  // namespace lowbit::ggml
