// Whole-checkpoint quantize / dequantize (see include/lowbit/quantized_model.h). The
// header is declared before any tensor is touched (part shapes follow from shape and
// scheme), then each tensor is mapped, quantized, written, dequantized for the error
// report and dropped: peak memory is one tensor, not the model.
#include "lowbit/quantized_model.h"

#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "lowbit/bf16.h"
#include "lowbit/error.h"
#include "lowbit/fp16.h"
#include "lowbit/quantized_parts.h"

namespace lowbit {
namespace {

using nlohmann::json;

bool is_float(DType d) {
  return d == DType::F64 || d == DType::F32 || d == DType::F16 || d == DType::BF16 || d == DType::F8_E4M3 ||
         d == DType::F8_E5M2;
}

std::string metadata_of(const SafetensorsCheckpoint& c, std::string_view key) {
  if (c.shard_count() == 0) return {};
  auto v = c.shard(0).metadata_value(key);
  return v ? std::string(*v) : std::string();
}

std::vector<std::byte> f32_to_dtype(std::span<const float> x, DType dt) {
  std::vector<std::byte> out(x.size() * dtype_size(dt));
  switch (dt) {
    case DType::F32: std::memcpy(out.data(), x.data(), out.size()); break;
    case DType::F16:
    case DType::BF16:
      for (std::size_t i = 0; i < x.size(); ++i) {
        const std::uint16_t h = dt == DType::F16 ? fp32_to_fp16(x[i]) : fp32_to_bf16(x[i]);
        out[2 * i] = std::byte(h & 0xff);
        out[2 * i + 1] = std::byte(h >> 8);
      }
      break;
    default: fail("cannot write dequantized tensors as ", dtype_name(dt), " (f32, f16 or bf16)");
  }
  return out;
}

}  // namespace

bool is_lowbit_quantized(const SafetensorsCheckpoint& c) { return !metadata_of(c, kMetaQuantized).empty(); }

namespace {

std::vector<LogicalTensor> logical_tensors_of(std::span<const TensorView> tensors, const std::string& q,
                                             const std::string& source) {
  std::vector<LogicalTensor> out;
  std::map<std::string, LogicalTensor> qmap;
  std::map<std::string, std::string> part_owner;
  if (!q.empty()) {
    json j;
    try {
      j = json::parse(q);
    } catch (const std::exception& e) {
      fail(source, ": metadata '", kMetaQuantized, "' is not valid JSON (", e.what(), ")");
    }
    if (!j.is_object()) fail(source, ": metadata '", kMetaQuantized, "' must be a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
      LogicalTensor t;
      t.name = it.key();
      try {
        const auto& e = it.value();
        t.scheme = parse_scheme(e.at("scheme").get<std::string>());
        t.shape = e.at("shape").get<std::vector<std::int64_t>>();
        const auto dt = dtype_from_safetensors(e.at("dtype").get<std::string>());
        if (!dt) fail("unknown dtype ", e.at("dtype").dump());
        t.dtype = *dt;
      } catch (const json::exception& e) {
        fail(source, ": tensor '", it.key(), "' has a malformed quantization entry (", e.what(), ")");
      } catch (const Error& e) {
        fail(source, ": tensor '", it.key(), "': ", e.what());
      }
      for (const auto& d : quantized_part_decls(t.name, t.shape, *t.scheme)) part_owner[d.name] = t.name;
      qmap.emplace(t.name, std::move(t));
    }
  }
  std::set<std::string> emitted;
  for (const TensorView& v : tensors) {
    auto owner = part_owner.find(v.name);
    if (owner != part_owner.end()) {
      if (emitted.insert(owner->second).second) out.push_back(qmap.at(owner->second));
      continue;
    }
    LogicalTensor t;
    t.name = v.name;
    t.shape = v.shape;
    t.dtype = v.dtype;
    t.view = &v;
    out.push_back(std::move(t));
  }
  for (const auto& [name, t] : qmap)
    if (!emitted.count(name)) fail(source, ": quantized tensor '", name, "' has none of its parts in the file");
  return out;
}

template <typename Container>
QuantizedTensor load_quantized_from(const Container& c, const LogicalTensor& t) {
  if (!t.scheme) fail("tensor '", t.name, "' is not quantized");
  return quantized_from_parts(t.name, t.shape, *t.scheme, [&](const PartDecl& d) {
    const TensorView* v = c.find(d.name);
    if (!v) fail("tensor '", t.name, "': part '", d.name, "' is missing");
    if (v->dtype != d.dtype || v->shape != d.shape)
      fail("tensor '", t.name, "': part '", d.name, "' is ", dtype_name(v->dtype), " with the wrong dtype or shape for ",
           t.scheme->spec());
    return v->data;
  });
}


}  // namespace

std::vector<LogicalTensor> logical_tensors(const SafetensorsCheckpoint& c) {
  return logical_tensors_of(c.tensors(), metadata_of(c, kMetaQuantized),
                            c.shard_count() ? c.shard(0).source() : std::string());
}
std::vector<LogicalTensor> logical_tensors(const SafetensorsFile& f) {
  const auto q = f.metadata_value(kMetaQuantized);
  return logical_tensors_of(f.tensors(), q ? std::string(*q) : std::string(), f.source());
}
QuantizedTensor load_quantized(const SafetensorsCheckpoint& c, const LogicalTensor& t) { return load_quantized_from(c, t); }
QuantizedTensor load_quantized(const SafetensorsFile& f, const LogicalTensor& t) { return load_quantized_from(f, t); }

bool should_quantize(const TensorView& v, const QuantizeOptions& opt) {
  if (!is_float(v.dtype) || v.shape.size() < 2 || v.numel() == 0) return false;
  for (const auto& re : opt.skip)
    if (std::regex_search(v.name, re)) return false;
  return true;
}

ModelReport quantize_checkpoint(const std::filesystem::path& in, const std::filesystem::path& out,
                                const QuantizeOptions& opt) {
  const auto ckpt = SafetensorsCheckpoint::open(in);
  if (is_lowbit_quantized(ckpt)) fail(in.string(), " is already lowbit-quantized; dequantize it first");
  ModelReport rep;
  rep.input = in.string();
  rep.output = out.string();
  rep.scheme = opt.scheme.spec();

  std::vector<TensorDecl> decls;
  std::set<std::string> names;
  json qmeta = json::object();
  std::vector<bool> quantize(ckpt.tensors().size());
  for (std::size_t i = 0; i < ckpt.tensors().size(); ++i) {
    const TensorView& v = ckpt.tensors()[i];
    quantize[i] = should_quantize(v, opt);
    if (quantize[i]) {
      std::vector<PartDecl> parts;
      try {
        parts = quantized_part_decls(v.name, v.shape, opt.scheme);
      } catch (const Error& e) {
        fail(in.string(), ": tensor '", v.name, "': ", e.what());
      }
      for (auto& d : parts) decls.push_back({d.name, d.dtype, d.shape});
      qmeta[v.name] = {{"scheme", rep.scheme}, {"shape", v.shape},
                       {"dtype", std::string(dtype_info(v.dtype).safetensors_name)}};
    } else {
      decls.push_back({v.name, v.dtype, v.shape});
    }
  }
  for (const auto& d : decls)
    if (!names.insert(d.name).second)
      fail(in.string(), ": output tensor name '", d.name, "' would appear twice (a tensor is named like a quantized part)");

  SafetensorsMetadata meta;
  if (ckpt.shard_count() > 0)
    for (const auto& kv : ckpt.shard(0).metadata())
      if (kv.first.rfind("lowbit.", 0) != 0) meta.push_back(kv);
  meta.emplace_back(kMetaFormat, "1");
  meta.emplace_back(kMetaScheme, rep.scheme);
  meta.emplace_back(kMetaQuantized, qmeta.dump());

  SafetensorsWriter w(out, decls, meta);
  for (std::size_t i = 0; i < ckpt.tensors().size(); ++i) {
    const TensorView& v = ckpt.tensors()[i];
    if (opt.on_tensor) opt.on_tensor(v.name);
    TensorReport tr;
    tr.name = v.name;
    tr.shape = v.shape;
    tr.dtype = v.dtype;
    tr.bytes_in = v.data.size();
    rep.input_bytes += v.data.size();
    rep.params += std::uint64_t(v.numel());
    if (!quantize[i]) {
      w.write(v.name, v.data);
      tr.bytes_out = v.data.size();
      rep.tensors.push_back(std::move(tr));
      continue;
    }
    const std::vector<float> x = tensor_to_f32(v);
    QuantizedTensor q;
    try {
      q = quantize_tensor(x, v.shape, opt.scheme, opt.threads);
    } catch (const Error& e) {
      fail(in.string(), ": tensor '", v.name, "': ", e.what());
    }
    const auto parts = quantized_part_decls(v.name, v.shape, opt.scheme);
    for (const PartDecl& part : parts) w.write(part.name, quantized_part_bytes(q, part));
    std::vector<float> y(x.size());
    dequantize_tensor(q, y, opt.threads);
    tr.error = error_stats(x, y);
    tr.scheme = rep.scheme;
    tr.bytes_out = q.storage_bytes();
    rep.model.merge(tr.error);
    rep.quantized_params += std::uint64_t(v.numel());
    rep.quantized_bytes += q.storage_bytes();
    rep.tensors.push_back(std::move(tr));
  }
  w.commit();
  rep.output_bytes = std::filesystem::file_size(out);
  return rep;
}

void dequantize_checkpoint(const std::filesystem::path& in, const std::filesystem::path& out, DType dtype,
                           int threads, const std::function<void(const std::string&)>& on_tensor) {
  const auto ckpt = SafetensorsCheckpoint::open(in);
  if (!is_lowbit_quantized(ckpt)) fail(in.string(), " has no lowbit quantization metadata ('", kMetaQuantized, "')");
  const auto tensors = logical_tensors(ckpt);
  std::vector<TensorDecl> decls;
  for (const auto& t : tensors)
    decls.push_back({t.name, (t.scheme || is_float(t.dtype)) ? dtype : t.dtype, t.shape});
  SafetensorsMetadata meta;
  for (const auto& kv : ckpt.shard(0).metadata())
    if (kv.first.rfind("lowbit.", 0) != 0) meta.push_back(kv);
  SafetensorsWriter w(out, decls, meta);
  for (const auto& t : tensors) {
    if (on_tensor) on_tensor(t.name);
    if (t.scheme) {
      QuantizedTensor q;
      try {
        q = load_quantized(ckpt, t);
      } catch (const Error& e) {
        fail(in.string(), ": ", e.what());
      }
      std::vector<float> y(static_cast<std::size_t>(q.numel()));
      dequantize_tensor(q, y, threads);
      w.write(t.name, f32_to_dtype(y, dtype));
    } else if (is_float(t.dtype) && t.dtype != dtype) {
      w.write(t.name, f32_to_dtype(tensor_to_f32(*t.view), dtype));
    } else {
      w.write(t.name, t.view->data);
    }
  }
  w.commit();
}

std::string ModelReport::to_json() const {
  auto stats = [](const ErrorStats& e) {
    json j = {{"count", e.count}, {"mse", e.mse()}, {"rmse", e.rmse()}, {"max_abs_err", e.max_abs_err},
              {"cosine", e.cosine()}};
    const double s = e.sqnr_db();
    j["sqnr_db"] = std::isfinite(s) ? json(s) : json(nullptr);
    return j;
  };
  json j = {{"input", input}, {"output", output}, {"scheme", scheme}, {"input_bytes", input_bytes},
            {"output_bytes", output_bytes}, {"params", params}, {"quantized_params", quantized_params},
            {"quantized_bytes", quantized_bytes}};
  j["model"] = stats(model);
  j["model"]["bits_per_weight"] = quantized_params ? 8.0 * double(quantized_bytes) / double(quantized_params) : 0.0;
  json ts = json::array();
  for (const auto& t : tensors) {
    json e = {{"name", t.name}, {"shape", t.shape}, {"dtype", std::string(dtype_info(t.dtype).safetensors_name)},
              {"bytes_in", t.bytes_in}, {"bytes_out", t.bytes_out}};
    if (t.scheme.empty()) {
      e["scheme"] = nullptr;
    } else {
      e["scheme"] = t.scheme;
      e["bits_per_weight"] = 8.0 * double(t.bytes_out) / double(t.error.count);
      e["error"] = stats(t.error);
    }
    ts.push_back(std::move(e));
  }
  j["tensors"] = std::move(ts);
  return j.dump(1);
}

}  // namespace lowbit
