// Whole-tensor quantization under a Scheme: block layout, parameter choice per block,
// codes per row, and the inverse. Per-element work goes through the reference functions
// of affine.h / codebook.h / the float codecs, so this file is the definition; the row
// kernels (kernels/) are only allowed to be faster, never different.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "lowbit/bf16.h"
#include "lowbit/bitpack.h"
#include "lowbit/codebook.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/fp8.h"
#include "lowbit/parallel.h"
#include "lowbit/quantize.h"
#include "kernels/quant_rows.h"
#include "quant/block_segments.h"

namespace lowbit {

// Codes are written as little-endian bytes by plain copies of host integers.
static_assert(std::endian::native == std::endian::little, "lowbit's storage code assumes a little-endian host");

namespace {

float float_format_max(FloatFormat f) {
  return f == FloatFormat::E4M3 ? 448.0f : 57344.0f;
}

bool float_has_scale(const Scheme& s) {
  return s.kind == SchemeKind::Float && (s.float_format == FloatFormat::E4M3 || s.float_format == FloatFormat::E5M2);
}

std::size_t row_code_bytes(const QuantizedTensor& q) {
  const Scheme& s = q.scheme;
  if (s.kind == SchemeKind::Float) return std::size_t(q.layout.cols) * (s.bits / 8);
  if (s.bits == 16) return std::size_t(q.layout.cols) * 2;
  return packed_bytes(std::size_t(q.layout.cols), s.bits);
}

void check_finite(std::span<const float> x) {
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i])) fail("element ", i, " is ", x[i], "; quantization needs finite values");
}

// Per-block statistics pass for blocks that span rows (Tensor, Channel): min, max.
struct MinMax {
  float mn = INFINITY, mx = -INFINITY;
};

// Segments of a row that all use one parameter block each and have one common length
// (the last may be shorter): what the row kernels need. Returns 0 when irregular.
std::int64_t regular_segments(const BlockLayout& L, std::int64_t row, std::vector<std::int64_t>& blocks) {
  blocks.clear();
  if (L.groups_per_row > 1) {  // groups: always regular, blocks numbered along the row
    blocks.resize(std::size_t(L.groups_per_row));
    for (std::int64_t g = 0; g < L.groups_per_row; ++g) blocks[std::size_t(g)] = row * L.groups_per_row + g;
    return L.group_size;
  }
  std::int64_t seg = 0;
  bool regular = true, short_seen = false;
  for_each_segment(L, row, [&](std::int64_t, std::int64_t len, std::int64_t b) {
    if (seg == 0) seg = len;
    if (short_seen || len > seg) regular = false;
    if (len < seg) short_seen = true;
    blocks.push_back(b);
  });
  return regular ? seg : 0;
}

void merge_minmax(MinMax& m, float a, float b) {
  m.mn = std::min(m.mn, a);
  m.mx = std::max(m.mx, b);
}

