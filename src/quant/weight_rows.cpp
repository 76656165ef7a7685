// The compact weight forms of include/lowbit/weight_rows.h. Each decode is the formula
// its quantizer used for the dequantized values (gptq.cpp's quantize(), awq.cpp's and
// hqq.cpp's scale * (q - zero), squeezellm.cpp's codebook lookup, ggml's dequantize), so
// decodes_to() can demand equality before a Linear drops its fp32 copy.
#include "lowbit/weight_rows.h"

#include <algorithm>

#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/gptq.h"
#include "lowbit/squeezellm.h"

namespace lowbit {
namespace {

class GridRows final : public WeightRows {
 public:
  GridRows(std::shared_ptr<const GptqResult> r, bool fp16_scales) : r_(std::move(r)), fp16_(fp16_scales) {
    const auto n = static_cast<std::size_t>(r_->rows * r_->cols);
    if (r_->codes.size() != n || r_->g_idx.size() != static_cast<std::size_t>(r_->cols) ||
        r_->scales.size() != static_cast<std::size_t>(r_->rows * r_->groups) || r_->zeros.size() != r_->scales.size() ||
        (!r_->offsets.empty() && r_->offsets.size() != r_->scales.size()))
      fail("grid_weight_rows: codes, g_idx and grids do not fit ", r_->rows, " x ", r_->cols, " in ", r_->groups,
           " groups");
  }
  std::int64_t rows() const override { return r_->rows; }
  std::int64_t cols() const override { return r_->cols; }
  std::size_t bytes() const override {
    return r_->codes.size() + 4 * (r_->scales.size() + r_->zeros.size() + r_->offsets.size() + r_->g_idx.size());
  }
  void decode(std::int64_t r0, std::int64_t r1, float* out) const override {
    const auto& r = *r_;
    for (std::int64_t o = r0; o < r1; ++o) {
      const std::uint8_t* q = r.codes.data() + o * r.cols;
      const std::size_t g0 = static_cast<std::size_t>(o * r.groups);
      for (std::int64_t i = 0; i < r.cols; ++i) {
        const std::size_t gi = g0 + static_cast<std::size_t>(r.g_idx[static_cast<std::size_t>(i)]);
        const float s = fp16_ ? fp16_to_fp32(fp32_to_fp16(r.scales[gi])) : r.scales[gi];
        const float code = static_cast<float>(q[i]);
        // Offset groups have zero 0 and the others offset 0 (GroupGrid).
        const float off = r.offsets.empty() ? 0.0f : r.offsets[gi];
        *out++ = off != 0.0f ? s * code + off : s * (code - r.zeros[gi]);
      }
    }
  }

 private:
  std::shared_ptr<const GptqResult> r_;
  bool fp16_;
};

class CodebookRows final : public WeightRows {
 public:
  CodebookRows(std::shared_ptr<const GptqResult> codes, const SqueezeLlmResult& k)
      : codes_(std::move(codes)), books_(k.codebooks), outliers_(k.outliers), values_(k.outlier_values) {
    if (codes_->codes.size() != static_cast<std::size_t>(codes_->rows * codes_->cols) || codes_->rows == 0 ||
        books_.size() % static_cast<std::size_t>(codes_->rows) || outliers_.size() != values_.size())
      fail("codebook_weight_rows: codes, codebooks and outliers do not fit ", codes_->rows, " x ", codes_->cols);
    per_row_ = books_.size() / static_cast<std::size_t>(codes_->rows);
  }
  std::int64_t rows() const override { return codes_->rows; }
  std::int64_t cols() const override { return codes_->cols; }
  std::size_t bytes() const override { return codes_->codes.size() + 4 * books_.size() + 12 * outliers_.size(); }
  void decode(std::int64_t r0, std::int64_t r1, float* out) const override {
    const std::int64_t c = codes_->cols;
    for (std::int64_t o = r0; o < r1; ++o) {
      const float* book = books_.data() + static_cast<std::size_t>(o) * per_row_;
      const std::uint8_t* q = codes_->codes.data() + o * c;
      float* row = out + (o - r0) * c;
      for (std::int64_t i = 0; i < c; ++i) row[i] = book[q[i]];
    }
    auto it = std::lower_bound(outliers_.begin(), outliers_.end(), r0 * c);
    for (; it != outliers_.end() && *it < r1 * c; ++it)
      out[*it - r0 * c] = values_[static_cast<std::size_t>(it - outliers_.begin())];
  }

