// The GGUF form of llama.cpp's importance matrix: reading it the way common_imatrix_load
// does (F32 "<name>.in_sum2" / "<name>.counts" pairs, counts rounded with lround) and
// writing it the way llama-imatrix's save_imatrix does, byte for byte. Also the format
// auto-detection: a file that does not start with "GGUF" is read as a legacy .dat.
#include <cmath>
#include <cstring>

#include "lowbit/error.h"
#include "lowbit/gguf.h"
#include "lowbit/imatrix.h"

namespace lowbit {

// imatrix_dat.cpp
Imatrix parse_imatrix_dat(std::span<const std::byte> bytes, const std::string& src);

namespace {

bool strip_suffix(std::string& s, std::string_view suffix) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  s.resize(s.size() - suffix.size());
  return true;
}

std::int32_t u32_metadata(const GgufFile& f, const char* key) {
  const GgufValue& v = f.value(key);
  // llama.cpp reads these with gguf_get_val_u32, which aborts on any other type.
  if (v.type() != GgufType::U32) fail(f.source(), ": key '", key, "' must be u32, got ", v.describe());
  const std::uint64_t n = v.as_uint();
  if (n > static_cast<std::uint64_t>(INT32_MAX))
    fail(f.source(), ": key '", key, "' = ", n, " does not fit llama.cpp's int32 field");
  return static_cast<std::int32_t>(n);
}

Imatrix parse_gguf(std::span<const std::byte> bytes, const std::string& src) {
  const GgufFile f = GgufFile::parse(bytes, src);
  Imatrix m;
  m.format = ImatrixFormat::Gguf;
  if (f.tensors().empty()) fail(src, ": imatrix GGUF has no tensors (no data)");
  // llama-quantize refuses a GGUF imatrix that lacks any of the three keys.
  for (const char* key : {kImatrixDatasetsKey, kImatrixChunkCountKey, kImatrixChunkSizeKey})
    if (!f.find_kv(key))
      fail(src, ": missing imatrix metadata key '", key, "' (llama-quantize requires ", kImatrixDatasetsKey, ", ",
           kImatrixChunkCountKey, " and ", kImatrixChunkSizeKey, ")");
  const GgufValue& ds = f.value(kImatrixDatasetsKey);
  // llama.cpp takes the datasets only from an array of strings and ignores other types.
  if (ds.is_array() && ds.element_type() == GgufType::String) m.datasets = ds.as_string_array();
  m.chunk_count = u32_metadata(f, kImatrixChunkCountKey);
  m.chunk_size = u32_metadata(f, kImatrixChunkSizeKey);

  std::map<std::string, std::pair<const GgufTensor*, const GgufTensor*>, std::less<>> pairs;
  for (const GgufTensor& t : f.tensors()) {
    std::string stem = t.name;
    if (stem.empty()) continue;
    // Other tensors are ignored, as llama.cpp does.
    if (strip_suffix(stem, ".in_sum2")) {
      pairs[stem].first = &t;
    } else if (strip_suffix(stem, ".counts")) {
      pairs[stem].second = &t;
    }
  }
  for (const auto& [name, pair] : pairs) {
    const auto [sums, counts] = pair;
    if (!sums || !counts)
      fail(src, ": entry '", name, "' has ", sums ? "'.in_sum2' but no '.counts'" : "'.counts' but no '.in_sum2'",
           " tensor");
    for (const GgufTensor* t : {sums, counts})
      if (t->type != ggml::Type::F32)
        fail(src, ": tensor '", t->name, "' is ", ggml::traits(t->type).name, "; imatrix tensors must be f32");
    const auto nval = static_cast<std::size_t>(sums->numel());
    const auto ncounts = static_cast<std::size_t>(counts->numel());
    // llama-quantize divides by the count tensor's size and splits sums into that many
    // equal rows; anything else would make it divide by zero or misalign experts.
    if (ncounts == 0) fail(src, ": tensor '", counts->name, "' is empty");
    if (nval == 0) fail(src, ": tensor '", sums->name, "' is empty");
    if (nval % ncounts != 0)
      fail(src, ": entry '", name, "': ", nval, " sums do not split into ", ncounts, " equal rows (one per count)");

    ImatrixEntry e;
    e.sums.resize(nval);
    std::memcpy(e.sums.data(), sums->data.data(), nval * sizeof(float));
    e.counts.resize(ncounts);
    for (std::size_t j = 0; j < ncounts; ++j) {
      float c;
      std::memcpy(&c, counts->data.data() + j * sizeof(float), sizeof c);
      // lround of NaN, inf or anything past int64 is undefined; llama.cpp would get garbage.
      if (!std::isfinite(c) || std::fabs(c) >= 9.2e18f)
        fail(src, ": tensor '", counts->name, "' value ", j, " (", c, ") is not a usable token count");
      e.counts[j] = std::lround(c);
    }
    m.entries.emplace(name, std::move(e));
  }
  return m;
}

// ggml_n_dims: the number of dimensions up to the last one that is not 1 (at least 1).
std::vector<std::int64_t> ggml_shape(std::int64_t ne0, std::int64_t ne1) {
  if (ne1 == 1) return {ne0};
  return {ne0, ne1};
}

}  // namespace