// Per-block min/max over the whole tensor (blocks that span rows: Tensor, Channel).
// Rows are split across threads; min/max merge in any order to the same result.
std::vector<MinMax> block_minmax(std::span<const float> x, const BlockLayout& L, int threads) {
  const auto nb = std::size_t(L.num_blocks);
  const int chunks = std::max(1, std::min<int>(threads <= 0 ? hardware_threads() : threads, int(std::max<std::int64_t>(L.rows, 1))));
  std::vector<std::vector<MinMax>> part(static_cast<std::size_t>(chunks), std::vector<MinMax>(nb));
  const auto& K = kernels::quant_rows();
  const std::size_t per = (std::size_t(L.rows) + std::size_t(chunks) - 1) / std::size_t(chunks);
  parallel_for(std::size_t(chunks), chunks, 1, [&](std::size_t c0, std::size_t c1) {
    std::vector<std::int64_t> blocks;
    std::vector<float> mn, mx;
    for (std::size_t c = c0; c < c1; ++c) {
      auto& mm = part[c];
      const std::size_t r1 = std::min(std::size_t(L.rows), (c + 1) * per);
      for (std::size_t r = c * per; r < r1; ++r) {
        const float* row = x.data() + r * std::size_t(L.cols);
        const std::int64_t seg = regular_segments(L, std::int64_t(r), blocks);
        if (seg > 0) {
          mn.resize(blocks.size()), mx.resize(blocks.size());
          if (!K.minmax_groups(row, L.cols, seg, mn.data(), mx.data())) fail("row ", r, " has NaN or Inf");
          for (std::size_t k = 0; k < blocks.size(); ++k) merge_minmax(mm[std::size_t(blocks[k])], mn[k], mx[k]);
        } else {
          for_each_segment(L, std::int64_t(r), [&](std::int64_t j0, std::int64_t len, std::int64_t b) {
            for (std::int64_t j = j0; j < j0 + len; ++j) {
              if (!std::isfinite(row[j])) fail("row ", r, " column ", j, " is ", row[j], "; quantization needs finite values");
              merge_minmax(mm[std::size_t(b)], row[j], row[j]);
            }
          });
        }
      }
    }
  });
  for (std::size_t c = 1; c < part.size(); ++c)
    for (std::size_t b = 0; b < nb; ++b) merge_minmax(part[0][b], part[c][b].mn, part[c][b].mx);
  return part[0];
}

AffineParams affine_from_minmax(const Scheme& s, const IntRange& range, float mn, float mx) {
  if (mn > mx) mn = mx = 0.0f;  // empty block
  if (s.symmetric) return choose_symmetric(std::max(std::fabs(mn), std::fabs(mx)), range);
  return choose_asymmetric(mn, mx, range);
}

// Two-level super-blocks: quantize each group's fp32 scale to an unsigned scale_bits
// code times one fp32 scale per super-block, then re-derive the zero point for the
// rounded scale so the group's range still maps into the codes.
void quantize_superblock_row(const Scheme& s, const IntRange& range, const float* x, std::int64_t cols,
                             std::int64_t row_group0, std::int64_t row_sb0, QuantizedTensor& q,
                             std::vector<std::uint8_t>& sc_codes, std::vector<AffineParams>& params) {
  const std::int64_t g = s.group_size, gpr = (cols + g - 1) / g, per_sb = s.super_block / g;
  const float smax_code = float((1 << s.scale_bits) - 1);
  std::vector<float> mn(static_cast<std::size_t>(gpr)), mx(static_cast<std::size_t>(gpr)), sc(static_cast<std::size_t>(gpr));
  for (std::int64_t gi = 0; gi < gpr; ++gi) {
    const std::int64_t j0 = gi * g, len = std::min(g, cols - j0);
    float a = INFINITY, b = -INFINITY;
    for (std::int64_t j = 0; j < len; ++j) a = std::min(a, x[j0 + j]), b = std::max(b, x[j0 + j]);
    mn[gi] = a, mx[gi] = b;
    sc[gi] = affine_from_minmax(s, range, a, b).scale;
  }
  for (std::int64_t sb = 0; sb * per_sb < gpr; ++sb) {
    const std::int64_t g0 = sb * per_sb, g1 = std::min(gpr, g0 + per_sb);
    float smax = 0.0f;
    for (std::int64_t gi = g0; gi < g1; ++gi) smax = std::max(smax, sc[gi]);
    const float d = smax / smax_code;
    q.super_scales[std::size_t(row_sb0 + sb)] = d;
    for (std::int64_t gi = g0; gi < g1; ++gi) {
      const float c = std::clamp(std::nearbyint(sc[gi] / d), 1.0f, smax_code);
      sc_codes[std::size_t(row_group0 + gi)] = static_cast<std::uint8_t>(c);
      const float eff = d * c;
      AffineParams p = params_from_scale(eff, 0);
      if (s.symmetric) {
        p.zero_point = range.is_signed ? 0 : (1 << (s.bits - 1));
      } else {
        const float lo = std::min(mn[gi], 0.0f);
        p.zero_point = std::int32_t(std::clamp(float(range.qmin) - std::nearbyint(lo * p.inv_scale),
                                               float(range.qmin), float(range.qmax)));
      }
      params[std::size_t(row_group0 + gi)] = p;
    }
  }
}

