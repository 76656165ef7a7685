// A text's non-empty lines as sentence-encoder inputs (lowbit perplexity --base, and the
// calibration and evaluation sentences of an encoder's PTQ): [CLS] ... [SEP], cut to the
// model's positions keeping the closing [SEP] as transformers' truncation does.
#pragma once
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "lowbit/tokenizer.h"

namespace lowbit::cli {

inline std::vector<std::vector<std::int32_t>> encoder_sentences(const Tokenizer& tok, const std::string& text,
                                                                std::size_t max_len, int max_sentences) {
  std::vector<std::vector<std::int32_t>> sentences;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line) && static_cast<int>(sentences.size()) < max_sentences;) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto ids = tok.encode(line, true, false);
    if (ids.size() > max_len) {
      const auto last = ids.back();
      ids.resize(max_len);
      ids.back() = last;
    }
    sentences.push_back(std::move(ids));
  }
  return sentences;
}

}  // namespace lowbit::cli
