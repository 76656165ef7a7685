// Running a decoder one layer at a time over a whole calibration set: the hidden states of
// every sequence are kept between layers, so statistics of layer i can be captured with
// layers < i already replaced by their quantized versions (GPTQ's sequential mode), and
// only one layer's statistics need to exist at a time.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "lowbit/decoder.h"
#include "lowbit/tokenizer.h"

namespace lowbit {

// llama-imatrix's calibration chunks: the text tokenized with add_special, cut into
// whole chunks of ctx tokens (at most max_chunks; -1 = all), each chunk's first token
// replaced by BOS when the vocabulary adds one.
std::vector<std::vector<std::int32_t>> calibration_chunks(const Tokenizer& tok, std::string_view text, int ctx,
                                                          int max_chunks);

class LayerwiseRunner {
 public:
  LayerwiseRunner(const DecoderModel& model, std::vector<std::vector<std::int32_t>> seqs, int threads);

  // Runs layer next_layer() over every sequence with the model's current weights;
  // observe sees each Linear's inputs. With advance, the hidden states become the
  // layer's outputs (run once with advance=false to capture, then replace the layer's
  // weights, then once with advance=true to feed the quantized outputs onward).
  // stop_after (capture only): the pass over a sequence ends once this Linear's inputs
  // have been observed, so the rest of the layer is not computed for nothing.
  void run_layer(const LinearInputObserver& observe, bool advance = true, const Linear* stop_after = nullptr);
  // From now until the layer advances, each sequence's attention output (o_proj's input)
  // is computed once and reused: call it once the layer's wq, wk, wv are final; then
  // keep_attention_residual once wo is final too, and the hidden state after attention's
  // residual replaces it. One hidden-state-sized buffer per sequence; results unchanged.
  void keep_attention_context();
  void keep_attention_residual();
  // The output head's inputs (final norm applied) for every position.
  void run_head(const LinearInputObserver& observe);
  int next_layer() const { return next_; }
  std::int64_t tokens() const;

 private:
  const DecoderModel& model_;
  std::vector<std::vector<std::int32_t>> seqs_;
  std::vector<std::vector<float>> hidden_;
  int threads_;
  int next_ = 0;
  std::vector<LayerCache> cache_;  // per sequence once keep_attention_context was called
};

}  // namespace lowbit