Imatrix Imatrix::load(const std::filesystem::path& path) {
  const MappedFile mapped = MappedFile::open(path);
  return parse(mapped.bytes(), path.string());  // entries are copied out of the mapping
}

Imatrix Imatrix::parse(std::span<const std::byte> bytes, std::string source) {
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) return parse_gguf(bytes, source);
  return parse_imatrix_dat(bytes, source);
}

const ImatrixEntry* Imatrix::find(std::string_view name) const {
  auto it = entries.find(name);
  return it == entries.end() ? nullptr : &it->second;
}

void write_imatrix_gguf(const std::filesystem::path& out, const Imatrix& m) {
  if (m.format != ImatrixFormat::Gguf)
    fail(out.string(), ": a legacy-form imatrix has no raw sums and counts; convert it with legacy_to_gguf first");
  if (m.chunk_count < 0 || m.chunk_size < 0)
    fail(out.string(), ": imatrix chunk_count ", m.chunk_count, " / chunk_size ", m.chunk_size, " must not be negative");
  GgufWriter w;
  // Same keys in the same order as llama-imatrix, so equal statistics give equal bytes.
  w.set("general.type", GgufValue::string("imatrix"));
  w.set(kImatrixDatasetsKey, GgufValue::string_array(m.datasets));
  w.set(kImatrixChunkCountKey, GgufValue::u32(static_cast<std::uint32_t>(m.chunk_count)));
  w.set(kImatrixChunkSizeKey, GgufValue::u32(static_cast<std::uint32_t>(m.chunk_size)));
  for (const auto& [name, e] : m.entries) {  // std::map: the sorted order llama-imatrix uses
    const std::size_t nval = e.sums.size();
    const std::size_t nmat = e.counts.size();
    if (nval == 0 || nmat == 0 || nval % nmat != 0)
      fail(out.string(), ": imatrix entry '", name, "' has ", nval, " sums and ", nmat,
           " counts (need a whole number of equal rows, one per count)");
    const auto ne0 = static_cast<std::int64_t>(nval / nmat);
    const auto rows = static_cast<std::int64_t>(nmat);
    w.add_tensor({name + ".in_sum2", ggml_shape(ne0, rows), ggml::Type::F32}, std::as_bytes(std::span(e.sums)));
    const std::vector<std::int64_t>* counts = &e.counts;
    w.add_tensor({name + ".counts", ggml_shape(1, rows), ggml::Type::F32}, [counts](std::span<std::byte> dst) {
      for (std::size_t j = 0; j < counts->size(); ++j) {
        const auto c = static_cast<float>((*counts)[j]);  // llama-imatrix stores counts as f32 too
        std::memcpy(dst.data() + j * sizeof c, &c, sizeof c);
      }
    });
  }
  w.write(out);
}

}  // namespace lowbit
