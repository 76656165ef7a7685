// A quantization scheme: what a SPEC string such as "int4:g128:asym" means. Parsing
// and printing round-trip, so the scheme stored in a file's metadata is the spec text.
// Grammar: TYPE[:GRANULARITY][:OPTION]...  (see docs/cli.md for the full table)
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/affine.h"

namespace lowbit {

enum class SchemeKind : std::uint8_t {
  Affine,    // intB / uintB: uniform integer codes with scale (+ zero point)
  KMeans,    // kmeansB: per-block k-means codebook of 2^B entries + indices
  Grid,      // nf4 or grid[...]: fixed codebook scaled by each block's absmax
  Float,     // fp16, bf16, fp8e4m3, fp8e5m2: cast, fp8 with a per-block fp32 scale
};

enum class FloatFormat : std::uint8_t { F16, BF16, E4M3, E5M2 };

enum class GranularityKind : std::uint8_t {
  Tensor,   // one set of parameters for the whole tensor ("layerwise")
  Channel,  // one per index along `axis` (default 0: output channels of a weight)
  Group,    // one per `group_size` consecutive elements along the last (reduction) axis
};

struct Scheme {
  SchemeKind kind = SchemeKind::Affine;
  int bits = 8;
  bool is_signed = true;
  bool symmetric = true;
  bool restricted = true;  // symmetric only: drop the most negative code
  FloatFormat float_format = FloatFormat::F16;
  std::vector<float> grid;  // Grid kind: sorted codebook in [-1, 1]
  std::string grid_name;    // "nf4" or "" for a user grid

  GranularityKind granularity = GranularityKind::Tensor;
  int axis = 0;
  std::int64_t group_size = 0;
  // Two-level super-blocks (the k-quant idea): the fp32 group scales of each run of
  // super_block elements are themselves quantized to `scale_bits`-bit unsigned codes
  // times one fp32 scale per super-block. 0 = off. Requires Group granularity.
  std::int64_t super_block = 0;
  int scale_bits = 6;

  Rounding rounding = Rounding::NearestEven;
  std::uint64_t seed = 0;  // stochastic rounding and k-means++
  bool kmeans_plusplus = false;

  std::string spec() const;  // canonical SPEC text
  IntRange range() const;    // Affine only
  bool has_zero_point() const { return kind == SchemeKind::Affine && !symmetric; }
};

// Parses a SPEC; throws lowbit::Error naming the bad token.
Scheme parse_scheme(std::string_view spec);

}  // namespace lowbit