void store_row_codes(const QuantizedTensor& q, std::span<const std::int32_t> codes, std::uint8_t* dst,
                     std::vector<std::uint8_t>& tmp) {
  const int bits = q.scheme.bits;
  if (bits == 16) {
    for (std::size_t j = 0; j < codes.size(); ++j) {
      const auto u = static_cast<std::uint16_t>(codes[j]);
      dst[2 * j] = std::uint8_t(u & 0xff);
      dst[2 * j + 1] = std::uint8_t(u >> 8);
    }
    return;
  }
  const std::uint32_t mask = (1u << bits) - 1u;
  tmp.resize(codes.size());
  for (std::size_t j = 0; j < codes.size(); ++j) tmp[j] = std::uint8_t(std::uint32_t(codes[j]) & mask);
  pack_bits(tmp, bits, std::span<std::uint8_t>(dst, packed_bytes(codes.size(), bits)));
}

}  // namespace

std::int64_t QuantizedTensor::numel() const { return layout.rows * layout.cols; }

std::vector<float> QuantizedTensor::block_scales() const {
  if (super_scales.empty()) return scales;
  const auto nb = std::size_t(layout.num_blocks);
  std::vector<std::uint8_t> c(nb);
  unpack_bits(scale_codes, scheme.scale_bits, c);
  const std::int64_t per_sb = scheme.super_block / scheme.group_size;
  const std::int64_t gpr = layout.groups_per_row;
  const std::int64_t sbpr = (gpr + per_sb - 1) / per_sb;
  std::vector<float> out(nb);
  for (std::size_t b = 0; b < nb; ++b) {
    const std::int64_t r = std::int64_t(b) / gpr, gi = std::int64_t(b) % gpr;
    out[b] = super_scales[std::size_t(r * sbpr + gi / per_sb)] * float(c[b]);
  }
  return out;
}

std::uint64_t QuantizedTensor::storage_bytes() const {
  std::uint64_t n = codes.size() + scales.size() * 4 + scale_codes.size() + super_scales.size() * 4 +
                    codebooks.size() * 4;
  n += zero_points.size() * (scheme.bits <= 8 ? 1 : 2);
  return n;
}

double QuantizedTensor::bits_per_weight() const {
  const auto n = numel();
  return n ? 8.0 * double(storage_bytes()) / double(n) : 0.0;
}

