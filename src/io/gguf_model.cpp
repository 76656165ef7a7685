// quantize_gguf and dequantize_gguf: the whole-file loops around the GGUF reader/writer,
// the mix planner and the ggml row functions. They follow llama_model_quantize's choices
// (tensor order, metadata edits, per-expert imatrix slices) so the output is the file
// llama.cpp would write, and stream one tensor at a time.
#include "lowbit/gguf_model.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <span>

#include "lowbit/bf16.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/gguf.h"
#include "lowbit/safetensors.h"

namespace lowbit {

namespace {

// llama.cpp's weight_name_comparer: layer number of "blk.N." (-1 for others), then name.
int layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) layer = -1;
  return layer;
}

std::vector<const GgufTensor*> llama_order(const GgufFile& f) {
  std::vector<const GgufTensor*> order;
  for (const GgufTensor& t : f.tensors()) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const GgufTensor* a, const GgufTensor* b) {
    const int la = layer_of(a->name), lb = layer_of(b->name);
    return la != lb ? la < lb : a->name < b->name;
  });
  return order;
}

ggml::MixModel mix_model_of(const GgufFile& f) {
  const GgufKv* arch = f.find_kv("general.architecture");
  if (!arch) fail(f.source(), ": no general.architecture key; llama.cpp's type rules need the model's architecture");
  return ggml::mix_model_from_metadata(arch->value.as_string(), [&](std::string_view key) -> std::optional<std::int64_t> {
    const GgufKv* kv = f.find_kv(key);
    if (!kv) return std::nullopt;
    if (kv->value.is_array()) return kv->value.size() ? std::optional(kv->value.element(0).as_int()) : std::nullopt;
    return kv->value.as_int();
  });
}

// The tensor's weights as fp32 (decoded through the reference-exact row functions).
void to_f32(const GgufTensor& t, std::vector<float>& out, int threads) {
  out.resize(static_cast<std::size_t>(t.numel()));
  if (t.type == ggml::Type::F32) {
    std::memcpy(out.data(), t.data.data(), t.data.size());
    return;
  }
  if (!ggml::traits(t.type).to_float)
    fail("tensor '", t.name, "': lowbit cannot decode ggml type ", ggml::traits(t.type).name);
  ggml::dequantize(t.type, t.data.data(), out.data(), t.numel(), threads);
}

std::vector<ggml::MixChoice> plan_of(const GgufFile& f, const std::vector<const GgufTensor*>& order,
                                     const GgufQuantizeOptions& options) {
  std::vector<ggml::MixTensor> mix_tensors;
  for (const GgufTensor* t : order)
    mix_tensors.push_back({t->name, std::vector<std::int64_t>(t->ne.begin(), t->ne.begin() + t->n_dims), t->type});
  ggml::MixOptions mix = options.mix;
  mix.has_imatrix = mix.has_imatrix || options.imatrix != nullptr;
  return ggml::plan_mix(mix_model_of(f), mix_tensors, options.ftype, mix);
}

}  // namespace

bool is_gguf_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

std::map<std::string, ggml::Type> plan_gguf(const std::filesystem::path& in, const GgufQuantizeOptions& options) {
  const GgufFile f = GgufFile::open(in);
  const auto order = llama_order(f);
  const auto plan = plan_of(f, order, options);
  std::map<std::string, ggml::Type> types;
  for (std::size_t i = 0; i < order.size(); ++i) types[order[i]->name] = plan[i].type;
  return types;
}

