// `lowbit dequantize IN OUT [--dtype f32|f16|bf16]`: turns a lowbit-quantized safetensors
// file, or any GGUF whose types lowbit decodes, into plain safetensors tensors with the
// original names (GGUF shapes reversed into row-major order).
#include "commands.h"
#include "lowbit/dtype.h"
#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/gguf_model.h"
#include "lowbit/quantized_model.h"
#include "lowbit/safetensors.h"
#include "progress.h"

namespace lowbit::cli {

void register_dequantize(CLI::App& app) {
  static std::string in, out, dtype = "f32";
  static int threads = 0;
  static bool quiet = false;
  auto* cmd = app.add_subcommand("dequantize", "Restore a lowbit-quantized file to f32/f16/bf16 tensors");
  cmd->add_option("input", in, "lowbit-quantized .safetensors or a .gguf")->required();
  cmd->add_option("output", out, "output .safetensors")->required();
  cmd->add_option("--dtype", dtype, "output dtype")->check(CLI::IsMember({"f32", "f16", "bf16"}));
  cmd->add_option("--threads", threads, "worker threads (0 = all cores)");
  cmd->add_flag("-q,--quiet", quiet, "no progress bar");
  cmd->callback([] {
    const DType dt = *dtype_from_name(dtype);
    if (is_gguf_file(in)) {
      Progress progress(GgufFile::open(in).tensors().size(), quiet);
      dequantize_gguf(in, out, dt, threads, [&](const std::string& n) { progress.step(n); });
      return;
    }
    Progress progress(logical_tensors(SafetensorsCheckpoint::open(in)).size(), quiet);
    dequantize_checkpoint(in, out, dt, threads, [&](const std::string& n) { progress.step(n); });
  });
}

}  // namespace lowbit::cli
