// `lowbit quantize` (placeholder until its implementation lands in this issue).
#include "commands.h"
#include "lowbit/error.h"

namespace lowbit::cli {

void register_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "not implemented yet");
  cmd->callback([] { fail("quantize: not implemented yet"); });
}

}  // namespace lowbit::cli
