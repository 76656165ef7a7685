// Block layout of a tensor under a scheme's granularity (see BlockLayout in quantize.h).
// Shapes are validated here so later loops can trust rows * cols == numel.
#include "lowbit/error.h"
#include "lowbit/quantize.h"

namespace lowbit {

BlockLayout block_layout(std::span<const std::int64_t> shape, const Scheme& s) {
  BlockLayout L;
  std::int64_t numel = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) fail("negative dimension ", shape[i], " at axis ", i);
    if (shape[i] != 0 && numel > (std::int64_t{1} << 48) / shape[i]) fail("tensor too large");
    numel *= shape[i];
  }
  L.cols = shape.empty() ? 1 : shape.back();
  L.rows = L.cols == 0 ? 0 : numel / L.cols;
  L.group_size = L.cols;
  switch (s.granularity) {
    case GranularityKind::Tensor:
      L.num_blocks = 1;
      L.param_shape = {1};
      break;
    case GranularityKind::Channel: {
      if (shape.empty()) fail("per-channel quantization of a 0-d tensor");
      if (s.axis < 0 || std::size_t(s.axis) >= shape.size())
        fail("channel axis ", s.axis, " out of range for a ", shape.size(), "-d tensor");
      L.outer = 1, L.inner = 1;
      for (int i = 0; i < s.axis; ++i) L.outer *= shape[std::size_t(i)];
      for (std::size_t i = std::size_t(s.axis) + 1; i < shape.size(); ++i) L.inner *= shape[i];
      L.channels = shape[std::size_t(s.axis)];
      L.num_blocks = L.channels;
      L.param_shape = {L.channels};
      if (L.channels == 1) L.num_blocks = 1;
      break;
    }
    case GranularityKind::Group:
      L.group_size = s.group_size;
      L.groups_per_row = L.cols == 0 ? 0 : (L.cols + s.group_size - 1) / s.group_size;
      L.num_blocks = L.rows * L.groups_per_row;
      L.param_shape = {L.rows, L.groups_per_row};
      // A row that is a single group is a one-group row, not a channel walk.
      if (L.groups_per_row == 1) L.channels = 1;
      break;
  }
  return L;
}

}  // namespace lowbit
