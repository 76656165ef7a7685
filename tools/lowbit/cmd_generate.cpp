// `lowbit generate MODEL (--prompt TEXT | --prompt-file F | --prompt-ids F.json)
//  [--tokens N] [--threads N] [--ignore-eos] [--json F]`: greedy generation through the
// KV cache, timed the way llama-bench separates them: the prompt in one batch (prompt
// tokens/s), then one token per step (generation tokens/s, steps after the first choice).
#include <chrono>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "lowbit/atomic_file.h"
#include "lowbit/decoder.h"
#include "lowbit/error.h"
#include "lowbit/parallel.h"
#include "lowbit/tokenizer.h"
#include "text_file.h"

namespace lowbit::cli {
namespace {

std::vector<std::int32_t> read_ids(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open the prompt ids");
  try {
    return nlohmann::json::parse(in).get<std::vector<std::int32_t>>();
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": not a JSON array of token ids (", e.what(), ")");
  }
}

std::int32_t argmax(const std::vector<float>& x) {
  std::size_t a = 0;
  for (std::size_t j = 1; j < x.size(); ++j)
    if (x[j] > x[a]) a = j;
  return static_cast<std::int32_t>(a);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void register_generate(CLI::App& app) {
  static std::string model_path, prompt, prompt_file, prompt_ids, json_out;
  static int tokens = 64, threads = 0;
  static bool ignore_eos = false;
  auto* cmd = app.add_subcommand("generate", "Greedy text generation through the KV cache, with prompt and generation tokens/s");
  cmd->add_option("model", model_path, "a .gguf file or a HF model directory")->required();
  auto* p1 = cmd->add_option("--prompt", prompt, "prompt text (BOS added as the tokenizer wants)");
  auto* p2 = cmd->add_option("--prompt-file", prompt_file, "prompt text from a UTF-8 file");
  auto* p3 = cmd->add_option("--prompt-ids", prompt_ids, "prompt as a JSON array of token ids, used as given");
  p1->excludes(p2)->excludes(p3);
  p2->excludes(p3);
  cmd->add_option("--tokens", tokens, "tokens to generate")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--threads", threads, "worker threads (0 = all cores)");
  cmd->add_flag("--ignore-eos", ignore_eos, "keep generating after the end-of-sequence token (for timing)");
  cmd->add_option("--json", json_out, "also write ids and timings as JSON");
  cmd->callback([] {
    const auto model = DecoderModel::load(model_path);
    const auto tok = load_tokenizer(model_path);
    std::vector<std::int32_t> ids;
    if (!prompt_ids.empty())
      ids = read_ids(prompt_ids);
    else if (!prompt_file.empty())
      ids = tok->encode(read_text_file(prompt_file));
    else
      ids = tok->encode(prompt);
    if (ids.empty()) fail("the prompt has no tokens (give --prompt, --prompt-file or --prompt-ids)");
    const int nt = threads > 0 ? threads : hardware_threads();
    const std::int64_t n_prompt = static_cast<std::int64_t>(ids.size());
    auto kv = model.new_cache(n_prompt + tokens);
    std::vector<float> logits(static_cast<std::size_t>(model.config().n_vocab));

    auto t0 = std::chrono::steady_clock::now();
    model.decode(ids, kv, logits.data(), nt);
    const double prompt_s = seconds_since(t0);
    std::vector<std::int32_t> out;
    const std::int32_t eos = tok->special().eos;
    t0 = std::chrono::steady_clock::now();
    for (int g = 0; g < tokens; ++g) {
      out.push_back(argmax(logits));
      if (g + 1 == tokens || (!ignore_eos && out.back() == eos)) break;
      model.decode(std::span(out).last(1), kv, logits.data(), nt);
    }
    const double gen_s = seconds_since(t0);
    const auto decoded = static_cast<std::int64_t>(out.size()) - 1;  // the last choice needs no step

    std::printf("%s%s\n\n", tok->decode(ids).c_str(), tok->decode(out).c_str());
    const double prompt_tps = static_cast<double>(n_prompt) / prompt_s;
    const double gen_tps = decoded > 0 ? static_cast<double>(decoded) / gen_s : 0.0;
    std::printf("prompt: %lld tokens in %.3f s (%.1f tokens/s); generation: %zu tokens, %lld steps in %.3f s "
                "(%.1f tokens/s); %d threads\n",
                static_cast<long long>(n_prompt), prompt_s, prompt_tps, out.size(), static_cast<long long>(decoded),
                gen_s, gen_tps, nt);
    if (!json_out.empty()) {
      const nlohmann::json j = {{"prompt_tokens", n_prompt},     {"generated", out},
                                {"prompt_seconds", prompt_s},    {"generation_seconds", gen_s},
                                {"decoded", decoded},            {"prompt_tokens_per_second", prompt_tps},
                                {"generation_tokens_per_second", gen_tps}, {"threads", nt}};
      write_file_atomic(json_out, j.dump(2) + "\n");
    }
  });
}

}  // namespace lowbit::cli
