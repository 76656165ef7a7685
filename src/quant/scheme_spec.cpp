// SPEC string parser/printer for lowbit::Scheme. Tokens are ':'-separated; the first is
// the element type, then granularity and options in any order. Unknown or conflicting
// tokens are errors that quote the token: a silently ignored option would be a wrong model.
#include <cstdlib>
#include <sstream>

#include "lowbit/codebook.h"
#include "lowbit/error.h"
#include "lowbit/scheme.h"

namespace lowbit {
namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;  // grid[...] may contain separators of its own
  for (char c : s) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == sep && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

bool parse_int(std::string_view s, std::int64_t& v) {
  if (s.empty()) return false;
  std::string tmp(s);
  char* end = nullptr;
  long long x = std::strtoll(tmp.c_str(), &end, 10);
  if (*end != '\0') return false;
  v = x;
  return true;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

void parse_type(const std::string& t, Scheme& s, std::string_view spec) {
  std::int64_t b = 0;
  if (t == "fp16" || t == "f16") {
    s.kind = SchemeKind::Float, s.float_format = FloatFormat::F16, s.bits = 16;
  } else if (t == "bf16") {
    s.kind = SchemeKind::Float, s.float_format = FloatFormat::BF16, s.bits = 16;
  } else if (t == "fp8e4m3" || t == "fp8") {
    s.kind = SchemeKind::Float, s.float_format = FloatFormat::E4M3, s.bits = 8;
  } else if (t == "fp8e5m2") {
    s.kind = SchemeKind::Float, s.float_format = FloatFormat::E5M2, s.bits = 8;
  } else if (t == "nf4") {
    s.kind = SchemeKind::Grid, s.bits = 4, s.grid = named_grid("nf4"), s.grid_name = "nf4";
  } else if (starts_with(t, "grid[") && t.back() == ']') {
    s.kind = SchemeKind::Grid;
    s.grid = parse_grid(std::string_view(t).substr(5, t.size() - 6));
    int bits = 1;
    while ((std::size_t{1} << bits) < s.grid.size()) ++bits;
    s.bits = bits;
  } else if (starts_with(t, "kmeans") && parse_int(std::string_view(t).substr(6), b)) {
    if (b < 1 || b > 8) fail("scheme '", spec, "': kmeans needs 1..8 bits, got ", b);
    s.kind = SchemeKind::KMeans, s.bits = int(b);
  } else if (starts_with(t, "uint") && parse_int(std::string_view(t).substr(4), b)) {
    s.kind = SchemeKind::Affine, s.bits = int(b), s.is_signed = false;
  } else if (starts_with(t, "int") && parse_int(std::string_view(t).substr(3), b)) {
    s.kind = SchemeKind::Affine, s.bits = int(b), s.is_signed = true;
  } else {
    fail("scheme '", spec, "': unknown type '", t,
         "' (int2..int8, int16, uint2..uint8, uint16, kmeans1..8, nf4, grid[...], fp16, bf16, fp8e4m3, fp8e5m2)");
  }
  if (s.kind == SchemeKind::Affine && !((s.bits >= 2 && s.bits <= 8) || s.bits == 16))
    fail("scheme '", spec, "': integer codes need 2..8 or 16 bits, got ", s.bits);
}

}  // namespace

Scheme parse_scheme(std::string_view spec) {
  const auto tokens = split(spec, ':');
  if (tokens.empty() || tokens[0].empty()) fail("empty scheme spec");
  Scheme s;
  parse_type(tokens[0], s, spec);
  bool saw_sym = false, saw_range = false, saw_gran = false;
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    std::int64_t v = 0;
    auto gran = [&](GranularityKind k) {
      if (saw_gran) fail("scheme '", spec, "': more than one granularity ('", t, "')");
      saw_gran = true;
      s.granularity = k;
    };
    if (t == "tensor") {
      gran(GranularityKind::Tensor);
    } else if (t == "channel") {
      gran(GranularityKind::Channel);
    } else if (starts_with(t, "channel@") && parse_int(std::string_view(t).substr(8), v) && v >= 0) {
      gran(GranularityKind::Channel);
      s.axis = int(v);
    } else if (t.size() > 1 && t[0] == 'g' && parse_int(std::string_view(t).substr(1), v)) {
      if (v < 1) fail("scheme '", spec, "': group size must be >= 1, got ", v);
      gran(GranularityKind::Group);
      s.group_size = v;
    } else if (starts_with(t, "sb") && parse_int(std::string_view(t).substr(2), v)) {
      if (v < 1) fail("scheme '", spec, "': super-block size must be >= 1");
      s.super_block = v;
    } else if (starts_with(t, "sbits") && parse_int(std::string_view(t).substr(5), v)) {
      if (v < 2 || v > 8) fail("scheme '", spec, "': sub-scale bits must be 2..8");
      s.scale_bits = int(v);
    } else if (t == "sym" || t == "asym") {
      if (saw_sym) fail("scheme '", spec, "': sym/asym given twice");
      saw_sym = true;
      s.symmetric = (t == "sym");
    } else if (t == "restricted" || t == "full") {
      if (saw_range) fail("scheme '", spec, "': restricted/full given twice");
      saw_range = true;
      s.restricted = (t == "restricted");
    } else if (t == "rne") {
      s.rounding = Rounding::NearestEven;
    } else if (t == "rna") {
      s.rounding = Rounding::NearestAway;
    } else if (t == "sr") {
      s.rounding = Rounding::Stochastic;
    } else if (t == "kpp") {
      s.kmeans_plusplus = true;
    } else if (starts_with(t, "seed=") && parse_int(std::string_view(t).substr(5), v)) {
      s.seed = static_cast<std::uint64_t>(v);
    } else {
      fail("scheme '", spec, "': unknown option '", t, "'");
    }
  }
  if (s.kind != SchemeKind::Affine && (saw_sym || saw_range))
    fail("scheme '", spec, "': sym/asym/restricted/full apply to intB/uintB only");
  if (!s.symmetric) s.restricted = false;
  if (s.super_block) {
    if (s.kind != SchemeKind::Affine || s.granularity != GranularityKind::Group)
      fail("scheme '", spec, "': super-blocks (sbN) need an intB/uintB type with a group size gN");
    if (s.super_block % s.group_size != 0)
      fail("scheme '", spec, "': super-block ", s.super_block, " is not a multiple of group ", s.group_size);
  }
  return s;
}

