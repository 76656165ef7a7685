// A plain fp32 forward of all-MiniLM-L6-v2 (BERT: post-LayerNorm, exact-erf GELU, 12
// heads) that records the input of every Linear layer, to calibrate and measure
// activation quantization on real activations until the runtime issue brings the real
// model runtime. Bench-only: no speed or generality claims.
#pragma once
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "lowbit/error.h"
#include "lowbit/safetensors.h"

namespace minilm {

struct Weights {
  std::map<std::string, std::vector<float>> t;
  const std::vector<float>& at(const std::string& name) const {
    auto it = t.find(name);
    if (it == t.end()) lowbit::fail("MiniLM weights: missing tensor ", name);
    return it->second;
  }
};

inline Weights load(const std::string& path) {
  Weights w;
  auto f = lowbit::SafetensorsFile::open(path);
  for (const auto& t : f.tensors()) w.t[t.name] = lowbit::tensor_to_f32(t);
  return w;
}

// y[n, out] = x[n, in] W^T + b, W row-major [out, in].
inline std::vector<float> linear(const std::vector<float>& x, std::size_t n, std::size_t in, const Weights& w,
                                 const std::string& name) {
  const auto& W = w.at(name + ".weight");
  const auto& b = w.at(name + ".bias");
  const std::size_t out = b.size();
  std::vector<float> y(n * out);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t o = 0; o < out; ++o) {
      const float* xr = &x[i * in];
      const float* wr = &W[o * in];
      float s = 0;
      for (std::size_t k = 0; k < in; ++k) s += xr[k] * wr[k];
      y[i * out + o] = s + b[o];
    }
  return y;
}

inline void layer_norm(std::vector<float>& x, std::size_t n, std::size_t d, const Weights& w, const std::string& name) {
  const auto& g = w.at(name + ".weight");
  const auto& b = w.at(name + ".bias");
  for (std::size_t i = 0; i < n; ++i) {
    float* r = &x[i * d];
    double m = 0, v = 0;
    for (std::size_t k = 0; k < d; ++k) m += r[k];
    m /= static_cast<double>(d);
    for (std::size_t k = 0; k < d; ++k) v += (r[k] - m) * (r[k] - m);
    v /= static_cast<double>(d);
    const double inv = 1.0 / std::sqrt(v + 1e-12);
    for (std::size_t k = 0; k < d; ++k) r[k] = static_cast<float>((r[k] - m) * inv) * g[k] + b[k];
  }
}

// Captures: name -> rows of that Linear input for this sentence (appended by the caller).
using Captures = std::map<std::string, std::vector<float>>;

inline Captures forward(const Weights& w, const std::vector<int>& ids) {
  constexpr std::size_t D = 384, H = 12, HD = 32, F = 1536;
  const std::size_t n = ids.size();
  Captures cap;
  const auto& we = w.at("embeddings.word_embeddings.weight");
  const auto& pe = w.at("embeddings.position_embeddings.weight");
  const auto& te = w.at("embeddings.token_type_embeddings.weight");
  std::vector<float> x(n * D);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < D; ++k)
      x[i * D + k] = we[static_cast<std::size_t>(ids[i]) * D + k] + pe[i * D + k] + te[k];
  layer_norm(x, n, D, w, "embeddings.LayerNorm");
  for (int l = 0; l < 6; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    const std::string tag = "L" + std::to_string(l) + ".";
    cap[tag + "qkv_in"] = x;
    const auto q = linear(x, n, D, w, p + "attention.self.query");
    const auto k = linear(x, n, D, w, p + "attention.self.key");
    const auto v = linear(x, n, D, w, p + "attention.self.value");
    std::vector<float> ctx(n * D, 0.0f), s(n);
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t i = 0; i < n; ++i) {
        float mx = -INFINITY;
        for (std::size_t j = 0; j < n; ++j) {
          float d = 0;
          for (std::size_t e = 0; e < HD; ++e) d += q[i * D + h * HD + e] * k[j * D + h * HD + e];
          s[j] = d / std::sqrt(static_cast<float>(HD));
          mx = std::max(mx, s[j]);
        }
        float sum = 0;
        for (std::size_t j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (std::size_t j = 0; j < n; ++j)
          for (std::size_t e = 0; e < HD; ++e) ctx[i * D + h * HD + e] += s[j] / sum * v[j * D + h * HD + e];
      }
    cap[tag + "attn_out_in"] = ctx;
    auto a = linear(ctx, n, D, w, p + "attention.output.dense");
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += x[i];
    layer_norm(a, n, D, w, p + "attention.output.LayerNorm");
    cap[tag + "ffn_up_in"] = a;
    auto g = linear(a, n, D, w, p + "intermediate.dense");
    for (auto& t : g) t = 0.5f * t * (1.0f + std::erf(t / std::sqrt(2.0f)));
    cap[tag + "ffn_down_in"] = g;
    auto o = linear(g, n, F, w, p + "output.dense");
    for (std::size_t i = 0; i < o.size(); ++i) o[i] += a[i];
    layer_norm(o, n, D, w, p + "output.LayerNorm");
    x = std::move(o);
  }
  cap["final_hidden"] = x;
  return cap;
}

}  // namespace minilm
