// `lowbit inspect FILE.gguf`: the model's architecture and file type, every tensor with
// its ggml type, shape (ggml order), bytes and bits per weight, the bytes per type, and
// the whole model's bits per weight.
#include <cstdio>
#include <map>

#include "commands.h"
#include "lowbit/gguf.h"
#include "lowbit/gguf_mix.h"

namespace lowbit::cli {

void inspect_gguf(const std::string& path, bool summary) {
  const GgufFile f = GgufFile::open(path);
  std::uint64_t params = 0, bytes = 0;
  struct PerType {
    std::uint64_t tensors = 0, params = 0, bytes = 0;
  };
  std::map<std::string, PerType> per_type;
  if (!summary) std::printf("%-44s %-8s %-22s %12s %12s %8s\n", "tensor", "type", "ne", "params", "bytes", "bpw");
  for (const GgufTensor& t : f.tensors()) {
    std::string ne;
    for (std::uint32_t i = 0; i < t.n_dims; ++i) ne += (i ? " x " : "") + std::to_string(t.ne[i]);
    const auto n = static_cast<std::uint64_t>(t.numel());
    params += n;
    bytes += t.nbytes;
    auto& p = per_type[ggml::traits(t.type).name];
    ++p.tensors, p.params += n, p.bytes += t.nbytes;
    if (!summary)
      std::printf("%-44.44s %-8s %-22s %12llu %12llu %8.4f\n", t.name.c_str(), ggml::traits(t.type).name, ne.c_str(),
                  (unsigned long long)n, (unsigned long long)t.nbytes, n ? 8.0 * double(t.nbytes) / double(n) : 0.0);
  }
  std::printf("\n%s: GGUF v%u, %zu tensors, %zu metadata keys, alignment %llu\n", path.c_str(), f.version(),
              f.tensors().size(), f.metadata().size(), (unsigned long long)f.alignment());
  if (const GgufKv* a = f.find_kv("general.architecture")) std::printf("architecture     %s\n", a->value.as_string().c_str());
  if (const GgufKv* ft = f.find_kv("general.file_type"))
    std::printf("file type        %s (%lld)\n", ggml::file_type_name(static_cast<ggml::FileType>(ft->value.as_int())),
                (long long)ft->value.as_int());
  std::printf("%-16s %8s %14s %14s %8s\n", "by type", "tensors", "params", "bytes", "bpw");
  for (const auto& [name, p] : per_type)
    std::printf("  %-14s %8llu %14llu %14llu %8.4f\n", name.c_str(), (unsigned long long)p.tensors,
                (unsigned long long)p.params, (unsigned long long)p.bytes,
                p.params ? 8.0 * double(p.bytes) / double(p.params) : 0.0);
  std::printf("parameters       %llu (%.2f M)\n", (unsigned long long)params, double(params) / 1e6);
  std::printf("tensor bytes     %llu (%.2f MB), file %llu bytes\n", (unsigned long long)bytes, double(bytes) / 1e6,
              (unsigned long long)f.file_size());
  std::printf("bits per weight  %.4f (all tensors)\n", params ? 8.0 * double(bytes) / double(params) : 0.0);
}

}  // namespace lowbit::cli
