// Entry point of the `lowbit` CLI: builds the verb table and turns every failure into
// one "lowbit: error: ..." line on stderr and exit code 1 (2 for usage errors).
#include <cstdio>
#include <exception>

#include "commands.h"
#include "lowbit/error.h"

int main(int argc, char** argv) {
  CLI::App app{"lowbit: quantize neural networks and measure what it cost"};
  app.require_subcommand(1);
  lowbit::cli::register_dtypes(app);
  lowbit::cli::register_inspect(app);
  lowbit::cli::register_quantize(app);
  lowbit::cli::register_dequantize(app);
  lowbit::cli::register_report_table(app);
  lowbit::cli::register_corpus(app);
  lowbit::cli::register_perplexity(app);
  lowbit::cli::register_generate(app);
  lowbit::cli::register_calibrate(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lowbit: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
