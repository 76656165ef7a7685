// Linear layers of the runtime (include/lowbit/linear.h): decode the weight once through
// the format's reference decoder, then y = x W^T + b by the fp32 matmul kernel, with the
// activations first rounded like llama.cpp's CPU backend when the weight came from ggml.
#include "lowbit/linear.h"

#include <algorithm>
#include <cstring>

#include "formats/ggml_blocks.h"
#include "kernels/gemm_f32.h"
#include "kernels/ggml_dot.h"
#include "kernels/ggml_gemm_x8.h"
#include "kernels/quant_rows.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/parallel.h"
#include "model/ggml_cpu_activations.h"

namespace lowbit {
namespace {

// clear() keeps the capacity; a quantized model must give the memory back.
template <class V>
void release(V& v) {
  V().swap(v);
}

}  // namespace

Linear Linear::from_ggml(std::string name, ggml::Type type, std::span<const std::byte> data, std::int64_t rows,
                         std::int64_t cols, ActivationRounding rounding,
                         const std::function<void(std::span<const std::byte>)>& done) {
  const auto& tr = ggml::traits(type);
  if (!tr.to_float) fail(name, ": ggml type ", tr.name, " cannot be decoded by lowbit");
  if (cols % tr.block_size) fail(name, ": rows of ", cols, " values are not whole ", tr.name, " blocks");
  const std::size_t row_bytes = ggml::row_size(type, cols).value_or(0);
  if (data.size() != row_bytes * static_cast<std::size_t>(rows))
    fail(name, ": ", data.size(), " bytes of data for ", rows, " x ", cols, " ", tr.name, " weights (want ",
         row_bytes * static_cast<std::size_t>(rows), ")");
  Linear l;
  l.name_ = std::move(name);
  l.rows_ = rows;
  l.cols_ = cols;
  l.type_ = type;
  l.rounding_ = rounding;
  // Everything read from `data` besides the decode comes first, so that the decode can
  // hand each finished piece to `done` (a mapped file gives those pages back).
  const bool keep_blocks = rounding == ActivationRounding::GgmlCpu && kernels::ggml_dot_kernel(type);
  // ggml's own integer dot products in its order: keep the blocks, skip the fp32 path.
  // Q4_0 and Q4_K in eight-row panels, as llama.cpp's CPU repack buffer holds them by
  // default (on the same condition, rows % 8 == 0); the rest keep ggml's rows and
  // vec_dot order.
  l.panels_x8_ = keep_blocks && kernels::ggml_x8_by_default(type) && rows % 8 == 0;
  if (l.panels_x8_)
    l.blocks_ = kernels::ggml_repack_x8(type, data, rows, cols);
  else if (keep_blocks)
    l.blocks_.assign(data.begin(), data.end());
  if (!keep_blocks && rounding == ActivationRounding::GgmlCpu && (type == ggml::Type::Q4_1 || type == ggml::Type::Q5_1)) {
    // Both blocks start with fp16 d then fp16 m; ggml pairs m with the activation
    // block's stored sum, so the correction in forward() needs m per block.
    const std::size_t bsize = tr.type_size;
    const std::int64_t nb = rows * cols / 32;
    l.block_mins_.resize(static_cast<std::size_t>(nb));
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    for (std::int64_t b = 0; b < nb; ++b) {
      std::uint16_t m;
      std::memcpy(&m, p + static_cast<std::size_t>(b) * bsize + 2, 2);
      l.block_mins_[static_cast<std::size_t>(b)] = fp16_to_fp32(m);
    }
  }
  if (rounding == ActivationRounding::GgmlCpu && type == ggml::Type::F16 && cols % 8 == 0) {
    l.half_weight_.resize(static_cast<std::size_t>(rows * cols));
    std::memcpy(l.half_weight_.data(), data.data(), data.size());
  }
  if (rounding == ActivationRounding::GgmlCpu) (void)model::ggml_vec_dot_type(type);  // fails early if unsupported
  if (keep_blocks) {
    // The blocks are the weight; an fp32 copy (four times a Q8_0 file) is decoded only if
    // use_exact_f32() or decoded_weight() asks for it.
    if (done) done(data);
    return l;
  }
  l.weight_.resize(static_cast<std::size_t>(rows * cols));
  ggml::dequantize_pieces(type, data, l.weight_.data(), rows * cols, hardware_threads(), done);
  return l;
}

Linear Linear::from_f32(std::string name, std::vector<float> weight, std::int64_t rows, std::int64_t cols) {
  if (static_cast<std::int64_t>(weight.size()) != rows * cols)
    fail(name, ": ", weight.size(), " weights for a ", rows, " x ", cols, " matrix");
  Linear l;
  l.name_ = std::move(name);
  l.rows_ = rows;
  l.cols_ = cols;
  l.weight_ = std::move(weight);
  return l;
}

Linear Linear::from_rows(std::string name, std::shared_ptr<const WeightRows> rows) {
  if (!rows) fail(name, ": no weight");
  Linear l;
  l.name_ = std::move(name);
  l.rows_ = rows->rows();
  l.cols_ = rows->cols();
  l.set_weight_rows(std::move(rows));
  return l;
}

void Linear::set_bias(std::vector<float> bias) {
  if (!bias.empty() && static_cast<std::int64_t>(bias.size()) != rows_)
    fail(name_, ": bias of ", bias.size(), " values for ", rows_, " outputs");
  bias_ = std::move(bias);
}

void Linear::set_weight_f32(std::vector<float> weight) {
  if (static_cast<std::int64_t>(weight.size()) != rows_ * cols_)
    fail(name_, ": replacement weight of ", weight.size(), " values for ", rows_, " x ", cols_);
  weight_ = std::move(weight);
  rows_form_.reset();
  type_ = ggml::Type::F32;
  rounding_ = ActivationRounding::Exact;
  release(block_mins_);
  release(blocks_);
  release(half_weight_);
}

void Linear::use_exact_f32() {
  if (rows_form_) return;  // decoded to fp32 and run with fp32 activations already
  if (weight_.empty() && !blocks_.empty()) weight_ = decoded_weight();
  type_ = ggml::Type::F32;
  rounding_ = ActivationRounding::Exact;
  release(block_mins_);
  release(blocks_);
  release(half_weight_);
}

void Linear::set_weight_rows(std::shared_ptr<const WeightRows> rows) {
  if (!rows || rows->rows() != rows_ || rows->cols() != cols_)
    fail(name_, ": compact weight of ", rows ? rows->rows() : 0, " x ", rows ? rows->cols() : 0, " for ", rows_, " x ",
         cols_);
  release(weight_);
  type_ = ggml::Type::F32;
  rounding_ = ActivationRounding::Exact;
  release(block_mins_);
  release(blocks_);
  release(half_weight_);
  rows_form_ = std::move(rows);
}

std::span<const float> Linear::weight_f32() const {
  if (rows_form_) fail(name_, ": the weight is held compact; decode it with decoded_weight()");
  if (weight_.empty() && !blocks_.empty())
    fail(name_, ": the weight is held as ", ggml::traits(type_).name, " blocks; decode it with decoded_weight()");
  return weight_;
}

std::vector<float> Linear::decoded_weight() const {
  if (rows_form_) return decode_all(*rows_form_);
  if (!weight_.empty() || blocks_.empty()) return weight_;
  std::vector<float> w(static_cast<std::size_t>(rows_ * cols_));
  parallel_for(static_cast<std::size_t>(rows_), hardware_threads(), 64, [&](std::size_t b, std::size_t e) {
    decode_rows(static_cast<std::int64_t>(b), static_cast<std::int64_t>(e), w.data() + b * static_cast<std::size_t>(cols_));
  });
  return w;
}

void Linear::decode_rows(std::int64_t r0, std::int64_t r1, float* out) const {
  if (r0 < 0 || r1 > rows_ || r0 > r1) fail(name_, ": rows ", r0, "..", r1, " of ", rows_);
  const auto c = static_cast<std::size_t>(cols_);
  if (rows_form_) {
    rows_form_->decode(r0, r1, out);
  } else if (!weight_.empty() || blocks_.empty()) {
    std::memcpy(out, weight_.data() + static_cast<std::size_t>(r0) * c, static_cast<std::size_t>(r1 - r0) * c * sizeof(float));
  } else {
    // The same row decoder the fp32 copy came from, on the row's blocks (rebuilt from
    // its panel first), so every value has the same bits.
    const std::size_t row_bytes = ggml::row_size(type_, cols_).value_or(0);
    std::vector<std::byte> row(panels_x8_ ? row_bytes : 0);
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::byte* src = blocks_.data() + static_cast<std::size_t>(r) * row_bytes;
      if (panels_x8_) {
        kernels::ggml_x8_row(type_, blocks_.data(), cols_, r, row.data());
        src = row.data();
      }
      ggml::traits(type_).to_float(src, out + static_cast<std::size_t>(r - r0) * c, cols_);
    }
  }
}

