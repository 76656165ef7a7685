// Importance matrices as llama.cpp stores them: the GGUF form llama-imatrix writes today
// (per weight "<name>.in_sum2" and "<name>.counts" F32 tensors + imatrix.* metadata) and
// the legacy .dat form, read by auto-detection; and the per-column importance values that
// llama-quantize derives from each, ready for ggml::quantize_rows(..., imatrix).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {

inline constexpr const char* kImatrixDatasetsKey = "imatrix.datasets";
inline constexpr const char* kImatrixChunkCountKey = "imatrix.chunk_count";
inline constexpr const char* kImatrixChunkSizeKey = "imatrix.chunk_size";

enum class ImatrixFormat { Gguf, LegacyDat };

// One weight's statistics, as llama.cpp's common_imatrix_entry holds them.
//  GGUF:   sums = in_sum2, n_mat rows of ne0 sums of x^2 (n_mat = experts, 1 for a
//          plain matrix); counts = tokens seen per matrix (the F32 counts, lround-ed).
//  legacy: sums = the stored values, (sum / count) * ncall; counts = {ncall}.
struct ImatrixEntry {
  std::vector<float> sums;
  std::vector<std::int64_t> counts;
};

struct Imatrix {
  ImatrixFormat format = ImatrixFormat::Gguf;
  std::map<std::string, ImatrixEntry, std::less<>> entries;  // by weight name
  std::vector<std::string> datasets;
  std::int32_t chunk_count = 0;
  std::int32_t chunk_size = 0;  // 0 for legacy files (they do not record it)

  // Reads either format: GGUF when the file starts with "GGUF", legacy .dat otherwise
  // (llama.cpp falls back the same way). Refuses, with lowbit::Error naming the file and
  // the entry, what llama-quantize refuses (a GGUF without the three imatrix.* keys,
  // unpaired or non-F32 tensors) and anything malformed.
  static Imatrix load(const std::filesystem::path& path);
  static Imatrix parse(std::span<const std::byte> bytes, std::string source);

  const ImatrixEntry* find(std::string_view name) const;

  // llama-quantize's importance values for a weight (n_mat * ne0 floats):
  //  GGUF: sums[j*ne0 + i] / counts[j], or 1 where counts[j] is 0 (an expert never hit);
  //  legacy: sums[i] / ncall, or sums[i] unchanged when ncall <= 0.
  // Throws when `name` has no entry.
  std::vector<float> values(std::string_view name) const;

  // What llama-quantize feeds the quantizer for weight `name` of shape `ne` (ggml order):
  // nullopt when there is no entry (it quantizes without); the values() otherwise, which
  // must number ne[0] * ne[2] (3-D expert weights: expert e's rows use values
  // [e*ne[0], (e+1)*ne[0]); ne[2] = 1 for a matrix). A size mismatch throws, except for
  // token_embd.weight / per_layer_token_embd.weight which get nullopt, as in llama.cpp;
  // so does a non-finite value.
  std::optional<std::vector<float>> for_tensor(std::string_view name, std::span<const std::int64_t> ne) const;
  // llama-quantize refuses an imatrix with a non-finite value anywhere before it starts;
  // this is that check (throws naming the entry and the index).
  void check_finite() const;

  // The GGUF-form statistics llama-imatrix rebuilds from a legacy file when it merges one
  // (--in-file x.dat): sums * chunk_size, counts {ncall * chunk_size}, chunk_count from
  // the largest count. `chunk_size` is the tokens per chunk of the run (n_ctx / n_parallel).
  Imatrix legacy_to_gguf(std::int32_t chunk_size) const;
};

// Writes `m` (GGUF form) as llama-imatrix does: general.type = "imatrix",
// imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size, then per entry in name order
// "<name>.in_sum2" F32 [ne0, n_mat] and "<name>.counts" F32 [1, n_mat] (trailing 1-dims
// dropped, as ggml does). Atomic (see GgufWriter::write). A legacy-form Imatrix is
// refused: convert it with legacy_to_gguf first.
void write_imatrix_gguf(const std::filesystem::path& out, const Imatrix& m);

}  // namespace lowbit
