// shown_name: see shown_name.h.
#include "io/shown_name.h"

namespace lowbit {

std::string shown_name(std::string_view s, std::size_t max_bytes) {
  std::string out = "'";
  for (char c : s.substr(0, max_bytes)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + (s.size() > max_bytes ? "...'" : "'");
}

}  // namespace lowbit
