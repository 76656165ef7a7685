// libFuzzer target for the llama-perplexity saved-logits reader (--kld-base): any input
// must either open or throw lowbit::Error, and an opened file must yield every chunk at
// the size its header promises. The reader takes a path, so each input is written to a
// per-process scratch file first.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "eval/llama_logits_file.h"
#include "lowbit/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/fuzz_llama_logits." + std::to_string(::getpid());
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    lowbit::eval::LogitsFileReader r(path);
    const auto& h = r.header();
    std::vector<std::uint16_t> rows;
    for (int c = 0; c < h.n_chunk; ++c) {
      r.read_chunk(c, rows);
      if (static_cast<std::int64_t>(rows.size()) != h.scored_per_chunk() * h.row_u16()) std::abort();
    }
  } catch (const lowbit::Error&) {
  }
  return 0;
}