QuantizedTensor quantize_tensor(std::span<const float> x, std::span<const std::int64_t> shape,
                                const Scheme& s, int threads) {
  QuantizedTensor q;
  q.shape.assign(shape.begin(), shape.end());
  q.scheme = s;
  q.layout = block_layout(shape, s);
  const BlockLayout& L = q.layout;
  if (std::int64_t(x.size()) != L.rows * L.cols)
    fail("quantize: tensor has ", x.size(), " elements but its shape says ", L.rows * L.cols);
  // The affine min/max kernels flag non-finite values on their pass; the other kinds
  // (and super-blocks, which scan groups themselves) check up front.
  if (s.kind != SchemeKind::Affine || s.super_block) check_finite(x);
  const std::size_t rb = row_code_bytes(q);
  q.codes.assign(rb * std::size_t(L.rows), 0);
  const auto nb = std::size_t(L.num_blocks);

  if (s.kind == SchemeKind::Float) {
    std::vector<float> inv(nb, 1.0f);
    if (float_has_scale(s)) {
      const auto mm = block_minmax(x, L, threads);
      q.scales.resize(nb);
      const float fmax = float_format_max(s.float_format);
      for (std::size_t b = 0; b < nb; ++b) {
        const float a = std::max(std::fabs(mm[b].mn), std::fabs(mm[b].mx));
        q.scales[b] = a > 0.0f ? a / fmax : 1.0f;
        inv[b] = a > 0.0f ? fmax / a : 1.0f;
      }
    }
    const bool half = s.float_format == FloatFormat::F16 || s.float_format == FloatFormat::BF16;
    parallel_for(std::size_t(L.rows), threads, 16, [&](std::size_t r0, std::size_t r1) {
      std::vector<std::uint16_t> h(half ? static_cast<std::size_t>(L.cols) : 0);
      const auto& K = kernels::quant_rows();
      for (std::size_t r = r0; r < r1; ++r) {
        std::uint8_t* dst = q.codes.data() + r * rb;
        if (half) {  // a cast, no parameters: the whole row at once through the kernels
          const float* row = x.data() + r * std::size_t(L.cols);
          (s.float_format == FloatFormat::F16 ? K.fp32_to_fp16 : K.fp32_to_bf16)(row, L.cols, h.data());
          std::memcpy(dst, h.data(), rb);  // little-endian host (static_assert below)
          continue;
        }
        for_each_segment(L, std::int64_t(r), [&](std::int64_t j0, std::int64_t len, std::int64_t b) {
          const float* p = x.data() + std::int64_t(r) * L.cols + j0;
          for (std::int64_t j = 0; j < len; ++j) {
            const std::size_t o = std::size_t(j0 + j);
            switch (s.float_format) {
              case FloatFormat::F16: {
                const std::uint16_t h = fp32_to_fp16(p[j]);
                dst[2 * o] = std::uint8_t(h), dst[2 * o + 1] = std::uint8_t(h >> 8);
                break;
              }
              case FloatFormat::BF16: {
                const std::uint16_t h = fp32_to_bf16(p[j]);
                dst[2 * o] = std::uint8_t(h), dst[2 * o + 1] = std::uint8_t(h >> 8);
                break;
              }
              case FloatFormat::E4M3: dst[o] = fp32_to_fp8_e4m3fn(p[j] * inv[std::size_t(b)]); break;
              case FloatFormat::E5M2: dst[o] = fp32_to_fp8_e5m2(p[j] * inv[std::size_t(b)]); break;
            }
          }
        });
      }
    });
    return q;
  }

  if (s.kind == SchemeKind::KMeans || s.kind == SchemeKind::Grid) {
    const std::size_t K = s.kind == SchemeKind::KMeans ? (std::size_t{1} << s.bits) : s.grid.size();
    std::vector<std::vector<float>> vals(nb);
    for (std::int64_t r = 0; r < L.rows; ++r)
      for_each_segment(L, r, [&](std::int64_t j0, std::int64_t len, std::int64_t b) {
        const float* p = x.data() + r * L.cols + j0;
        vals[std::size_t(b)].insert(vals[std::size_t(b)].end(), p, p + len);
      });
    if (s.kind == SchemeKind::KMeans) {
      q.codebooks.assign(nb * K, 0.0f);
      KMeansOptions opt;
      opt.k = int(K);
      opt.seed = s.seed;
      opt.init = s.kmeans_plusplus ? KMeansInit::PlusPlus : KMeansInit::Optimal1D;
      parallel_for(nb, threads, 1, [&](std::size_t b0, std::size_t b1) {
        for (std::size_t b = b0; b < b1; ++b) {
          const auto cb = kmeans_1d(vals[b], {}, opt);
          std::copy(cb.begin(), cb.end(), q.codebooks.begin() + std::ptrdiff_t(b * K));
          for (std::size_t k = cb.size(); k < K; ++k) q.codebooks[b * K + k] = cb.empty() ? 0.0f : cb.back();
        }
      });
    } else {
      q.codebooks = s.grid;
      q.scales.resize(nb);
      for (std::size_t b = 0; b < nb; ++b) {
        float a = 0.0f;
        for (float v : vals[b]) a = std::max(a, std::fabs(v));
        q.scales[b] = a > 0.0f ? a : 1.0f;
      }
    }
    vals.clear();
    parallel_for(std::size_t(L.rows), threads, 16, [&](std::size_t r0, std::size_t r1) {
      std::vector<std::uint8_t> idx(static_cast<std::size_t>(L.cols));
      std::vector<float> tmp;
      for (std::size_t r = r0; r < r1; ++r) {
        for_each_segment(L, std::int64_t(r), [&](std::int64_t j0, std::int64_t len, std::int64_t b) {
          const float* p = x.data() + std::int64_t(r) * L.cols + j0;
          std::span<std::uint8_t> out(idx.data() + j0, std::size_t(len));
          if (s.kind == SchemeKind::KMeans) {
            assign_nearest(std::span<const float>(q.codebooks.data() + std::size_t(b) * K, K),
                           std::span<const float>(p, std::size_t(len)), out);
          } else {
            tmp.resize(std::size_t(len));
            const float inv = 1.0f / q.scales[std::size_t(b)];
            for (std::int64_t j = 0; j < len; ++j) tmp[std::size_t(j)] = p[j] * inv;
            assign_nearest(q.codebooks, tmp, out);
          }
        });
        pack_bits(idx, s.bits, std::span<std::uint8_t>(q.codes.data() + r * rb, rb));
      }
    });
    return q;
  }

  // Affine. When every block lives inside one row (groups, super-blocks, per-row
  // channels) the parameters are computed right before the row is quantized, so the
  // row is read from memory once and reused from cache; otherwise a min/max pass
  // over the whole tensor comes first.
  const IntRange range = s.range();
  std::vector<AffineParams> params(nb);
  const bool row_local = s.super_block || s.granularity == GranularityKind::Group ||
                         (s.granularity == GranularityKind::Channel && L.outer == 1 && L.inner == L.cols);
  const std::int64_t per_sb = s.super_block ? s.super_block / s.group_size : 1;
  const std::int64_t sbpr = (L.groups_per_row + per_sb - 1) / per_sb;
  std::vector<std::uint8_t> sc_codes;
  if (s.super_block) {
    q.super_scales.assign(static_cast<std::size_t>(L.rows * sbpr), 0.0f);
    sc_codes.assign(nb, 0);
  }
  if (!row_local) {
    const auto mm = block_minmax(x, L, threads);
    for (std::size_t b = 0; b < nb; ++b) params[b] = affine_from_minmax(s, range, mm[b].mn, mm[b].mx);
  }
  const std::int64_t row_group = s.granularity == GranularityKind::Group ? L.group_size : L.cols;
  const std::int64_t row_blocks = s.granularity == GranularityKind::Group ? L.groups_per_row : 1;
  auto compute_row_params = [&](std::size_t r, std::vector<float>& mn, std::vector<float>& mx) {
    const float* row = x.data() + r * std::size_t(L.cols);
    if (s.super_block) {
      quantize_superblock_row(s, range, row, L.cols, std::int64_t(r) * L.groups_per_row, std::int64_t(r) * sbpr, q,
                              sc_codes, params);
      return;
    }
    mn.resize(std::size_t(row_blocks)), mx.resize(std::size_t(row_blocks));
    if (!kernels::quant_rows().minmax_groups(row, L.cols, row_group, mn.data(), mx.data()))
      fail("row ", r, " has NaN or Inf; quantization needs finite values");
    for (std::int64_t gi = 0; gi < row_blocks; ++gi)
      params[std::size_t(std::int64_t(r) * row_blocks + gi)] = affine_from_minmax(s, range, mn[std::size_t(gi)], mx[std::size_t(gi)]);
  };
  // Nearest-even codes of <= 8 bits go through the row kernels (AVX2 when present);
  // anything else (stochastic rounding, 16-bit codes, irregular segments) through the
  // per-element definition. Both give the same codes: tests/kernels proves the kernels.
  const bool kernel_ok = s.rounding == Rounding::NearestEven && s.bits <= 8;
  parallel_for(std::size_t(L.rows), threads, 16, [&](std::size_t r0, std::size_t r1) {
    std::vector<std::int32_t> codes(static_cast<std::size_t>(L.cols));
    std::vector<std::uint8_t> tmp(static_cast<std::size_t>(L.cols));
    std::vector<std::int64_t> blocks;
    std::vector<AffineParams> rp;
    std::vector<float> mn, mx;
    const auto& K = kernels::quant_rows();
    for (std::size_t r = r0; r < r1; ++r) {
      if (row_local) compute_row_params(r, mn, mx);
      const float* row = x.data() + r * std::size_t(L.cols);
      std::uint8_t* dst = q.codes.data() + r * rb;
      const std::int64_t seg = kernel_ok ? regular_segments(L, std::int64_t(r), blocks) : 0;
      if (seg > 0) {
        rp.resize(blocks.size());
        for (std::size_t k = 0; k < blocks.size(); ++k) rp[k] = params[std::size_t(blocks[k])];
        K.quantize_groups(row, L.cols, seg, rp.data(), range, tmp.data());
        pack_bits(tmp, s.bits, std::span<std::uint8_t>(dst, rb));
        continue;
      }
      for_each_segment(L, std::int64_t(r), [&](std::int64_t j0, std::int64_t len, std::int64_t b) {
        const std::uint64_t index0 = std::uint64_t(r) * std::uint64_t(L.cols) + std::uint64_t(j0);
        quantize_span(std::span<const float>(row + j0, std::size_t(len)), params[std::size_t(b)], range, s.rounding,
                      std::span<std::int32_t>(codes.data() + j0, std::size_t(len)), s.seed, index0);
      });
      store_row_codes(q, codes, dst, tmp);
    }
  });
  if (s.super_block) {
    q.scale_codes.assign(packed_bytes(nb, s.scale_bits), 0);
    pack_bits(sc_codes, s.scale_bits, q.scale_codes);
  } else {
    q.scales.resize(nb);
    for (std::size_t b = 0; b < nb; ++b) q.scales[b] = params[b].scale;
  }
  if (!s.symmetric) {
    q.zero_points.resize(nb);
    for (std::size_t b = 0; b < nb; ++b) q.zero_points[b] = params[b].zero_point;
  }
  return q;
}

