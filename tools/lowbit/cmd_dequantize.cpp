// `lowbit dequantize` (placeholder until its implementation lands in this issue).
#include "commands.h"
#include "lowbit/error.h"

namespace lowbit::cli {

void register_dequantize(CLI::App& app) {
  auto* cmd = app.add_subcommand("dequantize", "not implemented yet");
  cmd->callback([] { fail("dequantize: not implemented yet"); });
}

}  // namespace lowbit::cli