std::string Scheme::spec() const {
  std::ostringstream os;
  switch (kind) {
    case SchemeKind::Affine: os << (is_signed ? "int" : "uint") << bits; break;
    case SchemeKind::KMeans: os << "kmeans" << bits; break;
    case SchemeKind::Grid:
      if (!grid_name.empty()) {
        os << grid_name;
      } else {
        os << "grid[";
        for (std::size_t i = 0; i < grid.size(); ++i) os << (i ? "," : "") << grid[i];
        os << "]";
      }
      break;
    case SchemeKind::Float:
      os << (float_format == FloatFormat::F16    ? "fp16"
             : float_format == FloatFormat::BF16 ? "bf16"
             : float_format == FloatFormat::E4M3 ? "fp8e4m3"
                                                 : "fp8e5m2");
      break;
  }
  switch (granularity) {
    case GranularityKind::Tensor: os << ":tensor"; break;
    case GranularityKind::Channel: os << ":channel"; if (axis) os << "@" << axis; break;
    case GranularityKind::Group: os << ":g" << group_size; break;
  }
  if (super_block) os << ":sb" << super_block << ":sbits" << scale_bits;
  if (kind == SchemeKind::Affine) {
    os << (symmetric ? ":sym" : ":asym");
    if (symmetric) os << (restricted ? ":restricted" : ":full");
  }
  if (rounding != Rounding::NearestEven) os << ":" << rounding_name(rounding);
  if (kmeans_plusplus) os << ":kpp";
  if (seed) os << ":seed=" << seed;
  return os.str();
}

IntRange Scheme::range() const { return int_range(bits, is_signed, symmetric && restricted); }

}  // namespace lowbit
