// A PTQ result in lowbit's own safetensors layout under HF names (write_lowbit_quantized
// in include/lowbit/hf_quant_export.h): each Linear's codes and grids become a
// QuantizedTensor of an affine uintB asym or kmeansB scheme, checked to dequantize to the
// weights the model computes with before a byte is written.
#include <algorithm>
#include <map>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "io/hf_checkpoint_dir.h"
#include "lowbit/atomic_file.h"
#include "lowbit/bitpack.h"
#include "lowbit/error.h"
#include "lowbit/hf_quant_export.h"
#include "lowbit/quantized_model.h"
#include "lowbit/quantized_parts.h"
#include "lowbit/safetensors.h"

namespace lowbit {
namespace fs = std::filesystem;
namespace {

std::vector<std::byte> f32_bytes(std::span<const float> x) {
  const auto b = std::as_bytes(x);
  return {b.begin(), b.end()};
}

Scheme linear_scheme(const PtqOptions& opt) {
  const std::string b = std::to_string(opt.bits);
  if (opt.method == PtqMethod::Kmeans) return parse_scheme("kmeans" + b + ":channel");
  return parse_scheme("uint" + b + ":" + (opt.group_size > 0 ? "g" + std::to_string(opt.group_size) : "channel") + ":asym");
}

// The Linear as a QuantizedTensor with its rows in HF order (row i = model row order[i]).
QuantizedTensor to_quantized(const Linear& lin, const PtqResult& r, const Scheme& scheme,
                             const std::vector<std::int64_t>& order) {
  const GptqResult& g = *r.weights.at(lin.name());
  const std::int64_t rows = lin.rows(), cols = lin.cols();
  QuantizedTensor q;
  q.shape = {rows, cols};
  q.scheme = scheme;
  q.layout = block_layout(q.shape, scheme);
  const auto src_row = [&](std::int64_t i) { return order.empty() ? i : order[static_cast<std::size_t>(i)]; };
  const std::size_t rb = packed_bytes(static_cast<std::size_t>(cols), scheme.bits);
  q.codes.resize(rb * static_cast<std::size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i)
    pack_bits(std::span<const std::uint8_t>(g.codes.data() + src_row(i) * cols, static_cast<std::size_t>(cols)), scheme.bits,
              std::span<std::uint8_t>(q.codes.data() + static_cast<std::size_t>(i) * rb, rb));
  if (scheme.kind == SchemeKind::KMeans) {
    const SqueezeLlmResult& k = r.codebooks.at(lin.name());
    if (!k.outliers.empty())
      fail("tensor '", lin.name(), "': ", k.outliers.size(), " dense-and-sparse outliers have no form in lowbit's format (use --outliers 0)");
    const std::size_t K = std::size_t{1} << scheme.bits;
    q.codebooks.resize(static_cast<std::size_t>(rows) * K);
    for (std::int64_t i = 0; i < rows; ++i)
      std::copy_n(k.codebooks.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(src_row(i)) * K), K,
                  q.codebooks.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(i) * K));
    return q;
  }
  if (q.layout.num_blocks != rows * g.groups)
    fail("tensor '", lin.name(), "': ", g.groups, " groups per row do not match the scheme ", scheme.spec());
  for (std::int64_t c = 0; c < cols; ++c)
    if (g.g_idx[static_cast<std::size_t>(c)] != c / q.layout.group_size)
      fail("tensor '", lin.name(), "': act-order groups (g_idx) have no form in lowbit's format; use --format gptq");
  q.scales.resize(static_cast<std::size_t>(rows * g.groups));
  q.zero_points.resize(q.scales.size());
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < g.groups; ++j) {
      const auto from = static_cast<std::size_t>(src_row(i) * g.groups + j), to = static_cast<std::size_t>(i * g.groups + j);
      const float z = g.zeros[from];
      if (z != std::nearbyint(z))
        fail("tensor '", lin.name(), "': zero point ", z, " is fractional (HQQ); lowbit's affine codes store integer zero points");
      q.scales[to] = g.scales[from];
      q.zero_points[to] = static_cast<std::int32_t>(z);
    }
  return q;
}

