// `lowbit inspect` (placeholder until its implementation lands in this issue).
#include "commands.h"
#include "lowbit/error.h"

namespace lowbit::cli {

void register_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "not implemented yet");
  cmd->callback([] { fail("inspect: not implemented yet"); });
}

}  // namespace lowbit::cli
