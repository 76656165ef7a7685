// Whole-file helpers the tests share: a file's bytes as a string, and raw arrays of
// trivially copyable values (the .f32/.i32 files peers and lowbit exchange).
#pragma once
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace lowbit::testing {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

template <class T>
std::vector<T> read_raw(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<T> v(std::filesystem::file_size(p) / sizeof(T));
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  return v;
}

template <class T>
void write_raw(const std::filesystem::path& p, const std::vector<T>& v) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

}  // namespace lowbit::testing