GgufQuantizeReport quantize_gguf(const std::filesystem::path& in, const std::filesystem::path& out,
                                 const GgufQuantizeOptions& options) {
  const GgufFile f = GgufFile::open(in);
  const auto order = llama_order(f);
  const auto plan = plan_of(f, order, options);
  for (const auto& [name, bytes] : options.replace)
    if (!f.find(name)) fail(f.source(), ": no tensor '", name, "' to replace");
  if (options.imatrix) options.imatrix->check_finite();

  GgufWriter w;
  w.copy_metadata(f);
  // llama_model_quantize re-sets these two (gguf_set_val removes, then appends).
  w.remove("general.quantization_version");
  w.set("general.quantization_version", GgufValue::u32(2));
  w.remove("general.file_type");
  w.set("general.file_type", GgufValue::u32(static_cast<std::uint32_t>(options.ftype)));
  for (const char* k : {"split.no", "split.count", "split.tensors.count"}) w.remove(k);
  if (options.imatrix) {
    const Imatrix& m = *options.imatrix;
    w.set("quantize.imatrix.file", GgufValue::string(options.imatrix_path));
    if (!m.datasets.empty()) w.set("quantize.imatrix.dataset", GgufValue::string(m.datasets.front()));
    w.set("quantize.imatrix.entries_count", GgufValue::i32(static_cast<std::int32_t>(m.entries.size())));
    w.set("quantize.imatrix.chunks_count", GgufValue::i32(m.chunk_count));
  }

  GgufQuantizeReport report;
  report.tensors.resize(order.size());
  bool warned_requantize = false;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const GgufTensor& t = *order[i];
    const ggml::MixChoice& c = plan[i];
    GgufTensorReport& r = report.tensors[i];
    r.name = t.name;
    r.ne.assign(t.ne.begin(), t.ne.begin() + t.n_dims);
    r.from = t.type;
    r.to = c.type;
    r.converted = c.quantized;
    r.note = c.note;
    r.params = static_cast<std::uint64_t>(t.numel());
    r.bytes_in = t.nbytes;
    r.bytes_out = *gguf_tensor_nbytes(c.type, r.ne);
    report.params += r.params;
    report.bytes_in += r.bytes_in;
    report.bytes_out += r.bytes_out;
    GgufTensorDecl decl{t.name, r.ne, c.type};
    if (const auto rep = options.replace.find(t.name); rep != options.replace.end()) {
      if (rep->second.size() != r.bytes_out)
        fail("tensor '", t.name, "': ", rep->second.size(), " replacement bytes for ", r.bytes_out, " bytes of ",
             ggml::traits(c.type).name);
      r.converted = true;
      if (ggml::traits(c.type).to_float) {
        std::vector<float> x, y(static_cast<std::size_t>(t.numel()));
        to_f32(t, x, options.threads);
        ggml::dequantize(c.type, rep->second.data(), y.data(), t.numel(), options.threads);
        r.error = error_stats(x, y);
        report.error.merge(r.error);
      }
      w.add_tensor(std::move(decl), std::span<const std::byte>(rep->second));
      continue;
    }
    if (!c.quantized) {
      w.add_tensor(std::move(decl), t.data);
      continue;
    }
    if (ggml::traits(t.type).quantized && !warned_requantize && options.on_warning) {
      options.on_warning(f.source() + ": tensor '" + t.name + "' is already " + ggml::traits(t.type).name +
                         "; requantizing through fp32 adds a second rounding error (reported per tensor)");
      warned_requantize = true;
    }
    std::optional<std::vector<float>> imat;
    if (options.imatrix) imat = options.imatrix->for_tensor(t.name, r.ne);
    r.used_imatrix = imat.has_value();
    w.add_tensor(std::move(decl), [&, imat = std::move(imat)](std::span<std::byte> dst) {
      if (options.on_tensor) options.on_tensor(t.name);
      std::vector<float> x;
      to_f32(t, x, options.threads);
      // Rows of one expert (ne[1] of them) share that expert's slice of the imatrix.
      const std::int64_t ne0 = t.ne[0], rows = t.ne[1], mats = t.ne[2] * t.ne[3];
      const std::size_t mat_bytes = *ggml::row_size(c.type, ne0) * static_cast<std::size_t>(rows);
      for (std::int64_t e = 0; e < mats; ++e) {
        const float* w_e = imat ? imat->data() + (static_cast<std::size_t>(e % t.ne[2]) * ne0) : nullptr;
        ggml::quantize_rows(c.type, x.data() + e * rows * ne0, dst.data() + e * mat_bytes, rows, ne0, w_e,
                            options.threads);
      }
      std::vector<float> y(x.size());
      ggml::dequantize(c.type, dst.data(), y.data(), t.numel(), options.threads);
      r.error = error_stats(x, y);
      report.error.merge(r.error);
    });
  }
  w.write(out);
  return report;
}

void dequantize_gguf(const std::filesystem::path& in, const std::filesystem::path& out, DType dtype, int threads,
                     const std::function<void(const std::string&)>& on_tensor) {
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    fail("dequantize: output dtype must be f32, f16 or bf16");
  const GgufFile f = GgufFile::open(in);
  std::vector<TensorDecl> decls;
  for (const GgufTensor& t : f.tensors()) {
    if (!ggml::traits(t.type).to_float)
      fail(f.source(), ": tensor '", t.name, "' has ggml type ", ggml::traits(t.type).name,
           ", which lowbit cannot decode");
    std::vector<std::int64_t> shape;
    for (std::uint32_t d = t.n_dims; d-- > 0;) shape.push_back(t.ne[d]);
    decls.push_back({t.name, dtype, shape});
  }
  SafetensorsMetadata meta;
  if (const GgufKv* arch = f.find_kv("general.architecture"))
    meta.emplace_back("general.architecture", arch->value.as_string());
  meta.emplace_back("lowbit.source", "gguf");
  SafetensorsWriter w(out, decls, meta);
  std::vector<float> x;
  std::vector<std::uint16_t> h;
  for (const GgufTensor& t : f.tensors()) {
    if (on_tensor) on_tensor(t.name);
    to_f32(t, x, threads);
    if (dtype == DType::F32) {
      w.write(t.name, std::as_bytes(std::span<const float>(x)));
      continue;
    }
    h.resize(x.size());
    if (dtype == DType::F16)
      fp32_to_fp16(x, h);
    else
      fp32_to_bf16(x, h);
    w.write(t.name, std::as_bytes(std::span<const std::uint16_t>(h)));
  }
  w.commit();
}

}  // namespace lowbit
