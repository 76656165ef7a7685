// llama.cpp's legacy .dat importance matrix (what llama-imatrix wrote before GGUF, and
// still writes with --output-format dat), read as common_imatrix_load_legacy does but
// with every length checked; and the importance values llama-quantize derives from either
// form (tools/quantize/quantize.cpp load_imatrix, src/llama-quant.cpp for expert weights).
//
// .dat layout, all little-endian: int32 n_entries; per entry: int32 name length, name
// bytes, int32 ncall, int32 nval, nval float32 ((sum / count) * ncall); then optionally
// int32 chunk count and int32 length + dataset file name.
#include <cmath>
#include <cstring>
#include <limits>

#include "lowbit/error.h"
#include "lowbit/imatrix.h"

namespace lowbit {

Imatrix parse_imatrix_dat(std::span<const std::byte> bytes, const std::string& src);

namespace {

class Reader {
 public:
  Reader(std::span<const std::byte> b, const std::string& src) : b_(b), src_(src) {}
  std::uint64_t pos() const { return pos_; }
  std::uint64_t remaining() const { return b_.size() - pos_; }
  std::int32_t i32(const std::string& what) {
    need(4, what);
    std::int32_t v;
    std::memcpy(&v, b_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }
  std::span<const std::byte> take(std::uint64_t n, const std::string& what) {
    need(n, what);
    auto s = b_.subspan(static_cast<std::size_t>(pos_), static_cast<std::size_t>(n));
    pos_ += n;
    return s;
  }
  void need(std::uint64_t n, const std::string& what) const {
    if (n > remaining())
      fail(src_, ": legacy imatrix ends inside ", what, " at offset ", pos_, " (", n, " bytes needed, ", remaining(),
           " left)");
  }

 private:
  std::span<const std::byte> b_;
  const std::string& src_;
  std::uint64_t pos_ = 0;
};

// llama.cpp turns the bytes into a C string, so a name stops at its first NUL.
std::string c_string(std::span<const std::byte> s) {
  std::string out(reinterpret_cast<const char*>(s.data()), s.size());
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool is_token_embd(std::string_view name) {
  return name == "token_embd.weight" || name == "per_layer_token_embd.weight";
}

}  // namespace

Imatrix parse_imatrix_dat(std::span<const std::byte> bytes, const std::string& src) {
  Reader r(bytes, src);
  Imatrix m;
  m.format = ImatrixFormat::LegacyDat;
  if (bytes.empty()) fail(src, ": empty file (neither a GGUF nor a legacy imatrix)");
  const std::int32_t n_entries = r.i32("the entry count");
  if (n_entries < 1)
    fail(src, ": not an imatrix: legacy entry count ", n_entries, " at offset 0 (and no 'GGUF' magic)");
  // Each entry takes at least 16 bytes (three int32 fields and one value).
  if (static_cast<std::uint64_t>(n_entries) > r.remaining() / 16)
    fail(src, ": legacy entry count ", n_entries, " at offset 0 cannot fit in the ", r.remaining(),
         " bytes that follow (not an imatrix?)");
  for (std::int32_t i = 0; i < n_entries; ++i) {
    const std::string item = "entry #" + std::to_string(i);
    const std::uint64_t at = r.pos();
    const std::int32_t len = r.i32(item + "'s name length");
    if (len < 0) fail(src, ": ", item, ": negative name length ", len, " at offset ", at);
    std::string name = c_string(r.take(static_cast<std::uint64_t>(len), item + "'s name"));
    const std::string ctx = "entry '" + name.substr(0, 80) + "'";
    if (m.entries.count(name)) fail(src, ": ", ctx, ": duplicate name (", item, " at offset ", at, ")");
    const std::int32_t ncall = r.i32(ctx + "'s ncall");
    const std::uint64_t nval_at = r.pos();
    const std::int32_t nval = r.i32(ctx + "'s value count");
    if (nval < 1) fail(src, ": ", ctx, ": value count ", nval, " at offset ", nval_at, " must be at least 1");
    const auto values = r.take(static_cast<std::uint64_t>(nval) * 4, ctx + "'s values");
    ImatrixEntry e;
    e.sums.resize(static_cast<std::size_t>(nval));
    std::memcpy(e.sums.data(), values.data(), values.size());
    e.counts = {ncall};
    m.entries.emplace(std::move(name), std::move(e));
  }
  // Optional trailer; llama-imatrix always writes both fields, so a partial one is damage.
  if (r.remaining() > 0) {
    m.chunk_count = r.i32("the trailing chunk count");
    if (r.remaining() > 0) {
      const std::uint64_t at = r.pos();
      const std::int32_t len = r.i32("the dataset name length");
      if (len < 0) fail(src, ": negative dataset name length ", len, " at offset ", at);
      if (len > 0) m.datasets.push_back(c_string(r.take(static_cast<std::uint64_t>(len), "the dataset name")));
    }
    if (r.remaining() > 0) fail(src, ": ", r.remaining(), " unexpected bytes after the dataset name at offset ", r.pos());
  }
  return m;
}

std::vector<float> Imatrix::values(std::string_view name) const {
  const ImatrixEntry* e = find(name);
  if (!e) fail("imatrix has no entry '", name, "'");
  std::vector<float> out(e->sums.size());
  if (format == ImatrixFormat::LegacyDat) {
    // quantize.cpp: entry.sums[i] / ncall, with ncall an int64 (converted to float).
    const std::int64_t ncall = e->counts.empty() ? 0 : e->counts[0];
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = ncall > 0 ? e->sums[i] / static_cast<float>(ncall) : e->sums[i];
    return out;
  }
  if (e->counts.empty() || e->sums.size() % e->counts.size() != 0)
    fail("imatrix entry '", name, "' has ", e->sums.size(), " sums and ", e->counts.size(), " counts");
  const std::size_t ne0 = e->sums.size() / e->counts.size();
  for (std::size_t j = 0; j < e->counts.size(); ++j) {
    const auto count = static_cast<float>(e->counts[j]);
    // An expert no token reached gets weights of 1: no preference between columns.
    for (std::size_t i = 0; i < ne0; ++i) out[j * ne0 + i] = count > 0.0f ? e->sums[j * ne0 + i] / count : 1.0f;
  }
  return out;
}

std::optional<std::vector<float>> Imatrix::for_tensor(std::string_view name, std::span<const std::int64_t> ne) const {
  if (!find(name)) return std::nullopt;
  std::vector<float> v = values(name);
  const std::int64_t ne0 = ne.empty() ? 1 : ne[0];
  const std::int64_t ne2 = ne.size() > 2 ? ne[2] : 1;
  std::int64_t want;
  if (__builtin_mul_overflow(ne0, ne2, &want) || want < 0 || static_cast<std::uint64_t>(want) != v.size()) {
    // llama-quant.cpp lets the token embeddings go without (old imatrix files size them
    // differently) and stops on any other mismatch.
    if (is_token_embd(name)) return std::nullopt;
    fail("imatrix entry '", name, "' has ", v.size(), " values but the tensor needs ne[0] * ne[2] = ", ne0, " * ",
         ne2);
  }
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) fail("imatrix entry '", name, "' has a non-finite value (", v[i], ") at index ", i);
  return v;
}

void Imatrix::check_finite() const {
  for (const auto& [name, e] : entries) {
    const std::vector<float> v = values(name);
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i])) fail("imatrix entry '", name, "' has a non-finite value (", v[i], ") at index ", i);
  }
}

