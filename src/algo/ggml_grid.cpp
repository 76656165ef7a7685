// GPTQ inside ggml block types (src/algo/ggml_grid.h). A block's header is fitted when
// GPTQ reaches the block's first group, by llama.cpp's quantizer (imatrix path when an
// importance vector is given) on that block alone; each group's grid is then read back
// from the header exactly as ggml's dequantizer computes it, so that the packed bytes
// decode to GPTQ's own dequantized weights bit for bit.
#include "algo/ggml_grid.h"

#include <algorithm>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"

namespace lowbit::algo {

using ggml::Type;

bool ggml_grid_supported(Type t) {
  switch (t) {
    case Type::Q4_0: case Type::Q4_1: case Type::Q5_0: case Type::Q5_1: case Type::Q8_0:
    case Type::Q4_K: case Type::Q5_K: case Type::Q6_K:
      return true;
    default:
      return false;
  }
}

GgmlGrid::GgmlGrid(Type t, std::int64_t rows, std::int64_t cols, std::vector<float> importance)
    : type_(t), rows_(rows), cols_(cols), importance_(std::move(importance)) {
  const auto& tr = ggml::traits(t);
  if (!ggml_grid_supported(t)) fail("GPTQ cannot quantize inside ggml type ", tr.name, " (its codes and scales interlock)");
  block_n_ = tr.block_size;
  block_bytes_ = tr.type_size;
  const auto rb = ggml::row_size(t, cols);
  if (!rb || rows <= 0) fail("ggml type ", tr.name, " needs rows of a multiple of ", block_n_, " weights, not ", cols);
  row_bytes_ = *rb;
  if (!importance_.empty() && static_cast<std::int64_t>(importance_.size()) != cols)
    fail("ggml grid: ", importance_.size(), " importance values for ", cols, " columns");
  bytes_.resize(row_bytes_ * static_cast<std::size_t>(rows));
}

namespace {

int grid_bits(Type t) {
  switch (t) {
    case Type::Q4_0: case Type::Q4_1: case Type::Q4_K: return 4;
    case Type::Q5_0: case Type::Q5_1: case Type::Q5_K: return 5;
    case Type::Q6_K: return 6;
    case Type::Q8_0: return 8;
    default: return std::clamp(static_cast<int>(ggml::traits(t).bits_per_weight()), 2, 8);
  }
}

}  // namespace

AwqProxy ggml_awq_proxy(Type t) {
  const bool has_min = t == Type::Q4_1 || t == Type::Q5_1 || t == Type::Q2_K ||
                       t == Type::Q4_K || t == Type::Q5_K;
  return {grid_bits(t), 32, has_min};
}

int GgmlGrid::bits() const { return grid_bits(type_); }

std::int64_t GgmlGrid::group_size() const { return type_ == Type::Q6_K ? 16 : 32; }

GptqOptions GgmlGrid::options(GptqOptions base) const {
  base.bits = bits();
  base.group_size = group_size();
  base.mse = false;
  auto* self = const_cast<GgmlGrid*>(this);
  base.fitter = [self](std::int64_t row, std::int64_t first_col, const float* v) { return self->fit(row, first_col, v); };
  return base;
}

std::byte* GgmlGrid::block(std::int64_t row, std::int64_t first_col) {
  return bytes_.data() + static_cast<std::size_t>(row) * row_bytes_ +
         static_cast<std::size_t>(first_col / block_n_) * block_bytes_;
}

namespace {

template <class B>
B load(const std::byte* p) {
  B b;
  std::memcpy(&b, p, sizeof(B));
  return b;
}

GroupGrid zero_grid(float d, float zero) { return {d, zero, 0.0f, false}; }
GroupGrid offset_grid(float scale, float offset) { return {scale, 0.0f, offset, true}; }

// The grid of group g of a block, with ggml's dequantizer's float operations.
GroupGrid grid_of_block(Type t, const std::byte* p, int g) {
  switch (t) {
    case Type::Q4_0: return zero_grid(fp16_to_fp32(load<ggml::block_q4_0>(p).d), 8);
    case Type::Q5_0: return zero_grid(fp16_to_fp32(load<ggml::block_q5_0>(p).d), 16);
    case Type::Q8_0: return zero_grid(fp16_to_fp32(load<ggml::block_q8_0>(p).d), 128);
    case Type::Q4_1: {
      const auto b = load<ggml::block_q4_1>(p);
      return offset_grid(fp16_to_fp32(b.d), fp16_to_fp32(b.m));
    }
    case Type::Q5_1: {
      const auto b = load<ggml::block_q5_1>(p);
      return offset_grid(fp16_to_fp32(b.d), fp16_to_fp32(b.m));
    }
    case Type::Q4_K: case Type::Q5_K: {
      // Q4_K and Q5_K share the header layout (d, dmin, 12 scale bytes) at the front.
      const auto b = load<ggml::block_q4_K>(p);
      std::uint8_t sc, m;
      ggml::get_scale_min(g, b.scales, sc, m);
      // ggml: d1 * q - m1; scale * q + offset with offset = -m1 is the same float.
      return offset_grid(fp16_to_fp32(b.d) * static_cast<float>(sc), -(fp16_to_fp32(b.dmin) * static_cast<float>(m)));
    }
    case Type::Q6_K: {
      const auto b = load<ggml::block_q6_K>(p);
      return zero_grid(fp16_to_fp32(b.d) * static_cast<float>(b.scales[g]), 32);
    }
    default: fail("ggml grid: unsupported type");
  }
}

void put_q5_high(std::uint8_t* qh, const std::uint8_t* c) {
  std::uint32_t h = 0;
  for (int j = 0; j < 32; ++j) h |= static_cast<std::uint32_t>(c[j] >> 4) << j;
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<std::uint8_t>(h >> (8 * k));
}

// Writes the block's 32 (legacy) or 256 (k-quant) codes into its code bits.
void pack_block(Type t, std::byte* p, const std::uint8_t* c) {
  switch (t) {
    case Type::Q4_0: case Type::Q4_1: {
      auto* qs = reinterpret_cast<std::uint8_t*>(p) + (t == Type::Q4_0 ? 2 : 4);
      for (int j = 0; j < 16; ++j) qs[j] = static_cast<std::uint8_t>(c[j] | (c[j + 16] << 4));
      return;
    }
    case Type::Q5_0: case Type::Q5_1: {
      auto* qh = reinterpret_cast<std::uint8_t*>(p) + (t == Type::Q5_0 ? 2 : 4);
      put_q5_high(qh, c);
      for (int j = 0; j < 16; ++j) qh[4 + j] = static_cast<std::uint8_t>((c[j] & 15) | ((c[j + 16] & 15) << 4));
      return;
    }
    case Type::Q8_0: {
      auto b = load<ggml::block_q8_0>(p);
      for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<std::int8_t>(static_cast<int>(c[j]) - 128);
      std::memcpy(p, &b, sizeof b);
      return;
    }
    case Type::Q4_K: {
      auto b = load<ggml::block_q4_K>(p);
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < 32; ++l) b.qs[32 * k + l] = static_cast<std::uint8_t>(c[64 * k + l] | (c[64 * k + 32 + l] << 4));
      std::memcpy(p, &b, sizeof b);
      return;
    }
    case Type::Q5_K: {
      auto b = load<ggml::block_q5_K>(p);
      std::memset(b.qh, 0, sizeof b.qh);
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < 32; ++l) {
          const std::uint8_t lo = c[64 * k + l], hi = c[64 * k + 32 + l];
          b.qs[32 * k + l] = static_cast<std::uint8_t>((lo & 15) | ((hi & 15) << 4));
          b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | ((lo >> 4) << (2 * k)) | ((hi >> 4) << (2 * k + 1)));
        }
      std::memcpy(p, &b, sizeof b);
      return;
    }
    case Type::Q6_K: {
      auto b = load<ggml::block_q6_K>(p);
      for (int n = 0; n < 2; ++n) {
        std::uint8_t* ql = b.ql + 64 * n;
        std::uint8_t* qh = b.qh + 32 * n;
        const std::uint8_t* q = c + 128 * n;
        for (int l = 0; l < 32; ++l) {
          const int c1 = q[l], c2 = q[l + 32], c3 = q[l + 64], c4 = q[l + 96];
          ql[l] = static_cast<std::uint8_t>((c1 & 15) | ((c3 & 15) << 4));
          ql[l + 32] = static_cast<std::uint8_t>((c2 & 15) | ((c4 & 15) << 4));
          qh[l] = static_cast<std::uint8_t>((c1 >> 4) | ((c2 >> 4) << 2) | ((c3 >> 4) << 4) | ((c4 >> 4) << 6));
        }
      }
      std::memcpy(p, &b, sizeof b);
      return;
    }
    default: fail("ggml grid: unsupported type");
  }
}

}  // namespace

GroupGrid GgmlGrid::fit(std::int64_t row, std::int64_t first_col, const float* row_values) {
  std::byte* b = block(row, first_col);
  if (first_col % block_n_ == 0)
    ggml::quantize_rows(type_, row_values + first_col, b, 1, block_n_,
                        importance_.empty() ? nullptr : importance_.data() + first_col, 1);
  return grid_of_block(type_, b, static_cast<int>((first_col % block_n_) / group_size()));
}

std::vector<std::byte> GgmlGrid::pack(const GptqResult& r) {
  if (r.rows != rows_ || r.cols != cols_) fail("ggml grid: a ", r.rows, " x ", r.cols, " result for ", rows_, " x ", cols_);
  for (std::int64_t i = 0; i < rows_; ++i)
    for (std::int64_t c0 = 0; c0 < cols_; c0 += block_n_)
      pack_block(type_, block(i, c0), r.codes.data() + i * cols_ + c0);
  return bytes_;
}

}  // namespace lowbit::algo
