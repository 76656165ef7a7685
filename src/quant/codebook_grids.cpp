// Fixed codebook grids: NormalFloat4 from QLoRA (Dettmers et al. 2023, appendix E,
// equal-area quantiles of N(0,1) with an exact zero, normalised to [-1, 1]) and grids a
// user writes as "v0,v1,...". Used with one absmax scale per block.
#include <array>
#include <charconv>
#include <cmath>
#include <string>

#include "lowbit/codebook.h"
#include "lowbit/error.h"

namespace lowbit {
namespace {

// Copied from the QLoRA paper, appendix E (the same float32 table bitsandbytes ships in
// its NF4 dequantisation kernel). tests/peers/quant_codebook_nf4.py recomputes it as
// create_normal_map(offset=0.9677083, use_extra_value=True) does:
//   q_i = Phi^-1(p_i), p = linspace(0.9677083, 0.5, 9)[:-1] (8 positives),
//   p = linspace(0.9677083, 0.5, 8)[:-1] (7 negatives, sign flipped), plus 0,
//   then everything divided by the largest value.
constexpr std::array<float, 16> kNF4 = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::span<const float> nf4_grid() { return kNF4; }

std::vector<float> named_grid(std::string_view name) {
  if (name == "nf4") return {kNF4.begin(), kNF4.end()};
  fail("unknown codebook grid '", name, "' (known: nf4)");
}

std::vector<float> parse_grid(std::string_view text) {
  std::vector<float> grid;
  std::size_t pos = 0;
  while (true) {
    const std::size_t entry = grid.size();
    std::size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    std::size_t b = pos, e = end;
    while (b < e && is_blank(text[b])) ++b;
    while (e > b && is_blank(text[e - 1])) --e;
    if (b == e) fail("grid '", text, "': entry ", entry, " at offset ", pos, " is empty");
    // from_chars rejects a leading '+', which people do write.
    std::size_t nb = b + (text[b] == '+' && e - b > 1 ? 1 : 0);
    float v = 0.0f;
    const auto r = std::from_chars(text.data() + nb, text.data() + e, v);
    if (r.ec != std::errc() || r.ptr != text.data() + e)
      fail("grid '", text, "': entry ", entry, " at offset ", b, " ('", text.substr(b, e - b),
           "') is not a number");
    if (!std::isfinite(v))
      fail("grid '", text, "': entry ", entry, " at offset ", b, " is not finite");
    if (!grid.empty() && !(v > grid.back()))
      fail("grid '", text, "': entry ", entry, " at offset ", b, " (", v, ") must be greater than entry ",
           entry - 1, " (", grid.back(), "): grids are strictly ascending");
    if (grid.size() == static_cast<std::size_t>(kMaxCodebookSize))
      fail("grid '", text.substr(0, 40), "...': more than ", kMaxCodebookSize, " entries (codes are 8-bit)");
    grid.push_back(v);
    if (end == text.size()) break;
    pos = end + 1;
  }
  return grid;
}

}  // namespace lowbit
