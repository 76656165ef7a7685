// llama-perplexity's saved-logits format (see llama_logits_file.h): the compression is
// tools/perplexity/perplexity.cpp's log_softmax with its nearest_int (round half to even
// by the 1.5*2^23 trick), so files lowbit writes match the ones llama.cpp writes.
#include "eval/llama_logits_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lowbit/error.h"

namespace lowbit::eval {
namespace {

int nearest_int(float f) {
  const float v = f + 12582912.f;
  std::int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

}  // namespace

double compress_log_probs(const float* logits, std::int32_t n_vocab, std::uint16_t* out, std::int32_t tok) {
  float max_logit = logits[0], min_logit = logits[0];
  for (std::int32_t i = 1; i < n_vocab; ++i) {
    max_logit = std::max(max_logit, logits[i]);
    min_logit = std::min(min_logit, logits[i]);
  }
  min_logit = std::max(min_logit, max_logit - 16);
  double sum_exp = 0.0;
  for (std::int32_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
  const float log_sum_exp = static_cast<float>(std::log(sum_exp));
  const float min_log_prob = min_logit - max_logit - log_sum_exp;
  const float scale = (max_logit - min_logit) / 65535.f;
  std::memcpy(out, &scale, 4);
  std::memcpy(out + 2, &min_log_prob, 4);
  std::uint16_t* q = out + 4;
  const std::int64_t padded = 2 * ((static_cast<std::int64_t>(n_vocab) + 1) / 2);
  std::fill(q, q + padded, std::uint16_t{0});
  if (scale != 0.0f) {
    const float inv_scale = 1 / scale;
    for (std::int32_t i = 0; i < n_vocab; ++i)
      q[i] = logits[i] > min_logit ? static_cast<std::uint16_t>(nearest_int(inv_scale * (logits[i] - min_logit))) : 0;
  }
  return static_cast<double>(max_logit + log_sum_exp - logits[tok]);
}

LogitsFileReader::LogitsFileReader(const std::filesystem::path& path) : path_(path), in_(path, std::ios::binary) {
  const std::string src = path.string();
  if (!in_) fail(src, ": cannot open");
  char magic[8];
  std::uint32_t n_ctx = 0;
  if (!in_.read(magic, 8) || std::memcmp(magic, "_logits_", 8) != 0)
    fail(src, ": offset 0: not a llama-perplexity logits file (no \"_logits_\" magic)");
  in_.read(reinterpret_cast<char*>(&n_ctx), 4);
  in_.read(reinterpret_cast<char*>(&h_.n_vocab), 4);
  in_.read(reinterpret_cast<char*>(&h_.n_chunk), 4);
  if (!in_) fail(src, ": offset 8: truncated header");
  if (n_ctx < 4 || n_ctx > (1u << 24)) fail(src, ": offset 8: n_ctx ", n_ctx, " is out of range");
  if (h_.n_vocab <= 0 || h_.n_vocab > (1 << 24)) fail(src, ": offset 12: n_vocab ", h_.n_vocab, " is out of range");
  if (h_.n_chunk <= 0) fail(src, ": offset 16: n_chunk ", h_.n_chunk, " is not positive");
  h_.n_ctx = static_cast<std::int32_t>(n_ctx);
  const std::uint64_t size = std::filesystem::file_size(path);
  const std::uint64_t n_tokens = static_cast<std::uint64_t>(h_.n_ctx) * static_cast<std::uint64_t>(h_.n_chunk);
  const std::uint64_t chunk_bytes =
      static_cast<std::uint64_t>(h_.scored_per_chunk()) * static_cast<std::uint64_t>(h_.row_u16()) * 2;
  const std::uint64_t want = 20 + n_tokens * 4 + chunk_bytes * static_cast<std::uint64_t>(h_.n_chunk);
  if (n_tokens > (1ull << 32) || size != want)
    fail(src, ": ", size, " bytes, but a file of ", h_.n_chunk, " chunks of ", h_.n_ctx, " tokens over a vocabulary of ",
         h_.n_vocab, " holds ", want);
  h_.tokens.resize(n_tokens);
  in_.read(reinterpret_cast<char*>(h_.tokens.data()), static_cast<std::streamsize>(n_tokens * 4));
  if (!in_) fail(src, ": offset 20: truncated token list");
  for (std::size_t i = 0; i < h_.tokens.size(); ++i)
    if (h_.tokens[i] < 0 || h_.tokens[i] >= h_.n_vocab)
      fail(src, ": offset ", 20 + 4 * i, ": token ", h_.tokens[i], " outside the vocabulary of ", h_.n_vocab);
}

void LogitsFileReader::read_chunk(int c, std::vector<std::uint16_t>& rows) {
  const std::int64_t n = h_.scored_per_chunk() * h_.row_u16();
  rows.resize(static_cast<std::size_t>(n));
  const std::uint64_t off = 20 + static_cast<std::uint64_t>(h_.tokens.size()) * 4 +
                            static_cast<std::uint64_t>(c) * static_cast<std::uint64_t>(n) * 2;
  in_.seekg(static_cast<std::streamoff>(off));
  in_.read(reinterpret_cast<char*>(rows.data()), n * 2);
  if (!in_) fail(path_.string(), ": offset ", off, ": truncated log-probabilities of chunk ", c);
}

}  // namespace lowbit::eval
