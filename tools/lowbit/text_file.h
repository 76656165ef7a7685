// Reading a whole text file for the verbs that take --text (perplexity, calibrate),
// with the error naming the file.
#pragma once
#include <fstream>
#include <sstream>
#include <string>

#include "lowbit/error.h"

namespace lowbit::cli {

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open the text file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace lowbit::cli
