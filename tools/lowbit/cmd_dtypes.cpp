// `lowbit dtypes`: prints the element-type table (sizes, ranges, accumulation types).
#include <cstdio>

#include "commands.h"
#include "lowbit/dtype.h"

namespace lowbit::cli {

void register_dtypes(CLI::App& app) {
  auto* cmd = app.add_subcommand("dtypes", "Print the element types with their ranges and accumulators");
  cmd->callback([] {
    std::printf("%-12s %-12s %5s %-26s %-26s %-24s %-24s %s\n", "dtype", "st-name", "bytes", "min", "max",
                "smallest normal", "smallest subnormal", "accumulate in");
    for (const auto& d : dtype_table()) {
      std::printf("%-12.*s %-12.*s %5zu %-26.*s %-26.*s %-24.*s %-24.*s %.*s\n", int(d.name.size()),
                  d.name.data(), int(d.safetensors_name.size()), d.safetensors_name.data(), d.bytes,
                  int(d.min_value.size()), d.min_value.data(), int(d.max_value.size()), d.max_value.data(),
                  int(d.smallest_normal.size()), d.smallest_normal.data(), int(d.smallest_subnormal.size()),
                  d.smallest_subnormal.data(), int(d.accumulator.size()), d.accumulator.data());
    }
  });
}

}  // namespace lowbit::cli
