// The CLI's verbs. Each lives in its own cmd_<verb>.cpp and registers a CLI11
// subcommand whose callback does the work; errors surface as lowbit::Error.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lowbit/ptq.h"

namespace lowbit::cli {

void register_dtypes(CLI::App& app);
void register_inspect(CLI::App& app);
void register_quantize(CLI::App& app);
void register_dequantize(CLI::App& app);
void register_report_table(CLI::App& app);
void register_corpus(CLI::App& app);
void register_perplexity(CLI::App& app);
void register_generate(CLI::App& app);
void register_calibrate(CLI::App& app);

// The GGUF side of `lowbit quantize` (cmd_quantize_gguf.cpp).
struct GgufQuantizeArgs {
  std::string in, out, scheme, report, imatrix, output_type, embd_type;
  std::vector<std::string> tensor_types;
  int threads = 0;
  bool quiet = false, per_tensor = false, pure = false, leave_output = false;
};
void add_gguf_quantize_options(CLI::App* cmd, GgufQuantizeArgs& a);
void run_quantize_gguf(const GgufQuantizeArgs& a);
// The layer-wise PTQ side of `lowbit quantize` (cmd_quantize_ptq.cpp).
struct PtqArgs {
  std::string in, out, scheme, report, method = "rtn", calib, kld_base, act8, format, eval_text;
  int calib_chunks = 32, calib_ctx = 512, eval_chunks = -1, awq_search_seqs = 8, threads = 0;
  int calib_sentences = 512, eval_sentences = 256;  // encoders: lines of --calib / --eval-text
  double percdamp = 0.01, outliers = 0, sq_alpha = 0.5;
  bool act_order = false, static_groups = false, mse = false, awq_no_clip = false, awq_no_duo = false;
  bool quiet = false, per_tensor = false;
};
void add_ptq_options(CLI::App* cmd, PtqArgs& a);
void run_quantize_ptq(const PtqArgs& a);
// The --report JSON of a PTQ run: method, scheme, calibration tokens, seconds, every
// Linear's error and the bits per weight (codes plus fp16 group grids or codebooks).
nlohmann::json ptq_report_json(const PtqResult& r, const PtqArgs& a, const PtqOptions& o);
// --scheme for a PTQ method: bits, group size and symmetry, or a k-means codebook width.
void set_ptq_grid(const std::string& spec, PtqOptions& o);
// Encoders (a HF BertModel directory) take cmd_quantize_ptq_encoder.cpp's path.
bool is_encoder_checkpoint(const std::string& path);
void run_quantize_ptq_encoder(const PtqArgs& a, PtqOptions o);
// `lowbit inspect` of a GGUF file (cmd_inspect_gguf.cpp).
void inspect_gguf(const std::string& path, bool summary);

}  // namespace lowbit::cli
