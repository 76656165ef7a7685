// llama-perplexity's saved-logits file (--kl-divergence-base), read and written by lowbit:
//   "_logits_" | u32 n_ctx | i32 n_vocab | i32 n_chunk | i32 tokens[n_chunk * n_ctx] |
//   per chunk, per scored position (n_ctx - 1 - n_ctx/2 of them): f32 scale, f32 min,
//   u16 q[2 * ((n_vocab + 1) / 2)] with log p_i = min + scale * q_i (q = 0 below max-16).
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <vector>

namespace lowbit::eval {

struct LogitsFileHeader {
  std::int32_t n_ctx = 0, n_vocab = 0, n_chunk = 0;
  std::vector<std::int32_t> tokens;
  std::int64_t row_u16() const { return 2 * ((static_cast<std::int64_t>(n_vocab) + 1) / 2) + 4; }
  std::int64_t scored_per_chunk() const { return n_ctx - 1 - n_ctx / 2; }
};

// Compresses one logits row into `out` (row_u16 values); returns the row's nll of tok.
double compress_log_probs(const float* logits, std::int32_t n_vocab, std::uint16_t* out, std::int32_t tok);

class LogitsFileReader {
 public:
  // Validates the header and that the file holds exactly n_chunk chunks of rows.
  explicit LogitsFileReader(const std::filesystem::path& path);
  const LogitsFileHeader& header() const { return h_; }
  // Rows of chunk c, in order (call with c = 0, 1, ...).
  void read_chunk(int c, std::vector<std::uint16_t>& rows);

 private:
  std::filesystem::path path_;
  std::ifstream in_;
  LogitsFileHeader h_;
};

}  // namespace lowbit::eval
