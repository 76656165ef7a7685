// Writes a PTQ-quantized decoder as a transformers checkpoint directory in AutoAWQ's GEMM
// or the GPTQ (v1/v2) layout: config.json with the quantization_config transformers
// reads, model.safetensors with packed Linears and fp16 embeddings/norms/head, and the
// source's tokenizer files when it is a HF directory; and a PTQ-quantized BERT encoder in
// lowbit's own safetensors layout. The directory appears whole or not.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lowbit/bert.h"
#include "lowbit/decoder.h"
#include "lowbit/hf_quant_layout.h"
#include "lowbit/ptq.h"

namespace lowbit {

struct HfQuantExportOptions {
  hfq::Layout layout = hfq::Layout::GptqV2;
  std::string method = "gptq";  // recorded in quantization_config.meta
};

struct HfQuantExportReport {
  std::uint64_t bytes = 0;                // model.safetensors
  std::uint64_t quantized_params = 0;
  std::uint64_t params = 0;               // every weight the checkpoint stands for
  std::int64_t v1_wrapped_zeros = 0;      // see hfq::PackedLinear
  std::vector<std::string> copied_files;  // tokenizer files taken from a HF source
};

// model: after quantize_decoder (its norms carry AWQ's folded scales); r: its result;
// opt: the options it ran with (bits, group size, sym, GPTQ flags). llama-family models
// only (llama, mistral, qwen2); a GGUF llama's q/k rows are un-permuted back to HF's
// rotate-half order.
HfQuantExportReport write_hf_quantized(const DecoderModel& model, const PtqResult& r, const PtqOptions& opt,
                                       const HfQuantExportOptions& eo, const std::filesystem::path& out_dir);

// Fails (naming the constraint) when a model quantized with `opt` cannot be written in
// `layout`; the CLI checks before spending minutes quantizing.
void check_hf_layout(const DecoderModel& model, const PtqOptions& opt, hfq::Layout layout);

// Makes the in-process model compute what the checkpoint holds: Linears rebuilt from
// fp16 scales, norms, embedding, head and biases rounded to fp16.
void round_decoder_to_hf_checkpoint(DecoderModel& model, const PtqResult& r);

// The same directory (config.json without quantization_config, HF tensor names, tokenizer
// files of a HF source) with lowbit's own safetensors layout (docs/formats.md, format "1"):
// every Linear as uintB asym codes per group (or per channel), or, for k-means, B-bit
// indices into per-channel codebooks; the rest fp32. DecoderModel::load reads it back.
// For results the GPTQ/AWQ layouts cannot hold (k-means, other bit widths, ragged groups);
// HQQ's fractional zero points, act-order groups and dense-and-sparse outliers have no
// form in it either and are refused. Returns model.safetensors' size.
void check_lowbit_format(const PtqOptions& opt);  // the refusals, before quantizing
std::uint64_t write_lowbit_quantized(const DecoderModel& model, const PtqResult& r, const PtqOptions& opt,
                                     const std::filesystem::path& out_dir);

// The same for a BERT encoder (quantize_encoder): every tensor of the source checkpoint
// under its own name, the Linears as lowbit codes, and the source directory's other files
// (config.json, tokenizer, sentence-transformers modules) copied. BertEncoder::load reads it.
std::uint64_t write_lowbit_quantized_encoder(const BertEncoder& enc, const PtqResult& r, const PtqOptions& opt,
                                             const std::filesystem::path& out_dir);

// HF row h*hd + j*hd/2 + i of q/k is GGUF row h*hd + 2i + j (llama.cpp's converter permutes
// for its adjacent-pair rope): perm[hf_row] = gguf_row.
std::vector<std::int64_t> hf_rows_from_gguf_rope(std::int64_t n_head, std::int64_t head_dim);

}  // namespace lowbit
