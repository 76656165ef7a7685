// Layer-wise PTQ of the real all-MiniLM-L6-v2 (quantize_encoder, `lowbit quantize` on an
// encoder): running the encoder a layer at a time is its forward pass bit for bit; each
// Linear's reported error is the error on inputs that come through the layers already
// quantized (recomputed here independently); GPTQ beats RTN on that error; and the
// checkpoint the CLI writes embeds as the in-process model did and as transformers does.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "../model/bert_test_data.h"
#include "lowbit/embedding_fidelity.h"
#include "lowbit/gptq.h"
#include "lowbit/ptq.h"

using namespace lowbit;
namespace fs = std::filesystem;
namespace bt = lowbit::testing::bert;
using lowbit::testing::shell_quote;

namespace {

std::vector<std::vector<std::int32_t>> calibration_sentences(const fs::path& model, int count) {
  return bt::sentence_ids(model, count, 128, lowbit::testing::scratch_dir() / "calib_ids.json");
}

// Every Linear's original fp32 weight, by name.
std::map<std::string, std::vector<float>> weights_of(const BertEncoder& e) {
  std::map<std::string, std::vector<float>> w;
  for (int il = 0; il < e.config().num_layers; ++il)
    for (const Linear* l : e.layer(il).linears()) w[l->name()] = l->decoded_weight();
  return w;
}

// tr(dW H dW^T) / tr(W H W^T) in double, H = sum of x x^T over the rows given.
double relative_error(const std::vector<float>& w, const std::vector<float>& q, std::int64_t rows, std::int64_t cols,
                      const std::vector<double>& h) {
  double num = 0, den = 0;
  std::vector<double> d(static_cast<std::size_t>(cols)), v(static_cast<std::size_t>(cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      d[j] = static_cast<double>(w[r * cols + j]) - q[r * cols + j];
      v[j] = w[r * cols + j];
    }
    for (std::int64_t i = 0; i < cols; ++i)
      for (std::int64_t j = 0; j < cols; ++j) {
        num += d[i] * h[i * cols + j] * d[j];
        den += v[i] * h[i * cols + j] * v[j];
      }
  }
  return num / den;
}

}  // namespace

TEST(PeerPtqEncoder, LayerByLayerIsTheForwardPass) {
  const fs::path model = bt::minilm_dir();
  const BertEncoder e = BertEncoder::load(model);
  for (const auto& ids : calibration_sentences(model, 6)) {
    std::vector<float> h = e.embed(ids, 1);
    const std::vector<std::int32_t> mask(ids.size(), 1);
    for (int il = 0; il < e.config().num_layers; ++il) e.run_layer(il, h, mask, 1, 2);
    const std::vector<float> f = e.forward(ids, 2);
    ASSERT_EQ(h.size(), f.size());
    EXPECT_EQ(std::memcmp(h.data(), f.data(), h.size() * sizeof(float)), 0);
  }
}

// True-sequential GPTQ: layer il's inputs come through the quantized layers < il. A
// query's inputs precede every Linear of its own layer, so running the finished model
// gives exactly the inputs GPTQ saw; its reported error is recomputed from them in double.
TEST(PeerPtqEncoder, GptqErrorsAreOnSequentiallyQuantizedInputsAndBeatRtn) {
  const fs::path model = bt::minilm_dir();
  const auto calib = calibration_sentences(model, 24);
  BertEncoder gptq = BertEncoder::load(model), rtn = BertEncoder::load(model);
  const auto orig = weights_of(gptq);
  PtqOptions o;
  o.bits = 3;
  o.group_size = 128;
  o.threads = 2;
  o.method = PtqMethod::Gptq;
  const PtqResult rg = quantize_encoder(gptq, calib, o);
  o.method = PtqMethod::Rtn;
  const PtqResult rr = quantize_encoder(rtn, calib, o);
  ASSERT_EQ(rg.linears.size(), 6u * gptq.config().num_layers);
  ASSERT_EQ(rr.linears.size(), rg.linears.size());

  // H of each layer's query input through the quantized model.
  std::map<std::string, std::vector<double>> h;
  for (const auto& ids : calib) {
    std::vector<float> x = gptq.embed(ids, 1);
    const std::vector<std::int32_t> mask(ids.size(), 1);
    for (int il = 0; il < gptq.config().num_layers; ++il)
      gptq.run_layer(il, x, mask, 1, 2, [&](int, const Linear& lin, const float* in, std::int64_t rows) {
        if (&lin != &gptq.layer(il).query) return;
        auto& m = h[lin.name()];
        const std::int64_t c = lin.cols();
        m.resize(static_cast<std::size_t>(c * c));
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t i = 0; i < c; ++i)
            for (std::int64_t j = 0; j < c; ++j) m[i * c + j] += double(in[r * c + i]) * in[r * c + j];
      });
  }
  double sum_g = 0, sum_r = 0;
  for (std::size_t i = 0; i < rg.linears.size(); ++i) {
    const auto& lg = rg.linears[i];
    ASSERT_EQ(lg.name, rr.linears[i].name);
    sum_g += lg.rel_error;
    sum_r += rr.linears[i].rel_error;
    if (lg.name.find("attention.self.query") == std::string::npos) continue;
    const Linear* lin = nullptr;
    for (const Linear* l : gptq.layer(lg.layer).linears())
      if (l->name() == lg.name) lin = l;
    ASSERT_NE(lin, nullptr);
    const double want = relative_error(orig.at(lg.name), lin->decoded_weight(), lin->rows(), lin->cols(), h.at(lg.name));
    // The report forms H in fp32 and the matmul in fp32: ~1e-6 relative of numbers ~1e-2.
    EXPECT_NEAR(lg.rel_error, want, 1e-4 * want) << lg.name;
  }
  std::printf("MiniLM W3 g128 on 24 sentences: mean relative output error GPTQ %.4g, RTN %.4g\n",
              sum_g / double(rg.linears.size()), sum_r / double(rr.linears.size()));
  EXPECT_LT(sum_g, 0.8 * sum_r);
}

