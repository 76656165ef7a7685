// lowbit's quantized-tensor layout in safetensors (see include/lowbit/quantized_parts.h and
// docs/formats.md "lowbit quantized safetensors"). Parameters are stored at their full
// fp32 precision so a reload dequantizes to exactly the values the report measured.
#include "lowbit/quantized_parts.h"

#include <cmath>
#include <cstring>

#include "lowbit/bitpack.h"
#include "lowbit/error.h"

namespace lowbit {
namespace {

DType code_dtype(const Scheme& s) {
  if (s.kind == SchemeKind::Float) {
    switch (s.float_format) {
      case FloatFormat::F16: return DType::F16;
      case FloatFormat::BF16: return DType::BF16;
      case FloatFormat::E4M3: return DType::F8_E4M3;
      case FloatFormat::E5M2: return DType::F8_E5M2;
    }
  }
  if (s.bits == 16) return s.is_signed ? DType::I16 : DType::U16;
  return DType::U8;
}

DType zero_dtype(const Scheme& s) {
  if (s.bits <= 8) return s.is_signed ? DType::I8 : DType::U8;
  return s.is_signed ? DType::I16 : DType::U16;
}

template <typename T>
std::vector<std::byte> as_bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace

std::uint64_t PartDecl::bytes() const {
  std::uint64_t n = dtype_size(dtype);
  for (auto d : shape) n *= std::uint64_t(d);
  return n;
}

std::vector<PartDecl> quantized_part_decls(const std::string& t, std::span<const std::int64_t> shape,
                                           const Scheme& s) {
  const BlockLayout L = block_layout(shape, s);
  std::vector<PartDecl> parts;
  std::vector<std::int64_t> full(shape.begin(), shape.end());
  if (s.kind == SchemeKind::Float || s.bits == 16) {
    parts.push_back({t + ".qcodes", code_dtype(s), full});
  } else {
    parts.push_back({t + ".qcodes", DType::U8, {L.rows, std::int64_t(packed_bytes(std::size_t(L.cols), s.bits))}});
  }
  const bool fp8 = s.kind == SchemeKind::Float && (s.float_format == FloatFormat::E4M3 || s.float_format == FloatFormat::E5M2);
  if ((s.kind == SchemeKind::Affine && !s.super_block) || s.kind == SchemeKind::Grid || fp8)
    parts.push_back({t + ".qscale", DType::F32, L.param_shape});
  if (s.kind == SchemeKind::Affine && s.super_block) {
    const std::int64_t per_sb = s.super_block / s.group_size;
    const std::int64_t sbpr = (L.groups_per_row + per_sb - 1) / per_sb;
    parts.push_back({t + ".qscale_codes", DType::U8, {std::int64_t(packed_bytes(std::size_t(L.num_blocks), s.scale_bits))}});
    parts.push_back({t + ".qsuper_scale", DType::F32, {L.rows, sbpr}});
  }
  if (s.has_zero_point()) parts.push_back({t + ".qzero", zero_dtype(s), L.param_shape});
  if (s.kind == SchemeKind::KMeans) parts.push_back({t + ".qcodebook", DType::F32, {L.num_blocks, std::int64_t(1) << s.bits}});
  if (s.kind == SchemeKind::Grid) parts.push_back({t + ".qcodebook", DType::F32, {std::int64_t(s.grid.size())}});
  return parts;
}

std::vector<std::byte> quantized_part_bytes(const QuantizedTensor& q, const PartDecl& part) {
  const std::string& n = part.name;
  const std::string suffix = n.substr(n.rfind('.'));
  if (suffix == ".qcodes") return as_bytes(q.codes);
  if (suffix == ".qscale") return as_bytes(q.scales);
  if (suffix == ".qscale_codes") return as_bytes(q.scale_codes);
  if (suffix == ".qsuper_scale") return as_bytes(q.super_scales);
  if (suffix == ".qcodebook") return as_bytes(q.codebooks);
  if (suffix == ".qzero") {
    std::vector<std::byte> b;
    const std::size_t w = dtype_size(part.dtype);
    b.resize(q.zero_points.size() * w);
    for (std::size_t i = 0; i < q.zero_points.size(); ++i) {
      const auto u = static_cast<std::uint32_t>(q.zero_points[i]);
      for (std::size_t k = 0; k < w; ++k) b[i * w + k] = std::byte((u >> (8 * k)) & 0xff);
    }
    return b;
  }
  fail("unknown quantized part ", n);
}

QuantizedTensor quantized_from_parts(const std::string& t, std::span<const std::int64_t> shape, const Scheme& s,
                                     const std::function<std::span<const std::byte>(const PartDecl&)>& get) {
  QuantizedTensor q;
  q.shape.assign(shape.begin(), shape.end());
  q.scheme = s;
  q.layout = block_layout(shape, s);
  for (const PartDecl& d : quantized_part_decls(t, shape, s)) {
    const auto bytes = get(d);
    if (bytes.size() != d.bytes())
      fail("tensor '", t, "': part '", d.name, "' has ", bytes.size(), " bytes, its scheme ", s.spec(), " needs ",
           d.bytes());
    const std::string suffix = d.name.substr(t.size());
    auto copy_f32 = [&](std::vector<float>& v) {
      v.resize(bytes.size() / 4);
      std::memcpy(v.data(), bytes.data(), bytes.size());
      for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i])) fail("tensor '", t, "': part '", d.name, "' element ", i, " is not finite");
    };
    if (suffix == ".qcodes") {
      q.codes.resize(bytes.size());
      std::memcpy(q.codes.data(), bytes.data(), bytes.size());
    } else if (suffix == ".qscale") {
      copy_f32(q.scales);
    } else if (suffix == ".qsuper_scale") {
      copy_f32(q.super_scales);
    } else if (suffix == ".qcodebook") {
      copy_f32(q.codebooks);
    } else if (suffix == ".qscale_codes") {
      q.scale_codes.resize(bytes.size());
      std::memcpy(q.scale_codes.data(), bytes.data(), bytes.size());
    } else if (suffix == ".qzero") {
      const std::size_t w = dtype_size(d.dtype);
      const IntRange r = s.range();
      q.zero_points.resize(bytes.size() / w);
      for (std::size_t i = 0; i < q.zero_points.size(); ++i) {
        std::uint32_t u = 0;
        for (std::size_t k = 0; k < w; ++k) u |= std::uint32_t(bytes[i * w + k]) << (8 * k);
        std::int32_t z = std::int32_t(u);
        if (s.is_signed) z = w == 1 ? std::int32_t(std::int8_t(u)) : std::int32_t(std::int16_t(u));
        if (z < r.qmin || z > r.qmax)
          fail("tensor '", t, "': zero point ", z, " at index ", i, " outside the code range [", r.qmin, ", ", r.qmax, "]");
        q.zero_points[i] = z;
      }
    }
  }
  if (!q.scale_codes.empty()) {
    std::vector<std::uint8_t> c(static_cast<std::size_t>(q.layout.num_blocks));
    unpack_bits(q.scale_codes, s.scale_bits, c);
    for (std::size_t i = 0; i < c.size(); ++i)
      if (c[i] == 0) fail("tensor '", t, "': sub-scale code 0 at block ", i, " (codes run 1..", (1 << s.scale_bits) - 1, ")");
  }
  if (s.kind == SchemeKind::Grid && q.codebooks != s.grid)
    fail("tensor '", t, "': stored codebook differs from the grid of scheme ", s.spec());
  if (s.kind == SchemeKind::Grid && s.grid.size() < (std::size_t{1} << s.bits)) {
    // A grid of K entries uses ceil(log2 K)-bit codes; codes >= K would index past it.
    const std::size_t rb = packed_bytes(static_cast<std::size_t>(q.layout.cols), s.bits);
    std::vector<std::uint8_t> row(static_cast<std::size_t>(q.layout.cols));
    for (std::int64_t r = 0; r < q.layout.rows; ++r) {
      unpack_bits(std::span<const std::uint8_t>(q.codes.data() + std::size_t(r) * rb, rb), s.bits, row);
      for (std::size_t j = 0; j < row.size(); ++j)
        if (row[j] >= s.grid.size())
          fail("tensor '", t, "': code ", int(row[j]), " at row ", r, " column ", j, " is past the ", s.grid.size(),
               "-entry grid");
    }
  }
  for (float v : q.scales)
    if (!(v > 0.0f)) fail("tensor '", t, "': scale ", v, " is not positive");
  return q;
}

}  // namespace lowbit
