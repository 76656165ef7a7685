// The CLI's verbs. Each lives in its own cmd_<verb>.cpp and registers a CLI11
// subcommand whose callback does the work; errors surface as lowbit::Error.
#pragma once
#include <CLI/CLI.hpp>

namespace lowbit::cli {

void register_dtypes(CLI::App& app);
void register_inspect(CLI::App& app);
void register_quantize(CLI::App& app);
void register_dequantize(CLI::App& app);
void register_report_table(CLI::App& app);

}  // namespace lowbit::cli