void Linear::set_activation_quant(std::optional<calib::ActivationQuantizer> q) {
  if (q && (!blocks_.empty() || type_ != ggml::Type::F32))
    fail(name_, ": activation quantization needs fp32 weights (set_weight_f32 first)");
  act_quant_ = std::move(q);
}

ggml::Type Linear::input_blocks_type() const {
  return blocks_.empty() ? ggml::Type::F32 : model::ggml_vec_dot_type(type_);
}

std::vector<std::byte> Linear::quantize_input(const float* x, std::int64_t m, int threads) const {
  if (blocks_.empty()) fail("Linear ", name_, ": quantize_input on a weight not held as ggml blocks");
  return model::ggml_quantize_activations(input_blocks_type(), x, m, cols_, threads);
}

void Linear::forward_blocks(std::span<const std::byte> xq, std::int64_t m, float* y, int threads) const {
  const std::size_t x_row_bytes = blocks_.empty() ? 0 : ggml::row_size(input_blocks_type(), cols_).value();
  if (blocks_.empty() || m < 1 || xq.size() != x_row_bytes * static_cast<std::size_t>(m))
    fail("Linear ", name_, ": forward_blocks with ", xq.size(), " bytes for ", m, " rows of ", x_row_bytes);
  if (panels_x8_) {
    kernels::ggml_mul_mat_x8(type_, false, blocks_.data(), blocks_.size() / static_cast<std::size_t>(rows_ / 8), rows_,
                             xq.data(), x_row_bytes, m, cols_, y, threads);
  } else if (kernels::ggml_dot_tile_k_kernel(type_)) {
    kernels::ggml_mul_mat_k(type_, false, blocks_.data(), blocks_.size() / static_cast<std::size_t>(rows_), rows_,
                            xq.data(), x_row_bytes, m, cols_, y, threads);
  } else {
    kernels::ggml_mul_mat(kernels::ggml_dot_kernel_for_batch(type_, m), blocks_.data(),
                          blocks_.size() / static_cast<std::size_t>(rows_), rows_, xq.data(), x_row_bytes, m, cols_, y,
                          threads, kernels::ggml_dot_tile_kernel(type_));
  }
  add_bias(y, m);
}