Imatrix Imatrix::legacy_to_gguf(std::int32_t chunk_size) const {
  if (format != ImatrixFormat::LegacyDat) fail("legacy_to_gguf: the imatrix is already in GGUF form");
  if (chunk_size <= 0) fail("legacy_to_gguf: chunk size ", chunk_size, " must be positive");
  Imatrix g;
  g.format = ImatrixFormat::Gguf;
  g.datasets = datasets;
  g.chunk_size = chunk_size;
  std::int64_t max_count = 0;
  for (const auto& [name, e] : entries) {
    // imatrix.cpp load_imatrix: values += sums * chunk_size (float), counts += ncall * chunk_size.
    ImatrixEntry out;
    out.sums.resize(e.sums.size());
    for (std::size_t i = 0; i < e.sums.size(); ++i) out.sums[i] = e.sums[i] * static_cast<float>(chunk_size);
    out.counts = {(e.counts.empty() ? 0 : e.counts[0]) * chunk_size};
    max_count = std::max(max_count, out.counts[0]);
    g.entries.emplace(name, std::move(out));
  }
  const std::int64_t chunks = max_count / chunk_size;
  g.chunk_count = static_cast<std::int32_t>(std::min<std::int64_t>(chunks, std::numeric_limits<std::int32_t>::max()));
  return g;
}

}  // namespace lowbit
