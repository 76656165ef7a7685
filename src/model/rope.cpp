// RoPE angles (see rope.h). The HF variants follow transformers' modeling_rope_utils
// (4.46): float32 inv_freq tables, angle = float(p) * inv_freq. The GGUF path follows
// ggml's rope cache: theta starts at p and is multiplied by base^(-2/n_rot) per pair,
// divided by the optional rope_freqs factors, scaled by 1/factor for linear scaling.
#include "model/rope.h"

#include <algorithm>
#include <cmath>

#include "lowbit/error.h"

namespace lowbit::model {
namespace {

// transformers: 1 / base ** (arange(0, dim, 2).float() / dim), all in float32.
std::vector<float> default_inv_freq(float base, int dim) {
  std::vector<float> f(static_cast<std::size_t>(dim / 2));
  for (int i = 0; i < dim / 2; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(dim);
    f[static_cast<std::size_t>(i)] = 1.0f / std::pow(base, e);
  }
  return f;
}

std::vector<float> hf_inv_freq(const RopeConfig& rc, float base, int context_length, std::int64_t T, float* att) {
  const int dim = rc.n_rot;
  *att = 1.0f;
  if (rc.scaling == "default") return default_inv_freq(base, dim);
  if (rc.scaling == "linear") {
    auto f = default_inv_freq(base, dim);
    for (auto& v : f) v /= rc.factor;
    return f;
  }
  if (rc.scaling == "dynamic") {
    // Recomputed for sequences longer than max_position_embeddings, else the default.
    const double seq = std::max<double>(static_cast<double>(T), context_length);
    const double b = base * std::pow(rc.factor * seq / context_length - (rc.factor - 1.0),
                                     static_cast<double>(dim) / (dim - 2));
    return default_inv_freq(static_cast<float>(b), dim);
  }
  if (rc.scaling == "llama3") {
    auto f = default_inv_freq(base, dim);
    const float old_ctx = static_cast<float>(rc.original_max_positions);
    const float low_wavelen = old_ctx / rc.low_freq_factor;
    const float high_wavelen = old_ctx / rc.high_freq_factor;
    for (auto& v : f) {
      const float wavelen = static_cast<float>(2.0 * M_PI) / v;
      const float scaled = wavelen > low_wavelen ? v / rc.factor : v;
      const float smooth = (old_ctx / wavelen - rc.low_freq_factor) / (rc.high_freq_factor - rc.low_freq_factor);
      const float smoothed = (1.0f - smooth) * scaled / rc.factor + smooth * scaled;
      const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
      v = medium ? smoothed : scaled;
    }
    return f;
  }
  if (rc.scaling == "yarn") {
    *att = rc.attention_factor;
    auto corr_dim = [&](double rot) {
      return dim * std::log(context_length / (rot * 2 * M_PI)) / (2 * std::log(static_cast<double>(base)));
    };
    const double low = std::max(std::floor(corr_dim(rc.beta_fast)), 0.0);
    double high = std::min(std::ceil(corr_dim(rc.beta_slow)), static_cast<double>(dim - 1));
    if (low == high) high += 0.001;
    std::vector<float> f(static_cast<std::size_t>(dim / 2));
    for (int i = 0; i < dim / 2; ++i) {
      const float pos = std::pow(base, static_cast<float>(2 * i) / static_cast<float>(dim));
      const float extrap = 1.0f / pos;
      const float interp = 1.0f / (rc.factor * pos);
      const float ramp = std::clamp((static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low), 0.0f, 1.0f);
      const float ef = 1.0f - ramp;
      f[static_cast<std::size_t>(i)] = interp * (1.0f - ef) + extrap * ef;
    }
    return f;
  }
  fail("rope scaling \"", rc.scaling, "\" is not supported");
}

}  // namespace

RopeTable rope_table(const RopeConfig& rc, float base, int context_length, std::int64_t T, std::int64_t first) {
  RopeTable t;
  t.n_pairs = rc.n_rot / 2;
  const auto np = static_cast<std::size_t>(t.n_pairs);
  if (first < 0 || first > T) fail("rope positions [", first, ", ", T, ")");
  t.cos.resize(static_cast<std::size_t>(T - first) * np);
  t.sin.resize(t.cos.size());
  if (rc.ggml_math) {
    if (!rc.freq_factors.empty() && rc.freq_factors.size() != np)
      fail("rope_freqs has ", rc.freq_factors.size(), " factors for ", np, " rotated pairs");
    const float theta_scale = std::pow(base, -2.0f / static_cast<float>(rc.n_rot));
    const float freq_scale = rc.scaling == "linear" ? 1.0f / rc.factor : 1.0f;
    for (std::int64_t p = first; p < T; ++p) {
      float theta = static_cast<float>(p);
      for (std::size_t i = 0; i < np; ++i) {
        const float ff = rc.freq_factors.empty() ? 1.0f : rc.freq_factors[i];
        const float a = freq_scale * (theta / ff);
        t.cos[static_cast<std::size_t>(p - first) * np + i] = std::cos(a);
        t.sin[static_cast<std::size_t>(p - first) * np + i] = std::sin(a);
        theta *= theta_scale;
      }
    }
    t.ggml_fma = true;
    return t;
  }
  float att = 1.0f;
  const auto inv = hf_inv_freq(rc, base, context_length, T, &att);
  for (std::int64_t p = first; p < T; ++p)
    for (std::size_t i = 0; i < np; ++i) {
      const float a = static_cast<float>(p) * inv[i];
      t.cos[static_cast<std::size_t>(p - first) * np + i] = std::cos(a) * att;
      t.sin[static_cast<std::size_t>(p - first) * np + i] = std::sin(a) * att;
    }
  return t;
}

void apply_rope(float* x, std::int64_t T, int n_heads, int head_dim, const RopeTable& t, RopeStyle style) {
  const auto np = static_cast<std::size_t>(t.n_pairs);
  for (std::int64_t p = 0; p < T; ++p) {
    const float* c = t.cos.data() + static_cast<std::size_t>(p) * np;
    const float* s = t.sin.data() + static_cast<std::size_t>(p) * np;
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (p * n_heads + h) * head_dim;
      for (std::size_t i = 0; i < np; ++i) {
        float* a = style == RopeStyle::Adjacent ? v + 2 * i : v + i;
        float* b = style == RopeStyle::Adjacent ? v + 2 * i + 1 : v + i + np;
        const float x0 = *a, x1 = *b;
        if (t.ggml_fma) {
          *a = std::fma(x0, c[i], -(x1 * s[i]));
          *b = std::fma(x0, s[i], x1 * c[i]);
        } else {
          *a = x0 * c[i] - x1 * s[i];
          *b = x0 * s[i] + x1 * c[i];
        }
      }
    }
  }
}

}  // namespace lowbit::model
