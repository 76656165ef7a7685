// `lowbit inspect FILE|DIR`: every tensor (dtype, shape, parameters, bytes, and for
// quantized tensors the scheme and bits per weight), then the totals: parameter count,
// memory of the weights at fp32/fp16/int8/int4, and the training-memory arithmetic
// (weights + gradients + AdamW's two fp32 moments = 8 bytes per parameter).
#include <cstdio>
#include <string>

#include "commands.h"
#include "lowbit/error.h"
#include "lowbit/gguf_model.h"
#include "lowbit/quantized_model.h"
#include "lowbit/quantized_parts.h"
#include "lowbit/safetensors.h"

namespace lowbit::cli {
namespace {

std::string human(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000.0 && u < 4) bytes /= 1000.0, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", bytes, units[u]);
  return buf;
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

void register_inspect(CLI::App& app) {
  static std::string path;
  static bool summary = false;
  auto* cmd = app.add_subcommand("inspect", "List tensors, sizes and memory estimates of a safetensors or GGUF model");
  cmd->add_option("path", path, ".safetensors file, model directory, index.json or .gguf")->required();
  cmd->add_flag("--summary", summary, "totals only");
  cmd->callback([] {
    if (is_gguf_file(path)) {
      inspect_gguf(path, summary);
      return;
    }
    const auto ckpt = SafetensorsCheckpoint::open(path);
    const auto tensors = logical_tensors(ckpt);
    std::uint64_t params = 0, stored = 0, qparams = 0, qstored = 0;
    if (!summary)
      std::printf("%-52s %-8s %-20s %12s %12s  %s\n", "tensor", "dtype", "shape", "params", "bytes", "scheme (bpw)");
    for (const auto& t : tensors) {
      std::int64_t n = 1;
      for (auto d : t.shape) n *= d;
      std::uint64_t bytes = 0;
      std::string scheme = "-";
      if (t.scheme) {
        for (const auto& p : quantized_part_decls(t.name, t.shape, *t.scheme)) bytes += p.bytes();
        char buf[96];
        std::snprintf(buf, sizeof buf, "%s (%.3f)", t.scheme->spec().c_str(), n ? 8.0 * double(bytes) / double(n) : 0.0);
        scheme = buf;
        qparams += std::uint64_t(n);
        qstored += bytes;
      } else {
        bytes = t.view->data.size();
      }
      params += std::uint64_t(n);
      stored += bytes;
      if (!summary)
        std::printf("%-52.52s %-8s %-20s %12lld %12llu  %s\n", t.name.c_str(),
                    std::string(dtype_name(t.dtype)).c_str(), shape_str(t.shape).c_str(), (long long)n,
                    (unsigned long long)bytes, scheme.c_str());
    }
    const double p = double(params);
    std::printf("\n%s: %zu tensors in %zu file(s)\n", path.c_str(), tensors.size(), ckpt.shard_count());
    std::printf("parameters       %llu (%.2f M)\n", (unsigned long long)params, p / 1e6);
    std::printf("stored bytes     %llu (%s), %.3f bits per parameter\n", (unsigned long long)stored,
                human(double(stored)).c_str(), params ? 8.0 * double(stored) / p : 0.0);
    if (qparams)
      std::printf("quantized        %llu parameters in %s, %.3f bits per weight\n", (unsigned long long)qparams,
                  human(double(qstored)).c_str(), 8.0 * double(qstored) / double(qparams));
    std::printf("weights at       fp32 %s | fp16/bf16 %s | int8 %s | int4 %s\n", human(4 * p).c_str(),
                human(2 * p).c_str(), human(p).c_str(), human(p / 2).c_str());
    std::printf("training memory  fp32 weights + fp32 grads + AdamW 8 B/param = 16 B/param: %s\n",
                human(16 * p).c_str());
    std::printf("                 fp16 weights + fp16 grads + AdamW 8 B/param = 12 B/param: %s (activations not included)\n",
                human(12 * p).c_str());
  });
}

}  // namespace lowbit::cli
