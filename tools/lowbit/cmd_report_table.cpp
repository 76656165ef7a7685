// `lowbit report-table REPORT.json...`: one line per `lowbit quantize --report` file with
// the scheme, file size, bits per weight and whole-model SQNR / cosine / MSE, so the
// README's main job prints numbers that come straight from the runs.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "lowbit/error.h"

namespace lowbit::cli {

void register_report_table(CLI::App& app) {
  auto* cmd = app.add_subcommand("report-table", "Tabulate `lowbit quantize --report` JSON files");
  static std::vector<std::string> files;
  cmd->add_option("reports", files, "report JSON files")->required()->check(CLI::ExistingFile);
  cmd->callback([] {
    std::printf("%-28s %11s %8s %9s %10s %10s %11s %12s\n", "scheme", "file MB", "vs fp32", "bpw(q)", "SQNR dB",
                "cosine", "MSE", "max |err|");
    bool header_done = false;
    for (const auto& f : files) {
      std::ifstream in(f);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(in);
      } catch (const std::exception& e) {
        fail(f, ": not a lowbit report (", e.what(), ")");
      }
      if (!header_done) {
        std::printf("%-28s %11.2f %8s %9s %10s %10s %11s %12s   (%lld params, %lld quantized)\n", "fp32 (input)",
                    j.at("input_bytes").get<double>() / 1e6, "1.00x", "32", "inf", "1", "0", "0",
                    j.at("params").get<long long>(), j.at("quantized_params").get<long long>());
        header_done = true;
      }
      const auto& m = j.at("model");
      const double sq = m.at("sqnr_db").is_null() ? INFINITY : m.at("sqnr_db").get<double>();
      std::printf("%-28s %11.2f %7.2fx %9.3f %10.2f %10.6f %11.3e %12.3e\n", j.at("scheme").get<std::string>().c_str(),
                  j.at("output_bytes").get<double>() / 1e6,
                  j.at("input_bytes").get<double>() / j.at("output_bytes").get<double>(),
                  m.at("bits_per_weight").get<double>(), sq, m.at("cosine").get<double>(), m.at("mse").get<double>(),
                  m.at("max_abs_err").get<double>());
    }
  });
}

}  // namespace lowbit::cli
