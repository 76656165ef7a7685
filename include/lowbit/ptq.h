// Post-training quantization of a decoder, one layer at a time: the calibration text runs
// through the layers already quantized (GPTQ's sequential mode), each layer's inputs are
// captured, its seven Linears are quantized by the chosen method (RTN, MSE-clipped RTN,
// GPTQ, AWQ, SqueezeLLM's sensitivity-weighted k-means, HQQ, SmoothQuant), and the quantized layer feeds the next. Memory: the model, the calibration
// hidden states and one layer's statistics.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/activation_quant.h"
#include "lowbit/awq.h"
#include "lowbit/bert.h"
#include "lowbit/decoder.h"
#include "lowbit/ggml_types.h"
#include "lowbit/gptq.h"
#include "lowbit/squeezellm.h"

namespace lowbit {

enum class PtqMethod { Rtn, RtnMse, Gptq, Awq, Kmeans, Hqq, SmoothQuant };

PtqMethod parse_ptq_method(std::string_view name);  // rtn, rtn-mse, gptq, awq, kmeans, hqq, smoothquant
const char* ptq_method_name(PtqMethod m);

struct PtqOptions {
  PtqMethod method = PtqMethod::Rtn;
  int bits = 4;
  std::int64_t group_size = 128;  // <= 0: per output channel
  bool sym = false;
  GptqOptions gptq;               // act_order, static_groups, percdamp, block_size, mse
  AwqOptions awq;                 // n_grid, duo_scaling, clip, max_shrink
  double outlier_fraction = 0;    // kmeans (SqueezeLLM): share of weights kept exact
  float smooth_alpha = 0.5f;      // smoothquant: migration strength
  // Activations of every quantized Linear quantized to int8 (symmetric, dynamic per token
  // or per tensor) from then on: W8A8 evaluation. smoothquant defaults to per token.
  std::optional<calib::ActivationMode> act_quant;
  // GPTQ: quantize [q,k,v], [o], [gate,up], [down] in turn, each group's inputs captured
  // after the groups before it are quantized (AutoGPTQ's true_sequential).
  bool true_sequential = true;
  // AWQ's block-output search runs on the first this-many calibration sequences (it
  // re-runs attention and MLP 20 times per layer); statistics use them all. <= 0: all.
  int awq_search_sequences = 8;
  // Linears named here (GGUF names, e.g. from plan_gguf) are poured into that ggml type
  // instead of the bits/group grid above: RTN/GPTQ/AWQ round inside the type's blocks,
  // whose headers llama.cpp's quantizer fits with diag(X^T X) of the captured inputs as
  // importance (src/algo/ggml_grid.h); types whose codes and scales interlock (Q2_K,
  // Q3_K, IQ*) take llama.cpp's imatrix quantizer on the (AWQ-scaled) weights.
  std::map<std::string, ggml::Type> ggml_types;
  int threads = 0;
  std::function<void(int layer, int n_layer)> on_layer;
};

struct PtqLinearReport {
  int layer = 0;
  std::string name;
  std::int64_t rows = 0, cols = 0;
  // tr(dW H dW^T) / tr(W H W^T), H = X^T X of the captured inputs: the fraction of the
  // layer's output energy the quantization error carries.
  double rel_error = 0;
  double seconds = 0;
  float awq_alpha = -1;  // AWQ: the chosen alpha of the scale group this Linear is in
  // The Linear holds its codes and grids (decoded a few rows at a time when it runs)
  // rather than fp32; false where the compact form did not decode to the method's values
  // exactly, and then the fp32 values are kept, and in an encoder quantized with calibration
  // text (quantize_encoder runs its short sentences on the fp32 decode).
  bool compact = false;
};

struct PtqResult {
  std::vector<PtqLinearReport> linears;
  // Codes per Linear name in the convention w ~ scale * (code - zero). After AWQ the
  // model's norms and weights carry the folded scales; codes are of the scaled weights.
  // `dequantized` is left empty: the model's Linear decodes these same codes (shared).
  std::map<std::string, std::shared_ptr<const GptqResult>> weights;
  // kmeans: each Linear's per-channel codebooks and outliers (its `weights` entry holds
  // rows, cols and the codes; codes and values are moved out of this one).
  std::map<std::string, SqueezeLlmResult> codebooks;
  // With ggml_types: each such Linear's bytes in its type.
  std::map<std::string, std::vector<std::byte>> ggml_bytes;
  std::map<std::string, ggml::Type> ggml_type;
  // Tensors the method changed besides the Linears (AWQ's rescaled norms), by GGUF name.
  std::map<std::string, std::vector<float>> changed_f32;
  std::int64_t calibration_tokens = 0;
  double seconds = 0;
};

// Replaces every Linear (and the head) by its fp32 decode, with fp32 activations: the
// baseline a method is measured against and the weights it starts from.
void make_decoder_f32(DecoderModel& model);

// Quantizes every layer's Linears in place (the model then computes with the dequantized
// weights) and returns the codes and the per-Linear report. calib may be empty for RTN
// (no error report then).
PtqResult quantize_decoder(DecoderModel& model, std::vector<std::vector<std::int32_t>> calib, const PtqOptions& opt);

// The same methods on a BERT encoder (all-MiniLM-L6-v2), layer by layer over calibration
// sentences (src/algo/ptq_encoder.cpp): rtn, rtn-mse, gptq, kmeans, hqq as on a decoder;
// awq scales only v -> o (post-LN norms feed the residual); no smoothquant or ggml types.
PtqResult quantize_encoder(BertEncoder& enc, std::vector<std::vector<std::int32_t>> calib, const PtqOptions& opt);

}  // namespace lowbit
