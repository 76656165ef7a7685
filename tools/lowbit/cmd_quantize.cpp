// `lowbit quantize IN OUT --scheme SPEC`: RTN-quantizes every floating-point tensor of
// two or more dimensions (others are copied), writes lowbit's safetensors layout
// atomically, prints the whole-model error and optionally the per-tensor report.
#include <cstdio>
#include <fstream>

#include "commands.h"
#include "lowbit/error.h"
#include "lowbit/gguf_model.h"
#include "lowbit/quantized_model.h"
#include "lowbit/safetensors.h"
#include "progress.h"

namespace lowbit::cli {
namespace {

struct Args {
  std::string in, out, scheme, report, method = "rtn";
  std::vector<std::string> skip;
  int threads = 0;
  bool quiet = false, per_tensor = false;
};

void print_tensor_table(const ModelReport& r) {
  std::printf("%-48s %-16s %8s %10s %12s %10s\n", "tensor", "shape", "bpw", "SQNR dB", "MSE", "cosine");
  for (const auto& t : r.tensors) {
    if (t.scheme.empty()) continue;
    std::string shape;
    for (std::size_t i = 0; i < t.shape.size(); ++i) shape += (i ? "x" : "") + std::to_string(t.shape[i]);
    std::printf("%-48.48s %-16s %8.3f %10.2f %12.4e %10.6f\n", t.name.c_str(), shape.c_str(),
                8.0 * double(t.bytes_out) / double(t.error.count), t.error.sqnr_db(), t.error.mse(), t.error.cosine());
  }
}

}  // namespace

void register_quantize(CLI::App& app) {
  static Args a;
  static GgufQuantizeArgs g;
  static PtqArgs p;
  auto* cmd = app.add_subcommand("quantize", "Quantize a safetensors model (file, directory or sharded index) or a GGUF");
  cmd->add_option("input", a.in, "input .safetensors, model directory, index.json or .gguf")->required();
  cmd->add_option("output", a.out, "output .safetensors (or .gguf for a GGUF input); PTQ methods: optional");
  cmd->add_option("--scheme", a.scheme,
                  "SPEC, e.g. int8:channel:sym, int4:g128:asym, nf4:g64, kmeans4:channel; gguf:Q4_K_M for GGUF")
      ->required();
  add_gguf_quantize_options(cmd, g);
  add_ptq_options(cmd, p);
  cmd->add_option("--method", a.method,
                  "algorithm: rtn, or layer-wise PTQ of a decoder (rtn-mse, gptq, awq, kmeans, hqq, smoothquant; rtn with --calib)")
      ->check(CLI::IsMember({"rtn", "rtn-mse", "gptq", "awq", "kmeans", "hqq", "smoothquant"}));
  cmd->add_option("--report", a.report, "write the per-tensor error report as JSON");
  cmd->add_option("--skip", a.skip, "regex of tensor names to keep unquantized (repeatable)");
  cmd->add_option("--threads", a.threads, "worker threads (0 = all cores)");
  cmd->add_flag("--per-tensor", a.per_tensor, "print the per-tensor error table");
  cmd->add_flag("-q,--quiet", a.quiet, "no progress bar, only errors");
  cmd->callback([] {
    const bool gguf_scheme = a.scheme.rfind("gguf:", 0) == 0;
    if (a.method != "rtn" || !p.calib.empty() || !p.format.empty() || !p.eval_text.empty() ||
        (is_gguf_file(a.in) && !gguf_scheme)) {
      p.in = a.in, p.out = a.out, p.scheme = a.scheme, p.report = a.report, p.method = a.method;
      p.threads = a.threads, p.quiet = a.quiet, p.per_tensor = a.per_tensor;
      run_quantize_ptq(p);
      return;
    }
    if (a.out.empty()) fail("an output file is needed");
    if (is_gguf_file(a.in)) {
      g.in = a.in, g.out = a.out, g.scheme = a.scheme, g.report = a.report;
      g.threads = a.threads, g.quiet = a.quiet, g.per_tensor = a.per_tensor;
      run_quantize_gguf(g);
      return;
    }
    if (a.scheme.rfind("gguf:", 0) == 0)
      fail("--scheme ", a.scheme, " needs a GGUF input; ", a.in, " is not one (convert it with llama.cpp's ",
           "convert_hf_to_gguf.py first)");
    QuantizeOptions opt;
    opt.scheme = parse_scheme(a.scheme);
    opt.threads = a.threads;
    for (const auto& s : a.skip) {
      try {
        opt.skip.emplace_back(s);
      } catch (const std::regex_error& e) {
        fail("--skip '", s, "' is not a valid regular expression (", e.what(), ")");
      }
    }
    const auto ckpt_count = SafetensorsCheckpoint::open(a.in).tensors().size();
    Progress progress(ckpt_count, a.quiet);
    opt.on_tensor = [&](const std::string& name) { progress.step(name); };
    const ModelReport r = quantize_checkpoint(a.in, a.out, opt);
    if (!a.report.empty()) {
      const std::string tmp = a.report + ".tmp";
      {
        std::ofstream f(tmp);
        f << r.to_json() << "\n";
        if (!f) fail("cannot write report ", tmp);
      }
      std::filesystem::rename(tmp, a.report);
    }
    if (a.per_tensor) print_tensor_table(r);
    if (!a.quiet)
      std::printf("%s: %llu tensors (%llu params, %llu quantized) -> %s, %.2f MB (%.2fx smaller), bpw %.3f, "
                  "SQNR %.2f dB, cosine %.6f, MSE %.4e\n",
                  r.scheme.c_str(), (unsigned long long)r.tensors.size(), (unsigned long long)r.params,
                  (unsigned long long)r.quantized_params, r.output.c_str(), double(r.output_bytes) / 1e6,
                  double(r.input_bytes) / double(r.output_bytes),
                  r.quantized_params ? 8.0 * double(r.quantized_bytes) / double(r.quantized_params) : 0.0,
                  r.model.sqnr_db(), r.model.cosine(), r.model.mse());
  });
}

}  // namespace lowbit::cli
