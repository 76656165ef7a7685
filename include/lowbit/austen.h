// Jane Austen's six novels from Debian's r-cran-janeaustenr, decoded from the package's
// R lazy-load database without R, and the fixed calibration / evaluation texts the whole
// project uses (docs/formats.md, "R serialized data (Austen text)"; `lowbit corpus austen`).
#pragma once
#include <array>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {

// The novels' object names in janeaustenr, in publication order (austen_books() order).
inline constexpr std::array<std::string_view, 6> kAustenNovels = {
    "sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion"};

// "Pride and Prejudice" for "prideprejudice"; empty for an unknown name.
std::string_view austen_title(std::string_view novel);

// The folder holding Rdata.rdx/Rdata.rdb. Search order: $LOWBIT_AUSTEN_DIR (when set it
// must hold the data), then .deps/janeaustenr/usr/lib/R/site-library/janeaustenr/data
// under the current directory, the running executable's folder or any of their parents
// (scripts/install-deps.sh unpacks the .deb there), then the system install
// /usr/lib/R/site-library/janeaustenr/data. Throws listing every place it looked.
std::filesystem::path austen_data_dir();

// One novel's lines (one element per line of the text, empty lines kept), UTF-8.
std::vector<std::string> austen_novel(std::string_view name);

// Fixed, never-changing splits. Calibration and evaluation share no text:
//   calibration = Sense and Sensibility          (12,624 lines, 118,565 words)
//   evaluation  = Pride and Prejudice            (13,030 lines, 121,567 words)
//   all         = the six novels in publication order
enum class AustenSplit { calibration, evaluation, all };

std::string_view austen_split_name(AustenSplit s);
std::optional<AustenSplit> austen_split_from_name(std::string_view name);
std::vector<std::string_view> austen_split_novels(AustenSplit s);

// The text of a split or of a list of novels: all their lines, in order, joined with
// "\n" (no trailing newline; empty lines preserved, as llama.cpp's perplexity tool reads
// a raw text file).
std::string austen_text(AustenSplit s);
std::string austen_text(std::span<const std::string_view> novels);


}  // namespace lowbit
