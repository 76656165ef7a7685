// Folding per-input-channel scales into a decoder layer (AWQ, SmoothQuant): a Linear's
// columns times s, the op feeding it (an RMSNorm weight or a Linear's rows) divided by s,
// so the layer computes the same function while its weights and inputs change range.
#include "algo/ptq_layer.h"
#include "lowbit/error.h"

namespace lowbit::algo {

std::vector<float> copy_weight(const Linear& l) { return l.decoded_weight(); }

void scale_columns(Linear& l, std::span<const float> s) {
  auto w = copy_weight(l);
  for (std::int64_t i = 0; i < l.rows(); ++i)
    for (std::int64_t c = 0; c < l.cols(); ++c) w[static_cast<std::size_t>(i * l.cols() + c)] *= s[static_cast<std::size_t>(c)];
  l.set_weight_f32(std::move(w));
}

// The op feeding a scaled input: its output channel c divided by s[c].
void divide_rows(Linear& l, std::span<const float> s) {
  auto w = copy_weight(l);
  for (std::int64_t i = 0; i < l.rows(); ++i)
    for (std::int64_t c = 0; c < l.cols(); ++c) w[static_cast<std::size_t>(i * l.cols() + c)] /= s[static_cast<std::size_t>(i)];
  l.set_weight_f32(std::move(w));
  if (!l.bias().empty()) {
    std::vector<float> b(l.bias().begin(), l.bias().end());
    for (std::size_t i = 0; i < b.size(); ++i) b[i] /= s[i];
    l.set_bias(std::move(b));
  }
}

void divide_norm(std::vector<float>& norm, std::span<const float> s) {
  if (norm.size() != s.size()) fail("AWQ: a norm of ", norm.size(), " channels for ", s.size(), " scales");
  for (std::size_t i = 0; i < norm.size(); ++i) norm[i] /= s[i];
}

// H of inputs x / s: S^-1 H S^-1.
void unscale_moment(std::vector<double>& h, std::span<const float> s) {
  const std::size_t n = s.size();
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b = 0; b < n; ++b) h[a * n + b] /= static_cast<double>(s[a]) * static_cast<double>(s[b]);
}

}  // namespace lowbit::algo
