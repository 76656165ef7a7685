// ggml tensor types: the ids (ABI: equal to ggml's enum, never reused) and one traits
// table with block size, bytes per block, bits per weight and the row functions
// (dequantize, llama.cpp's reference quantizer, and its importance-weighted quantizer).
// Every reader of GGUF sizes tensors through this table; see docs/formats.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

namespace lowbit::ggml {

enum class Type : std::uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
  IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40,
  Q1_0 = 41, Q2_0 = 42,
};

// Row functions. n (or n_per_row) must be a multiple of block_size; the traits
// functions below check that and fail() with the type name otherwise.
using ToFloatFn = void (*)(const void* src, float* dst, std::int64_t n);
using FromFloatRefFn = void (*)(const float* src, void* dst, std::int64_t n);
// llama.cpp's quantize_<type>(src, dst, nrows, n_per_row, quant_weights): with
// imatrix == nullptr it equals the reference quantizer; with an importance vector of
// n_per_row weights it runs llama.cpp's weighted search. Returns bytes written.
using QuantizeFn = std::size_t (*)(const float* src, void* dst, std::int64_t nrows,
                                   std::int64_t n_per_row, const float* imatrix);

struct TypeTraits {
  Type type;
  const char* name;          // ggml's spelling: "q4_K", "iq4_nl", "bf16"
  std::int64_t block_size;   // weights per block
  std::size_t type_size;     // bytes per block
  bool quantized;
  ToFloatFn to_float;        // nullptr where lowbit cannot decode the type yet
  FromFloatRefFn from_float_ref;  // nullptr where lowbit cannot encode the type
  QuantizeFn quantize;       // nullptr where lowbit cannot encode the type

  double bits_per_weight() const { return 8.0 * double(type_size) / double(block_size); }
};

// Traits of a type id; nullptr for ids ggml never assigned (or retired).
const TypeTraits* traits(std::uint32_t id);
const TypeTraits& traits(Type t);
// By ggml's name (case-insensitive: "Q4_K" and "q4_K" both work).
const TypeTraits* traits_by_name(std::string_view name);

// Bytes of a row of n weights, or nullopt when n is not a multiple of the block size.
std::optional<std::size_t> row_size(Type t, std::int64_t n);

// Quantizes nrows rows like ggml_quantize_chunk (reference path when imatrix is null;
// its AVX2 twin where one exists, byte-identical). Fails naming the type when n_per_row
// is not a multiple of its block size or the type has no encoder. Rows are split over
// `threads` (<= 0: all cores); the bytes never depend on the thread count.
std::size_t quantize_rows(Type t, const float* src, void* dst, std::int64_t nrows,
                          std::int64_t n_per_row, const float* imatrix = nullptr, int threads = 1);
// Decodes n weights (a multiple of the block size) to fp32, split over `threads`.
void dequantize(Type t, const void* src, float* dst, std::int64_t n, int threads = 1);
// The same in pieces of a few MiB, calling done(piece) after each: a reader of a mapped
// file gives each piece's pages back, so a tensor is not held twice while it is decoded.
void dequantize_pieces(Type t, std::span<const std::byte> src, float* dst, std::int64_t n, int threads,
                       const std::function<void(std::span<const std::byte>)>& done);

}  // namespace lowbit::ggml