// AWQ through the CLI: the checkpoint it writes (value's bias rescaled, Linears as lowbit
// codes) embeds exactly as the in-process model did (`lowbit perplexity --base` gives the
// report's cosine), and transformers, loading its dequantized weights, agrees to 1e-5.
TEST(PeerPtqEncoder, CliCheckpointEmbedsAsInProcessAndAsTransformers) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const fs::path model = bt::minilm_dir();
  const fs::path calib = dir / "calib.txt", eval = dir / "eval.txt", out = dir / "awq";
  bt::lowbit_cli("corpus austen --split calibration --out " + shell_quote(calib.string()));
  bt::lowbit_cli("corpus austen --split evaluation --out " + shell_quote(eval.string()));
  bt::lowbit_cli("quantize " + shell_quote(model.string()) + " " + shell_quote(out.string()) +
                 " --method awq --scheme int4:g128:asym --calib " + shell_quote(calib.string()) +
                 " --calib-sentences 16 --eval-text " + shell_quote(eval.string()) +
                 " --eval-sentences 12 --format safetensors --threads 2 -q --report " +
                 shell_quote((dir / "report.json").string()));
  std::ifstream rf(dir / "report.json");
  const auto report = nlohmann::json::parse(rf);
  bt::lowbit_cli("perplexity " + shell_quote(out.string()) + " --base " + shell_quote(model.string()) + " --text " +
                 shell_quote(eval.string()) + " --sentences 12 --threads 2 --json " + shell_quote((dir / "p.json").string()));
  std::ifstream pf(dir / "p.json");
  const auto p = nlohmann::json::parse(pf);
  EXPECT_EQ(report["eval"]["mean_cosine"].get<double>(), p["mean_cosine"].get<double>());
  EXPECT_EQ(report["eval"]["min_cosine"].get<double>(), p["min_cosine"].get<double>());
  EXPECT_LT(p["mean_cosine"].get<double>(), 1.0);
  EXPECT_GT(p["mean_cosine"].get<double>(), 0.9);
  int scaled = 0;
  for (const auto& l : report["linears"]) scaled += l.contains("awq_alpha");
  EXPECT_EQ(scaled, 6);  // one v -> o scale group per layer

  // transformers on the dequantized checkpoint, the same ids as lowbit's tokenizer-free path.
  const auto seqs = bt::sentence_ids(model, 12, 256, dir / "ids.json");
  fs::create_directories(dir / "dequantized");
  bt::lowbit_cli("dequantize " + shell_quote((out / "model.safetensors").string()) + " " +
                 shell_quote((dir / "dequantized/model.safetensors").string()));
  fs::copy_file(model / "config.json", dir / "dequantized/config.json");
  lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "model_transformers_bert.py",
                                 {"--model", model.string(), "--model2", (dir / "dequantized").string(), "--ids",
                                  (dir / "ids.json").string(), "--out", (dir / "hf").string()});
  std::ifstream mf(dir / "hf/meta.json");
  const auto hf_cos = nlohmann::json::parse(mf)["cosine"].get<std::vector<double>>();
  const EmbeddingFidelity f = embedding_fidelity(BertEncoder::load(model), BertEncoder::load(out), seqs, 2);
  ASSERT_EQ(hf_cos.size(), f.cosine.size());
  for (std::size_t i = 0; i < hf_cos.size(); ++i) EXPECT_NEAR(f.cosine[i], hf_cos[i], 1e-5) << "sentence " << i;
}