// to_quantized, refused unless it decodes to exactly the weights the model computes with.
QuantizedTensor checked_quantized(const Linear& lin, const PtqResult& r, const Scheme& scheme,
                                  const std::vector<std::int64_t>& order, int threads) {
  if (!r.weights.count(lin.name())) fail("tensor '", lin.name(), "' has no quantized codes in the PTQ result");
  QuantizedTensor q = to_quantized(lin, r, scheme, order);
  std::vector<float> y(static_cast<std::size_t>(lin.rows() * lin.cols()), 0.0f);
  dequantize_tensor(q, y, threads);
  const auto w = lin.decoded_weight();
  for (std::int64_t i = 0; i < lin.rows(); ++i) {
    const std::int64_t s = order.empty() ? i : order[static_cast<std::size_t>(i)];
    if (!std::equal(y.begin() + i * lin.cols(), y.begin() + (i + 1) * lin.cols(), w.begin() + s * lin.cols()))
      fail("tensor '", lin.name(), "': row ", s, " of the stored codes does not decode to the model's weights");
  }
  return q;
}

struct Entry {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> plain;             // fp32 tensor, or
  std::optional<QuantizedTensor> quant;  // a quantized Linear
};

// Every entry is built and checked before this declares anything, so a result the format
// cannot hold fails before a file exists; the parts are then written in order.
std::uint64_t write_entries(const std::vector<Entry>& entries, const Scheme& scheme, const fs::path& file) {
  std::vector<TensorDecl> decls;
  nlohmann::json qmeta = nlohmann::json::object();
  for (const Entry& e : entries) {
    if (!e.quant) {
      decls.push_back({e.name, DType::F32, e.shape});
      continue;
    }
    for (const PartDecl& p : quantized_part_decls(e.name, e.shape, scheme)) decls.push_back({p.name, p.dtype, p.shape});
    qmeta[e.name] = {{"scheme", scheme.spec()}, {"shape", e.shape}, {"dtype", "F32"}};
  }
  SafetensorsMetadata meta = {{"format", "pt"}, {kMetaFormat, "1"}, {kMetaScheme, scheme.spec()},
                              {kMetaQuantized, qmeta.dump()}};
  SafetensorsWriter w(file, decls, meta);
  for (const Entry& e : entries) {
    if (!e.quant) {
      w.write(e.name, f32_bytes(e.plain));
      continue;
    }
    for (const PartDecl& p : quantized_part_decls(e.name, e.shape, scheme)) w.write(p.name, quantized_part_bytes(*e.quant, p));
  }
  w.commit();
  return fs::file_size(file);
}

}  // namespace

void check_lowbit_format(const PtqOptions& opt) {
  if (opt.method == PtqMethod::Hqq)
    fail("--method hqq's fractional zero points have no form in lowbit's affine codes (integer zero points)");
  if (opt.act_quant || !opt.ggml_types.empty())
    fail("--format safetensors stores weight-only results (no --act8, no gguf: scheme)");
  if (opt.method == PtqMethod::Gptq && opt.gptq.act_order && !opt.gptq.static_groups)
    fail("--act-order groups (g_idx) have no form in lowbit's format; use --format gptq or add --static-groups");
  if (opt.method == PtqMethod::Kmeans && opt.outlier_fraction > 0)
    fail("--outliers: dense-and-sparse outliers have no form in lowbit's format");
}

