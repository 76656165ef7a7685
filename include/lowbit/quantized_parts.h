// lowbit's own on-disk layout for a quantized tensor: a handful of plain safetensors
// entries named <tensor>.q* (codes, scales, zero points, sub-scales, codebooks) plus
// the scheme's SPEC in the file metadata. Part shapes follow from (shape, scheme) alone,
// so a writer can declare the whole header before quantizing anything.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lowbit/dtype.h"
#include "lowbit/quantize.h"

namespace lowbit {

struct PartDecl {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t bytes() const;
};

// The parts a tensor of `shape` becomes under `scheme`, in storage order.
std::vector<PartDecl> quantized_part_decls(const std::string& tensor, std::span<const std::int64_t> shape,
                                           const Scheme& scheme);

// Bytes of one part (a declaration from quantized_part_decls for q's tensor), taken
// from q, little-endian.
std::vector<std::byte> quantized_part_bytes(const QuantizedTensor& q, const PartDecl& part);

// Rebuilds the QuantizedTensor from its parts; `get(name)` returns the stored bytes of
// a part (the caller checks dtype/shape against the declaration). Validates sizes and
// code/parameter ranges, naming the tensor and part on error.
QuantizedTensor quantized_from_parts(const std::string& tensor, std::span<const std::int64_t> shape,
                                     const Scheme& scheme,
                                     const std::function<std::span<const std::byte>(const PartDecl&)>& get);

}  // namespace lowbit
