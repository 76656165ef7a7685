// `lowbit quantize IN.gguf OUT.gguf --scheme gguf:TYPE`: llama-quantize's job, with its
// per-tensor type rules and options, an optional imatrix, a per-tensor table (type
// chosen, fallback notes, error vs the input) and a JSON report.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/gguf_model.h"
#include "progress.h"

namespace lowbit::cli {

namespace {

ggml::Type parse_type(const std::string& s, const char* flag) {
  const ggml::TypeTraits* t = ggml::traits_by_name(s);
  if (!t || !t->quantize) fail(flag, " '", s, "' is not a ggml type lowbit can write (e.g. q4_K, q8_0, f16)");
  return t->type;
}

std::string ne_str(const std::vector<std::int64_t>& ne) {
  std::string s;
  for (std::size_t i = 0; i < ne.size(); ++i) s += (i ? "x" : "") + std::to_string(ne[i]);
  return s;
}

nlohmann::json to_json(const GgufQuantizeReport& r, const GgufQuantizeArgs& a) {
  nlohmann::json j;
  j["input"] = a.in;
  j["output"] = a.out;
  j["scheme"] = a.scheme;
  j["params"] = r.params;
  j["bytes_in"] = r.bytes_in;
  j["bytes_out"] = r.bytes_out;
  j["bits_per_weight"] = r.bits_per_weight();
  j["sqnr_db"] = r.error.sqnr_db();
  j["cosine"] = r.error.cosine();
  j["mse"] = r.error.mse();
  for (const auto& t : r.tensors) {
    nlohmann::json e{{"name", t.name}, {"ne", t.ne}, {"from", ggml::traits(t.from).name},
                     {"to", ggml::traits(t.to).name}, {"converted", t.converted}, {"imatrix", t.used_imatrix},
                     {"note", t.note}, {"params", t.params}, {"bytes", t.bytes_out},
                     {"bpw", t.params ? 8.0 * double(t.bytes_out) / double(t.params) : 0.0}};
    if (t.converted) {
      const double s = t.error.sqnr_db();
      e["sqnr_db"] = std::isfinite(s) ? nlohmann::json(s) : nlohmann::json("inf");
      e["mse"] = t.error.mse();
    }
    j["tensors"].push_back(e);
  }
  return j;
}

}  // namespace

void add_gguf_quantize_options(CLI::App* cmd, GgufQuantizeArgs& a) {
  cmd->add_option("--imatrix", a.imatrix, "llama.cpp importance matrix (GGUF or legacy .dat) for gguf: schemes");
  cmd->add_flag("--pure", a.pure, "gguf: every quantizable tensor gets the scheme's default type");
  cmd->add_flag("--leave-output-tensor", a.leave_output, "gguf: keep output.weight as it is");
  cmd->add_option("--output-tensor-type", a.output_type, "gguf: type of output.weight (e.g. q8_0)");
  cmd->add_option("--token-embedding-type", a.embd_type, "gguf: type of token_embd.weight");
  cmd->add_option("--tensor-type", a.tensor_types, "gguf: REGEX=TYPE override, first match wins (repeatable)");
}

void run_quantize_gguf(const GgufQuantizeArgs& a) {
  if (a.scheme.rfind("gguf:", 0) != 0)
    fail(a.in, " is a GGUF file: use a --scheme gguf:TYPE (e.g. gguf:Q4_K_M), not '", a.scheme, "'");
  GgufQuantizeOptions opt;
  const auto ft = ggml::parse_file_type(a.scheme.substr(5));
  if (!ft) fail("--scheme ", a.scheme, ": unknown llama.cpp file type (Q4_0, Q4_K_M, Q6_K, IQ4_XS, ...)");
  opt.ftype = *ft;
  opt.threads = a.threads;
  opt.mix.pure = a.pure;
  opt.mix.quantize_output_tensor = !a.leave_output;
  if (!a.output_type.empty()) opt.mix.output_tensor_type = parse_type(a.output_type, "--output-tensor-type");
  if (!a.embd_type.empty()) opt.mix.token_embedding_type = parse_type(a.embd_type, "--token-embedding-type");
  for (const auto& tt : a.tensor_types) {
    const auto eq = tt.rfind('=');
    if (eq == std::string::npos || eq == 0) fail("--tensor-type '", tt, "' must be REGEX=TYPE");
    opt.mix.tensor_types.push_back({tt.substr(0, eq), parse_type(tt.substr(eq + 1), "--tensor-type")});
  }
  std::optional<Imatrix> imatrix;
  if (!a.imatrix.empty()) {
    imatrix = Imatrix::load(a.imatrix);
    opt.imatrix = &*imatrix;
    opt.imatrix_path = a.imatrix;
  }
  Progress progress(GgufFile::open(a.in).tensors().size(), a.quiet);
  opt.on_tensor = [&](const std::string& n) { progress.step(n); };
  opt.on_warning = [](const std::string& m) { std::fprintf(stderr, "lowbit: warning: %s\n", m.c_str()); };
  const GgufQuantizeReport r = quantize_gguf(a.in, a.out, opt);

  if (!a.report.empty()) {
    const std::string tmp = a.report + ".tmp";
    {
      std::ofstream f(tmp);
      f << to_json(r, a).dump(1) << "\n";
      if (!f) fail("cannot write report ", tmp);
    }
    std::filesystem::rename(tmp, a.report);
  }
  if (a.per_tensor) {
    std::printf("%-40s %-16s %-8s %-8s %7s %9s  %s\n", "tensor", "ne", "from", "to", "bpw", "SQNR dB", "note");
    for (const auto& t : r.tensors)
      std::printf("%-40.40s %-16s %-8s %-8s %7.3f %9s  %s\n", t.name.c_str(), ne_str(t.ne).c_str(),
                  ggml::traits(t.from).name, ggml::traits(t.to).name, 8.0 * double(t.bytes_out) / double(t.params),
                  t.converted ? std::to_string(t.error.sqnr_db()).substr(0, 6).c_str() : "copied", t.note.c_str());
  }
  std::size_t fallbacks = 0;
  for (const auto& t : r.tensors) fallbacks += t.note.rfind("fallback", 0) == 0;
  if (!a.quiet)
    std::printf("%s: %zu tensors (%llu params) -> %s, %.2f MB, %.3f bits per weight, %zu fallback(s); "
                "converted tensors vs input: SQNR %.2f dB, cosine %.6f\n",
                a.scheme.c_str(), r.tensors.size(), (unsigned long long)r.params, a.out.c_str(),
                double(r.bytes_out) / 1e6, r.bits_per_weight(), fallbacks, r.error.sqnr_db(), r.error.cosine());
}

}  // namespace lowbit::cli
