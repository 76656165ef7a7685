// Quoting names and keys from untrusted files for error messages: control bytes are
// escaped (\xNN) so a hostile name cannot rewrite the terminal, and long ones are cut
// (GGUF names can be a gigabyte). Shared by the safetensors and GGUF readers.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace lowbit {

std::string shown_name(std::string_view s, std::size_t max_bytes = std::string_view::npos);

}  // namespace lowbit