void unpack_row_codes(const QuantizedTensor& q, std::int64_t row, std::span<std::int32_t> out) {
  const Scheme& s = q.scheme;
  const std::size_t cols = std::size_t(q.layout.cols);
  if (out.size() < cols) fail("unpack_row_codes: output too short");
  const std::size_t rb = row_code_bytes(q);
  const std::uint8_t* src = q.codes.data() + std::size_t(row) * rb;
  const bool sign = s.kind == SchemeKind::Affine && s.is_signed;
  if (s.bits == 16) {
    for (std::size_t j = 0; j < cols; ++j) {
      const std::uint16_t u = std::uint16_t(src[2 * j] | (src[2 * j + 1] << 8));
      out[j] = sign ? std::int32_t(std::int16_t(u)) : std::int32_t(u);
    }
    return;
  }
  std::vector<std::uint8_t> tmp(cols);
  unpack_bits(std::span<const std::uint8_t>(src, rb), s.bits, tmp);
  const std::int32_t half = 1 << (s.bits - 1);
  for (std::size_t j = 0; j < cols; ++j) {
    std::int32_t v = tmp[j];
    if (sign && v >= half) v -= 2 * half;
    out[j] = v;
  }
}

void dequantize_tensor(const QuantizedTensor& q, std::span<float> out, int threads) {
  const BlockLayout& L = q.layout;
  const Scheme& s = q.scheme;
  if (std::int64_t(out.size()) != L.rows * L.cols) fail("dequantize: output has the wrong size");
  const std::size_t rb = row_code_bytes(q);
  // Parameters are looked up per block as rows need them (a g32 tensor has millions of
  // blocks; materialising them all would cost a pass over memory of its own).
  const std::vector<float> sb_scales = q.super_scales.empty() ? std::vector<float>{} : q.block_scales();
  const std::vector<float>& scales = q.super_scales.empty() ? q.scales : sb_scales;
  const std::int32_t default_zero = s.is_signed ? 0 : (s.symmetric ? 1 << (s.bits - 1) : 0);
  auto block_param = [&](std::size_t b) {
    AffineParams p;
    p.scale = scales[b];
    p.zero_point = q.zero_points.empty() ? default_zero : q.zero_points[b];
    return p;
  };
  const bool kernel_ok = s.kind == SchemeKind::Affine && s.bits <= 8;
  const IntRange range = s.kind == SchemeKind::Affine ? s.range() : IntRange{};
  parallel_for(std::size_t(L.rows), threads, 16, [&](std::size_t r0, std::size_t r1) {
    std::vector<std::int32_t> codes(static_cast<std::size_t>(L.cols));
    std::vector<std::uint8_t> tmp(static_cast<std::size_t>(L.cols));
    std::vector<std::int64_t> blocks;
    std::vector<AffineParams> rp;
    std::vector<std::uint16_t> h;
    const auto& K = kernels::quant_rows();
    for (std::size_t r = r0; r < r1; ++r) {
      float* dst = out.data() + r * std::size_t(L.cols);
      const std::uint8_t* src = q.codes.data() + r * rb;
      const std::int64_t seg = kernel_ok ? regular_segments(L, std::int64_t(r), blocks) : 0;
      if (seg > 0) {
        rp.resize(blocks.size());
        for (std::size_t k = 0; k < blocks.size(); ++k) rp[k] = block_param(std::size_t(blocks[k]));
        // 8-bit codes are stored one per byte already: no unpack pass.
        const std::uint8_t* codes8 = src;
        if (s.bits != 8) {
          unpack_bits(std::span<const std::uint8_t>(src, rb), s.bits, tmp);
          codes8 = tmp.data();
        }
        K.dequantize_groups(codes8, L.cols, seg, rp.data(), range, dst);
        continue;
      }
      if (s.kind == SchemeKind::Float && (s.float_format == FloatFormat::F16 || s.float_format == FloatFormat::BF16)) {
        h.resize(static_cast<std::size_t>(L.cols));
        std::memcpy(h.data(), src, rb);
        (s.float_format == FloatFormat::F16 ? K.fp16_to_fp32 : K.bf16_to_fp32)(h.data(), L.cols, dst);
        continue;
      }
      if (s.kind != SchemeKind::Float) unpack_row_codes(q, std::int64_t(r), codes);
      for_each_segment(L, std::int64_t(r), [&](std::int64_t j0, std::int64_t len, std::int64_t b) {
        const auto bb = std::size_t(b);
        for (std::int64_t j = j0; j < j0 + len; ++j) {
          const auto jj = std::size_t(j);
          switch (s.kind) {
            case SchemeKind::Affine: dst[jj] = dequantize_value(codes[jj], block_param(bb)); break;
            case SchemeKind::KMeans:
              dst[jj] = q.codebooks[(bb << s.bits) + std::size_t(codes[jj])];
              break;
            case SchemeKind::Grid: dst[jj] = q.scales[bb] * q.codebooks[std::size_t(codes[jj])]; break;
            case SchemeKind::Float: {
              switch (s.float_format) {
                case FloatFormat::F16: dst[jj] = fp16_to_fp32(std::uint16_t(src[2 * jj] | (src[2 * jj + 1] << 8))); break;
                case FloatFormat::BF16: dst[jj] = bf16_to_fp32(std::uint16_t(src[2 * jj] | (src[2 * jj + 1] << 8))); break;
                case FloatFormat::E4M3: dst[jj] = q.scales[bb] * fp8_e4m3fn_to_fp32(src[jj]); break;
                case FloatFormat::E5M2: dst[jj] = q.scales[bb] * fp8_e5m2_to_fp32(src[jj]); break;
              }
              break;
            }
          }
        }
      });
    }
  });
}

}  // namespace lowbit
