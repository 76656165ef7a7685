// `lowbit calibrate MODEL --text FILE --out STATS.safetensors [--imatrix OUT.gguf]`:
// runs calibration text through the model one layer at a time and records, for every
// Linear input, mean |x|, mean x^2, per-channel min/max, (1/n) X^T X and an optional
// observer's range. Memory holds the hidden states plus one layer's statistics; each
// layer's tensors are streamed to the output as soon as the layer is done.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "lowbit/activation_stats.h"
#include "lowbit/decoder.h"
#include "lowbit/error.h"
#include "lowbit/imatrix.h"
#include "lowbit/layerwise.h"
#include "lowbit/safetensors.h"
#include "lowbit/tokenizer.h"
#include "progress.h"
#include "text_file.h"

namespace lowbit::cli {
namespace {

std::span<const std::byte> bytes_of(const std::vector<float>& v) {
  return std::as_bytes(std::span<const float>(v));
}

}  // namespace

void register_calibrate(CLI::App& app) {
  static std::string model_path, text, out, imatrix_out, observer;
  static int ctx = 512, chunks = -1, threads = 0;
  static bool no_hessian = false, process_output = false, quiet = false;
  auto* cmd = app.add_subcommand("calibrate", "Record Linear-input statistics (AWQ, GPTQ, imatrix) over calibration text");
  cmd->add_option("model", model_path, "a .gguf file or a HF model directory")->required();
  cmd->add_option("--text", text, "calibration text (UTF-8)")->required();
  cmd->add_option("--out", out, "statistics (.safetensors)")->required();
  cmd->add_option("--imatrix", imatrix_out, "also write llama.cpp's imatrix (GGUF) for llama-quantize --imatrix");
  cmd->add_option("--ctx", ctx, "tokens per calibration chunk (llama-imatrix's -c)")->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--chunks", chunks, "use at most this many chunks (-1 = all)");
  cmd->add_option("--observer", observer, "also run this observer per tensor (e.g. minmax, hist-l2, percentile:99.99)");
  cmd->add_option("--threads", threads, "worker threads (0 = all cores)");
  cmd->add_flag("--no-hessian", no_hessian, "skip X^T X (the largest statistic)");
  cmd->add_flag("--process-output", process_output, "also collect the output head's input (llama-imatrix's flag)");
  cmd->add_flag("-q,--quiet", quiet, "no progress bar");
  cmd->callback([] {
    DecoderModel model = DecoderModel::load(model_path);
    const auto tok = load_tokenizer(model_path);
    const auto seqs = calibration_chunks(*tok, read_text_file(text), ctx, chunks);
    const auto n_seq = static_cast<int>(seqs.size());
    LayerwiseRunner runner(model, seqs, threads);
    const auto& c = model.config();

    ActivationStatsOptions so;
    so.hessian = !no_hessian;
    if (!observer.empty()) so.observer = calib::parse_observer(observer);
    // Every tensor is declared up front (the safetensors header comes first); each
    // layer's statistics are then written and dropped before the next layer runs.
    std::vector<const Linear*> order;
    for (int il = 0; il < c.n_layer; ++il)
      for (const Linear* l : const_cast<DecoderLayer&>(model.layer(il)).linears()) order.push_back(l);
    if (process_output) order.push_back(&model.output());
    std::vector<TensorDecl> decls;
    for (const Linear* l : order) {
      for (const char* s : {".in_abs_mean", ".in_sq_mean", ".in_min", ".in_max"})
        decls.push_back({l->name() + s, DType::F32, {l->cols()}});
      if (so.hessian) decls.push_back({l->name() + ".hessian", DType::F32, {l->cols(), l->cols()}});
      if (so.observer) decls.push_back({l->name() + ".in_range", DType::F32, {2}});
    }
    SafetensorsMetadata meta = {{"lowbit.calib.format", "1"},
                                {"lowbit.calib.model", model_path},
                                {"lowbit.calib.text", text},
                                {"lowbit.calib.ctx", std::to_string(ctx)},
                                {"lowbit.calib.chunks", std::to_string(n_seq)},
                                {"lowbit.calib.tokens", std::to_string(runner.tokens())},
                                {"lowbit.calib.hessian", "(1/n) X^T X over the n input rows"},
                                {"lowbit.calib.observer", observer}};
    SafetensorsWriter writer(out, decls, meta);
    ActivationStats stats(so);
    Imatrix im;
    Progress progress(static_cast<std::size_t>(c.n_layer + (process_output ? 1 : 0)), quiet);
    const auto t0 = std::chrono::steady_clock::now();
    const int th = threads;
    auto observe = [&](int, const Linear& lin, const float* x, std::int64_t rows) {
      stats.add(lin.name(), x, rows, lin.cols(), th);
    };
    auto flush = [&](const std::vector<const Linear*>& lins) {
      for (const Linear* l : lins) {
        const auto& e = stats.at(l->name());
        writer.write(l->name() + ".in_abs_mean", bytes_of(e.mean_abs()));
        writer.write(l->name() + ".in_sq_mean", bytes_of(e.mean_sq()));
        writer.write(l->name() + ".in_min", bytes_of(e.min));
        writer.write(l->name() + ".in_max", bytes_of(e.max));
        if (so.hessian) writer.write(l->name() + ".hessian", bytes_of(e.hessian_mean()));
        if (so.observer) {
          const auto r = e.observer->ranges(calib::QuantTarget{IntRange{-128, 127, 8, true}, false, false}).at(0);
          writer.write(l->name() + ".in_range", bytes_of(std::vector<float>{r.min, r.max}));
        }
      }
      stats.fill_imatrix(im);
      for (const Linear* l : lins) stats.erase(l->name());
    };
    for (int il = 0; il < c.n_layer; ++il) {
      runner.run_layer(observe, true);
      std::vector<const Linear*> lins;
      for (const Linear* l : const_cast<DecoderLayer&>(model.layer(il)).linears()) lins.push_back(l);
      flush(lins);
      progress.step("layer " + std::to_string(il));
    }
    if (process_output) {
      runner.run_head(observe);
      flush({&model.output()});
      progress.step("output");
    }
    writer.commit();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!imatrix_out.empty()) {
      im.datasets = {text};
      im.chunk_count = n_seq;
      im.chunk_size = ctx;
      write_imatrix_gguf(imatrix_out, im);
    }
    std::printf("calibrated %d chunks x %d tokens (%lld tokens) through %d layers in %.1f s: %zu Linear inputs -> %s%s%s\n",
                n_seq, ctx, static_cast<long long>(runner.tokens()), c.n_layer, secs, order.size(), out.c_str(),
                imatrix_out.empty() ? "" : ", imatrix -> ", imatrix_out.c_str());
  });
}

}  // namespace lowbit::cli
