// Bulk fp32 <-> OCP fp8 (E4M3FN, E5M2) over spans. Decoding goes through 256-entry
// tables built at compile time from the scalar reference in lowbit/fp8.h, so the table
// cannot drift from the definition; encoding loops over the scalar codec.
#include "lowbit/fp8.h"

#include <array>

#include "lowbit/error.h"

namespace lowbit {
namespace {

template <float (*Decode)(std::uint8_t)>
constexpr std::array<float, 256> make_table() {
  std::array<float, 256> t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = Decode(static_cast<std::uint8_t>(c));
  return t;
}

constexpr auto kE4M3FN = make_table<fp8_e4m3fn_to_fp32>();
constexpr auto kE5M2 = make_table<fp8_e5m2_to_fp32>();

void check_sizes(const char* what, std::size_t n_in, std::size_t n_out) {
  if (n_in != n_out) fail(what, ": ", n_in, " inputs but ", n_out, " outputs");
}

}  // namespace

void fp32_to_fp8_e4m3fn(std::span<const float> in, std::span<std::uint8_t> out) {
  check_sizes("fp32_to_fp8_e4m3fn", in.size(), out.size());
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = fp32_to_fp8_e4m3fn(in[i]);
}

void fp8_e4m3fn_to_fp32(std::span<const std::uint8_t> in, std::span<float> out) {
  check_sizes("fp8_e4m3fn_to_fp32", in.size(), out.size());
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = kE4M3FN[in[i]];
}

void fp32_to_fp8_e5m2(std::span<const float> in, std::span<std::uint8_t> out) {
  check_sizes("fp32_to_fp8_e5m2", in.size(), out.size());
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = fp32_to_fp8_e5m2(in[i]);
}

void fp8_e5m2_to_fp32(std::span<const std::uint8_t> in, std::span<float> out) {
  check_sizes("fp8_e5m2_to_fp32", in.size(), out.size());
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = kE5M2[in[i]];
}

}  // namespace lowbit