void Linear::forward(const float* x, std::int64_t m, float* y, int threads) const {
  if (!blocks_.empty()) {
    forward_blocks(quantize_input(x, m, threads), m, y, threads);
    return;
  }
  if (rounding_ == ActivationRounding::GgmlCpu && (type_ == ggml::Type::F32 || type_ == ggml::Type::F16) &&
      cols_ % 8 == 0) {
    // llamafile's tinyBLAS takes fp32 x fp32 and fp16 x fp16 products in ggml. fp16
    // weights meet the activations cast to fp16 (ggml's casts, bit for bit), both widened
    // in the tile; fp16 weights held widened meet them rounded and widened up front.
    if (!half_weight_.empty()) {
      std::vector<std::uint16_t> xh(static_cast<std::size_t>(m * cols_));
      kernels::quant_rows().fp32_to_fp16(x, m * cols_, xh.data());
      kernels::ggml_mul_mat_tinyblas(half_weight_.data(), rows_, xh.data(), m, cols_, y, threads);
      add_bias(y, m);
      return;
    }
    std::vector<float> rounded;
    if (type_ == ggml::Type::F16) {
      rounded.resize(static_cast<std::size_t>(m * cols_));
      model::ggml_round_activations(type_, x, m, cols_, rounded.data(), nullptr);
    }
    const float* xin = rounded.empty() ? x : rounded.data();
    kernels::ggml_mul_mat_tinyblas(weight_.data(), rows_, xin, m, cols_, y, threads);
    add_bias(y, m);
    return;
  }
  const float* xin = x;
  std::vector<float> rounded, sums;
  if (act_quant_) {
    const auto n = static_cast<std::size_t>(m), c = static_cast<std::size_t>(cols_);
    rounded = calib::dequantize_activation(calib::quantize_activation({x, n * c}, n, c, *act_quant_));
    xin = rounded.data();
  }
  if (rounding_ == ActivationRounding::GgmlCpu && type_ != ggml::Type::F32) {
    rounded.resize(static_cast<std::size_t>(m * cols_));
    if (!block_mins_.empty()) sums.resize(static_cast<std::size_t>(m * cols_ / 32));
    model::ggml_round_activations(type_, x, m, cols_, rounded.data(), sums.data());
    xin = rounded.data();
  }
  if (rows_form_) {
    forward_compact(xin, m, y, threads);
    add_bias(y, m);
    return;
  }
  kernels::gemm_f32_nt(xin, weight_.data(), y, m, rows_, cols_, threads);
  if (!block_mins_.empty()) {
    // ggml adds m_w * s_x per block, s_x being the activation block's fp16 sum; the
    // matmul above added m_w * (exact sum). The difference is a small [m, cols/32] x
    // [rows, cols/32]^T product.
    const std::int64_t nb = cols_ / 32;
    std::vector<float> delta(static_cast<std::size_t>(m * nb));
    for (std::int64_t r = 0; r < m; ++r)
      for (std::int64_t b = 0; b < nb; ++b) {
        float s = 0.0f;
        for (int j = 0; j < 32; ++j) s += xin[r * cols_ + b * 32 + j];
        delta[static_cast<std::size_t>(r * nb + b)] = sums[static_cast<std::size_t>(r * nb + b)] - s;
      }
    std::vector<float> corr(static_cast<std::size_t>(m * rows_));
    kernels::gemm_f32_nt(delta.data(), block_mins_.data(), corr.data(), m, rows_, nb, threads);
    for (std::size_t i = 0; i < corr.size(); ++i) y[i] += corr[i];
  }
  add_bias(y, m);
}

