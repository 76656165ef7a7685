// Which clip is best: calibrates every observer on the inputs of all 24 Linear layers
// of all-MiniLM-L6-v2 over Persuasion sentences, freezes static ranges, and measures
// the SQNR of quantizing the same layers' inputs over held-out Emma sentences (int8 and
// int4, affine and symmetric), beside dynamic per-tensor and per-token quantization.
// Usage: calibrate_compare MODEL.safetensors CALIB.ids EVAL.ids (bench/calibrate_compare.sh)
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "lowbit/activation_quant.h"
#include "lowbit/parallel.h"
#include "minilm_activations.h"

using namespace lowbit;
using namespace lowbit::calib;

namespace {

std::vector<std::vector<int>> read_ids(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("cannot open ", path);
  std::vector<std::vector<int>> out;
  for (std::string line; std::getline(f, line);) {
    std::istringstream is(line);
    std::vector<int> ids;
    for (int v; is >> v;) ids.push_back(v);
    if (!ids.empty()) out.push_back(std::move(ids));
  }
  return out;
}

// Per sentence, per captured tensor: rows x 384/1536.
std::vector<minilm::Captures> run(const minilm::Weights& w, const std::vector<std::vector<int>>& sents) {
  std::vector<minilm::Captures> caps(sents.size());
  parallel_for(sents.size(), 0, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      caps[i] = minilm::forward(w, sents[i]);
      caps[i].erase("final_hidden");
    }
  });
  return caps;
}

struct Row {
  std::string name;
  ObserverOptions opts;  // unused for dynamic rows
  ActivationMode mode = ActivationMode::Static;
};

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MODEL.safetensors CALIB.ids EVAL.ids\n", argv[0]);
    return 2;
  }
  const auto w = minilm::load(argv[1]);
  const auto calib = run(w, read_ids(argv[2]));
  const auto eval = run(w, read_ids(argv[3]));
  std::vector<std::string> tensors;
  for (const auto& [name, v] : calib[0]) tensors.push_back(name);
  auto cols_of = [](const std::string& t) { return t.find("ffn_down_in") != std::string::npos ? 1536u : 384u; };

  std::vector<Row> rows;
  for (const char* spec : {"minmax", "ma", "percentile:99.99", "percentile:99.999", "entropy", "entropy-ort:2048",
                           "distribution", "hist-l2", "mse"})
    rows.push_back({spec, parse_observer(spec)});
  rows.push_back({"dynamic per-tensor", {}, ActivationMode::DynamicPerTensor});
  rows.push_back({"dynamic per-token", {}, ActivationMode::DynamicPerToken});
  const std::vector<std::pair<std::string, QuantTarget>> targets = {
      {"int8 asym", quant_target(8, false, false)},
      {"int8 sym", quant_target(8, true, true)},
      {"int4 asym", quant_target(4, false, false)},
      {"int4 sym", quant_target(4, true, true)}};

  // mean SQNR (dB) over the 24 tensors, per row and target
  std::vector<std::vector<double>> sqnr(rows.size(), std::vector<double>(targets.size(), 0.0));
  std::mutex mu;
  parallel_for(rows.size() * tensors.size(), 0, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t job = b; job < e; ++job) {
      const Row& row = rows[job / tensors.size()];
      const std::string& t = tensors[job % tensors.size()];
      const std::size_t cols = cols_of(t);
      std::optional<Observer> obs;
      if (row.mode == ActivationMode::Static) {
        obs.emplace(row.opts, t);
        for (const auto& c : calib) obs->observe(c.at(t));
      }
      for (std::size_t ti = 0; ti < targets.size(); ++ti) {
        const auto q = obs ? ActivationQuantizer::freeze(*obs, targets[ti].second)
                           : ActivationQuantizer::dynamic(row.mode, targets[ti].second);
        ErrorStats total;
        for (const auto& c : eval) {
          const auto& x = c.at(t);
          total.merge(activation_error(x, x.size() / cols, cols, q));
        }
        std::lock_guard lock(mu);
        sqnr[job / tensors.size()][ti] += total.sqnr_db() / static_cast<double>(tensors.size());
      }
    }
  });
  std::size_t calib_tokens = 0, eval_tokens = 0;
  for (const auto& c : calib) calib_tokens += c.at(tensors[0]).size() / 384;
  for (const auto& c : eval) eval_tokens += c.at(tensors[0]).size() / 384;
  std::printf("all-MiniLM-L6-v2, inputs of its %zu Linear layers; calibration: %zu Persuasion sentences (%zu tokens), "
              "evaluation: %zu Emma sentences (%zu tokens). Mean SQNR (dB) over the tensors, higher is better.\n\n",
              tensors.size(), calib.size(), calib_tokens, eval.size(), eval_tokens);
  std::printf("| observer (static range) |");
  for (const auto& t : targets) std::printf(" %s |", t.first.c_str());
  std::printf("\n|---|");
  for (std::size_t i = 0; i < targets.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::printf("| %s |", rows[r].name.c_str());
    for (double v : sqnr[r]) std::printf(" %.2f |", v);
    std::printf("\n");
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "calibrate_compare: %s\n", e.what());
  return 1;
}