std::uint64_t write_lowbit_quantized(const DecoderModel& model, const PtqResult& r, const PtqOptions& opt,
                                     const fs::path& out_dir) {
  check_lowbit_format(opt);
  const DecoderConfig& c = model.config();
  nlohmann::json cfg = hfdir::hf_model_config(model);
  cfg["torch_dtype"] = "float32";
  const Scheme scheme = linear_scheme(opt);
  const std::int64_t d = c.n_embd;

  std::vector<Entry> entries;
  auto plain = [&](std::string name, std::vector<std::int64_t> shape, std::span<const float> v) {
    entries.push_back({std::move(name), std::move(shape), {v.begin(), v.end()}, std::nullopt});
  };
  plain("model.embed_tokens.weight", {c.n_vocab, d},
        model.tied() ? model.output().weight_f32() : std::span<const float>(model.token_embd_untied()));
  for (int il = 0; il < c.n_layer; ++il) {
    const std::string pre = "model.layers." + std::to_string(il) + ".";
    const DecoderLayer& L = model.layer(il);
    plain(pre + "input_layernorm.weight", {d}, L.attn_norm);
    plain(pre + "post_attention_layernorm.weight", {d}, L.ffn_norm);
    const auto lins = L.linears();
    for (std::size_t k = 0; k < lins.size(); ++k) {
      const Linear& lin = *lins[k];
      const auto order = hfdir::hf_row_order(model, k);
      QuantizedTensor q = checked_quantized(lin, r, scheme, order, opt.threads);
      const std::string base = pre + hfdir::kHfRoles[k] + ".";
      entries.push_back({base + "weight", {lin.rows(), lin.cols()}, {}, std::move(q)});
      if (!lin.bias().empty())
        plain(base + "bias", {lin.rows()}, order.empty() ? std::vector<float>(lin.bias().begin(), lin.bias().end())
                                                        : hfdir::permute_vector(lin.bias(), order));
    }
  }
  plain("model.norm.weight", {d}, model.output_norm());
  if (!model.tied()) plain("lm_head.weight", {c.n_vocab, d}, model.output().weight_f32());

  hfdir::TempDir tmp(out_dir);
  const std::uint64_t bytes = write_entries(entries, scheme, tmp.path() / "model.safetensors");
  write_file_atomic(tmp.path() / "config.json", cfg.dump(2) + "\n");
  hfdir::copy_tokenizer_files(model, tmp.path());
  tmp.install(out_dir);
  return bytes;
}

std::uint64_t write_lowbit_quantized_encoder(const BertEncoder& enc, const PtqResult& r, const PtqOptions& opt,
                                             const fs::path& out_dir) {
  check_lowbit_format(opt);
  const Scheme scheme = linear_scheme(opt);
  std::map<std::string, const Linear*> linears;
  for (int il = 0; il < enc.config().num_layers; ++il)
    for (const Linear* l : enc.layer(il).linears()) linears[l->name()] = l;
  // Every tensor of the source under its own name: the Linears as codes, their biases as
  // the model now has them (AWQ divides value's bias by s), the rest as read.
  std::vector<Entry> entries;
  const ModelWeights& w = enc.weights();
  for (const std::string& name : w.names()) {
    if (const auto it = linears.find(name); it != linears.end()) {
      entries.push_back({name, w.shape(name), {}, checked_quantized(*it->second, r, scheme, {}, opt.threads)});
      continue;
    }
    const std::string stem = name.size() > 5 && name.ends_with(".bias") ? name.substr(0, name.size() - 5) + ".weight" : "";
    if (const auto it = linears.find(stem); !stem.empty() && it != linears.end()) {
      const auto b = it->second->bias();
      entries.push_back({name, w.shape(name), {b.begin(), b.end()}, std::nullopt});
      continue;
    }
    entries.push_back({name, w.shape(name), w.f32(name), std::nullopt});
  }
  hfdir::TempDir tmp(out_dir);
  const std::uint64_t bytes = write_entries(entries, scheme, tmp.path() / "model.safetensors");
  // config.json, the tokenizer and the sentence-transformers pipeline come along as they are.
  const fs::path src = fs::is_directory(w.path()) ? w.path() : w.path().parent_path();
  // Never the output itself (OUT may sit inside the model folder), hidden folders or
  // other runtimes' exports.
  const fs::path out_abs = fs::weakly_canonical(out_dir), tmp_abs = fs::weakly_canonical(tmp.path());
  for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator(); ++it) {
    const fs::directory_entry& e = *it;
    const std::string fname = e.path().filename().string();
    if (e.is_directory()) {
      const fs::path abs = fs::weakly_canonical(e.path());
      if (abs == out_abs || abs == tmp_abs || fname.starts_with(".") || fname == "onnx" || fname == "openvino")
        it.disable_recursion_pending();
      continue;
    }
    if (!e.is_regular_file() || fname.starts_with(".")) continue;
    const std::string ext = e.path().extension().string();
    if (ext == ".safetensors" || ext == ".bin" || ext == ".onnx" || ext == ".h5" || ext == ".msgpack" || ext == ".ot" ||
        e.path().filename() == "model.safetensors.index.json")
      continue;
    const fs::path rel = fs::relative(e.path(), src);
    fs::create_directories((tmp.path() / rel).parent_path());
    fs::copy_file(e.path(), tmp.path() / rel, fs::copy_options::overwrite_existing);
  }
  tmp.install(out_dir);
  return bytes;
}

}  // namespace lowbit