void Linear::forward_compact(const float* x, std::int64_t m, float* y, int threads) const {
  // Blocks of rows decoded into a buffer that stays in L2 while the kernel runs them
  // against every activation row; blocks go to threads in fixed chunks.
  const kernels::GemmF32NtFn fn = kernels::gemm_f32_nt_kernel();
  const std::int64_t block = std::clamp<std::int64_t>((65536 / std::max<std::int64_t>(cols_, 1)) & ~std::int64_t{3}, 4, 64);
  const std::int64_t nblocks = (rows_ + block - 1) / block;
  if (m * rows_ * cols_ < kParallelMinWork) threads = 1;
  parallel_for(static_cast<std::size_t>(nblocks), threads, 1, [&](std::size_t b, std::size_t e) {
    std::vector<float> w(static_cast<std::size_t>(block * cols_)), yb(static_cast<std::size_t>(block * m));
    for (auto bi = static_cast<std::int64_t>(b); bi < static_cast<std::int64_t>(e); ++bi) {
      const std::int64_t r0 = bi * block, n = std::min(rows_, r0 + block) - r0;
      rows_form_->decode(r0, r0 + n, w.data());
      fn(x, w.data(), yb.data(), m, n, cols_, 0, n);
      for (std::int64_t i = 0; i < m; ++i)
        std::memcpy(y + i * rows_ + r0, yb.data() + i * n, static_cast<std::size_t>(n) * sizeof(float));
    }
  });
}

void Linear::add_bias(float* y, std::int64_t m) const {
  if (!bias_.empty())
    for (std::int64_t r = 0; r < m; ++r)
      for (std::int64_t j = 0; j < rows_; ++j) y[r * rows_ + j] += bias_[static_cast<std::size_t>(j)];
}

}  // namespace lowbit