 private:
  std::shared_ptr<const GptqResult> codes_;
  std::vector<float> books_;
  std::vector<std::int64_t> outliers_;
  std::vector<float> values_;
  std::size_t per_row_ = 0;
};

class GgmlRows final : public WeightRows {
 public:
  GgmlRows(ggml::Type t, std::vector<std::byte> bytes, std::int64_t rows, std::int64_t cols)
      : t_(t), bytes_(std::move(bytes)), rows_(rows), cols_(cols) {
    const auto rb = ggml::row_size(t, cols);
    if (!rb || bytes_.size() != *rb * static_cast<std::size_t>(rows))
      fail("ggml_weight_rows: ", bytes_.size(), " bytes for ", rows, " rows of ", cols, " ", ggml::traits(t).name);
    row_bytes_ = *rb;
  }
  std::int64_t rows() const override { return rows_; }
  std::int64_t cols() const override { return cols_; }
  std::size_t bytes() const override { return bytes_.size(); }
  void decode(std::int64_t r0, std::int64_t r1, float* out) const override {
    ggml::dequantize(t_, bytes_.data() + static_cast<std::size_t>(r0) * row_bytes_, out, (r1 - r0) * cols_);
  }

 private:
  ggml::Type t_;
  std::vector<std::byte> bytes_;
  std::int64_t rows_, cols_;
  std::size_t row_bytes_ = 0;
};

class MappedGgmlRows final : public WeightRows {
 public:
  MappedGgmlRows(ggml::Type t, std::span<const std::byte> bytes, std::int64_t rows, std::int64_t cols,
                 std::shared_ptr<const void> owner, std::function<void(std::span<const std::byte>)> release)
      : t_(t), bytes_(bytes), rows_(rows), cols_(cols), owner_(std::move(owner)), release_(std::move(release)) {
    const auto rb = ggml::row_size(t, cols);
    if (!rb || bytes_.size() != *rb * static_cast<std::size_t>(rows))
      fail("mapped_ggml_weight_rows: ", bytes_.size(), " bytes for ", rows, " rows of ", cols, " ",
           ggml::traits(t).name);
    row_bytes_ = *rb;
  }
  MappedGgmlRows(const MappedGgmlRows&) = delete;
  MappedGgmlRows& operator=(const MappedGgmlRows&) = delete;
  ~MappedGgmlRows() override {
    if (release_) release_(bytes_);
  }
  std::int64_t rows() const override { return rows_; }
  std::int64_t cols() const override { return cols_; }
  std::size_t bytes() const override { return 0; }  // the file's pages, not held memory
  void decode(std::int64_t r0, std::int64_t r1, float* out) const override {
    ggml::dequantize(t_, bytes_.data() + static_cast<std::size_t>(r0) * row_bytes_, out, (r1 - r0) * cols_);
  }

 private:
  ggml::Type t_;
  std::span<const std::byte> bytes_;
  std::int64_t rows_, cols_;
  std::size_t row_bytes_ = 0;
  std::shared_ptr<const void> owner_;
  std::function<void(std::span<const std::byte>)> release_;
};

}  // namespace

std::shared_ptr<const WeightRows> mapped_ggml_weight_rows(ggml::Type t, std::span<const std::byte> bytes,
                                                          std::int64_t rows, std::int64_t cols,
                                                          std::shared_ptr<const void> owner,
                                                          std::function<void(std::span<const std::byte>)> release) {
  return std::make_shared<MappedGgmlRows>(t, bytes, rows, cols, std::move(owner), std::move(release));
}

std::shared_ptr<const WeightRows> grid_weight_rows(std::shared_ptr<const GptqResult> r, bool fp16_scales) {
  return std::make_shared<GridRows>(std::move(r), fp16_scales);
}

std::shared_ptr<const WeightRows> codebook_weight_rows(std::shared_ptr<const GptqResult> codes,
                                                       const SqueezeLlmResult& k) {
  return std::make_shared<CodebookRows>(std::move(codes), k);
}

std::shared_ptr<const WeightRows> ggml_weight_rows(ggml::Type t, std::vector<std::byte> bytes, std::int64_t rows,
                                                   std::int64_t cols) {
  return std::make_shared<GgmlRows>(t, std::move(bytes), rows, cols);
}

std::vector<float> decode_all(const WeightRows& w) {
  std::vector<float> out(static_cast<std::size_t>(w.rows() * w.cols()));
  if (!out.empty()) w.decode(0, w.rows(), out.data());
  return out;
}

bool decodes_to(const WeightRows& w, std::span<const float> want) {
  if (want.size() != static_cast<std::size_t>(w.rows() * w.cols())) return false;
  constexpr std::int64_t kBlock = 64;
  std::vector<float> buf;
  for (std::int64_t r0 = 0; r0 < w.rows(); r0 += kBlock) {
    const std::int64_t r1 = std::min(w.rows(), r0 + kBlock);
    buf.resize(static_cast<std::size_t>((r1 - r0) * w.cols()));
    w.decode(r0, r1, buf.data());
    if (!std::equal(buf.begin(), buf.end(), want.begin() + r0 * w.cols())) return false;
  }
  return true;
}

}  // namespace lowbit
