// lowbit's AWQ-GEMM and GPTQ v1/v2 checkpoints of the real SmolLM2-135M read back by the
// ecosystem (tests/peers/hf_quant_checkpoint.py): transformers parses config.json's
// quantization_config, AutoAWQ / AutoGPTQ dequantize every Linear, and the weights must
// equal the ones lowbit computes with (after un-permuting llama.cpp's q/k rows); a plain
// transformers model built on them must give lowbit's logits (fp32 numerics on both sides).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <utility>
#include <nlohmann/json.hpp>

#include "lowbit/austen.h"
#include "lowbit/decoder.h"
#include "lowbit/fp16.h"
#include "lowbit/hf_quant_export.h"
#include "lowbit/layerwise.h"
#include "lowbit/ptq.h"
#include "lowbit/safetensors.h"
#include "lowbit/tokenizer.h"
#include "support/decoder_logits.h"
#include "support/peer.h"

using namespace lowbit;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Case {
  const char* name;
  hfq::Layout layout;
  PtqMethod method;
  int bits;
  std::int64_t group;
  bool sym, act_order;
};

std::string smollm2_path() {
  return json::parse(lowbit::testing::run_peer("gguf_model_paths.py", {}))["smollm2"].get<std::string>();
}

constexpr const char* kRoles[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                   "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

void check(const Case& k) {
  const fs::path dir = lowbit::testing::scratch_dir();
  const std::string gguf = smollm2_path();
  auto model = DecoderModel::load(gguf);
  make_decoder_f32(model);
  PtqOptions o;
  o.method = k.method;
  o.bits = k.bits;
  o.group_size = k.group;
  o.sym = k.sym;
  o.gptq.act_order = k.act_order;
  o.threads = 2;
  check_hf_layout(model, o, k.layout);
  std::vector<std::vector<std::int32_t>> calib;
  if (k.method != PtqMethod::Rtn) {
    const auto tok = load_tokenizer(gguf);
    calib = calibration_chunks(*tok, austen_text(AustenSplit::calibration).substr(0, 20000), 64, 2);
  }
  const PtqResult r = quantize_decoder(model, calib, o);
  for (const auto& l : r.linears) EXPECT_TRUE(l.compact) << l.name << " kept fp32";
  round_decoder_to_hf_checkpoint(model, r);
  HfQuantExportOptions eo;
  eo.layout = k.layout;
  eo.method = ptq_method_name(k.method);
  const fs::path ckpt = dir / "ckpt";
  const auto rep = write_hf_quantized(model, r, o, eo, ckpt);
  std::printf("[%s] %.1f MB, %lld groups with zero point 0\n", k.name, double(rep.bytes) / 1e6,
              static_cast<long long>(rep.v1_wrapped_zeros));

  const std::vector<std::vector<std::int32_t>> ids = {{1, 504, 2210, 314, 253, 1345, 28, 9010}, {17, 44, 999, 3000, 12}};
  std::ofstream(dir / "ids.json") << json(ids).dump();
  lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "hf_quant_checkpoint.py",
                                 {"--dir", ckpt.string(), "--ids", (dir / "ids.json").string(), "--out", (dir / "peer").string()});

  const auto seen = json::parse(std::ifstream(dir / "peer" / "config.json"));
  EXPECT_EQ(seen["model_type"], "llama");
  EXPECT_EQ(seen["bits"], k.bits);
  EXPECT_EQ(seen["group_size"], k.group);
  if (k.layout == hfq::Layout::AwqGemm) {
    EXPECT_EQ(seen["quant_method"], "awq");
    EXPECT_EQ(seen["version"], "gemm");
    EXPECT_EQ(seen["zero_point"], true);
  } else {
    EXPECT_EQ(seen["quant_method"], "gptq");
    EXPECT_EQ(seen["sym"], k.sym);
    EXPECT_EQ(seen["desc_act"], k.act_order);
    EXPECT_EQ(seen["checkpoint_format"], k.layout == hfq::Layout::GptqV1 ? "gptq" : "gptq_v2");
  }

  // Weights: the peer's [out, in] in HF row order; lowbit's in GGUF order for q/k.
  const auto peer = SafetensorsFile::open(dir / "peer" / "weights.safetensors");
  const DecoderConfig& c = model.config();
  const auto perm_q = hf_rows_from_gguf_rope(c.n_head, c.head_dim), perm_k = hf_rows_from_gguf_rope(c.n_head_kv, c.head_dim);
  std::int64_t mismatched = 0, quirk = 0, total = 0;
  for (int il = 0; il < c.n_layer; ++il) {
    const auto lins = model.layer(il).linears();
    for (std::size_t j = 0; j < lins.size(); ++j) {
      const Linear& lin = *lins[j];
      const GptqResult& q = *r.weights.at(lin.name());
      const auto mine_w = lin.decoded_weight();
      const auto w = tensor_to_f32(peer.tensor("model.layers." + std::to_string(il) + "." + kRoles[j] + ".weight"));
      ASSERT_EQ(static_cast<std::int64_t>(w.size()), lin.rows() * lin.cols()) << lin.name();
      const std::vector<std::int64_t>* perm = j == 0 ? &perm_q : j == 1 ? &perm_k : nullptr;
      for (std::int64_t hr = 0; hr < lin.rows(); ++hr) {
        const std::int64_t gr = perm ? (*perm)[static_cast<std::size_t>(hr)] : hr;
        for (std::int64_t i = 0; i < lin.cols(); ++i) {
          const float mine = mine_w[static_cast<std::size_t>(gr * lin.cols() + i)];
          const float theirs = w[static_cast<std::size_t>(hr * lin.cols() + i)];
          ++total;
          if (mine == theirs) continue;
          // AutoGPTQ reads a stored zero point of 0 as 2^bits (GPTQ v1's minus-one wraps):
          // the only difference allowed, and only in such groups.
          const auto gi = static_cast<std::size_t>(gr * q.groups + q.g_idx[static_cast<std::size_t>(i)]);
          const float s = fp16_to_fp32(fp32_to_fp16(q.scales[gi]));
          const float wrapped = s * (static_cast<float>(q.codes[static_cast<std::size_t>(gr * lin.cols() + i)]) -
                                     static_cast<float>(1 << k.bits));
          if (k.layout != hfq::Layout::AwqGemm && q.zeros[gi] == 0 && theirs == wrapped) {
            ++quirk;
          } else if (++mismatched < 5) {
            ADD_FAILURE() << lin.name() << " HF row " << hr << " col " << i << ": lowbit " << mine << ", peer " << theirs;
          }
        }
      }
    }
  }
  std::printf("[%s] %lld weights: %lld differ (%lld only by AutoGPTQ's zero-point-0 wrap)\n", k.name,
              static_cast<long long>(total), static_cast<long long>(mismatched + quirk), static_cast<long long>(quirk));
  EXPECT_EQ(mismatched, 0);
  if (k.sym) {
    EXPECT_EQ(quirk, 0);
  }

  // Logits: transformers' fp32 Llama on the peer's weights vs lowbit in fp32. Without
  // groups AutoGPTQ misreads both run the same weights, so they agree to fp32 rounding.
  if (quirk) return;
  model.use_fp32_numerics();
  lowbit::testing::expect_logits_match_file(model, ids, dir / "peer" / "logits.f32", 1e-4, k.name);
}

}  // namespace

TEST(PeerHfQuantExport, AwqGemmRtnW4G64) {
  check({"awq", hfq::Layout::AwqGemm, PtqMethod::Rtn, 4, 64, false, false});
}

TEST(SlowPeerHfQuantExport, GptqV1SymActOrderW4G128) {
  check({"gptq-v1", hfq::Layout::GptqV1, PtqMethod::Gptq, 4, 128, true, true});
}

TEST(SlowPeerHfQuantExport, GptqV2AsymW3G128) {
  check({"gptq-v2", hfq::Layout::GptqV2, PtqMethod::Rtn, 3, 128, false, false});
}

// lowbit's own layout (--format safetensors): whatever the GPTQ/AWQ layouts cannot hold —
// 3-bit codes in ragged 128-groups (576 inputs), k-means codebooks — read back by
// DecoderModel::load must be the same weights and give the same logits.
static void check_lowbit_round_trip(PtqMethod method, int bits, std::int64_t group, const char* label) {
  const fs::path dir = lowbit::testing::scratch_dir();
  auto model = DecoderModel::load(smollm2_path());
  make_decoder_f32(model);
  PtqOptions o;
  o.method = method;
  o.bits = bits;
  o.group_size = group;
  o.threads = 2;
  const PtqResult r = quantize_decoder(model, {}, o);
  for (const auto& l : r.linears) EXPECT_TRUE(l.compact) << l.name << " kept fp32";
  write_lowbit_quantized(model, r, o, dir / "ckpt");
  const auto back = DecoderModel::load(dir / "ckpt");
  const DecoderConfig& c = model.config();
  ASSERT_EQ(back.config().n_layer, c.n_layer);
  std::int64_t differ = 0;
  for (int il = 0; il < c.n_layer; ++il) {
    const auto mine = std::as_const(model).layer(il).linears(), theirs = back.layer(il).linears();
    for (std::size_t j = 0; j < mine.size(); ++j) {
      const auto order = j == 0 ? hf_rows_from_gguf_rope(c.n_head, c.head_dim)
                         : j == 1 ? hf_rows_from_gguf_rope(c.n_head_kv, c.head_dim)
                                  : std::vector<std::int64_t>{};
      const auto a = mine[j]->decoded_weight(), b = theirs[j]->decoded_weight();
      ASSERT_EQ(a.size(), b.size()) << mine[j]->name();
      const std::int64_t cols = mine[j]->cols();
      for (std::int64_t row = 0; row < mine[j]->rows(); ++row) {
        const std::int64_t src = order.empty() ? row : order[static_cast<std::size_t>(row)];
        for (std::int64_t i = 0; i < cols; ++i) differ += a[static_cast<std::size_t>(src * cols + i)] != b[static_cast<std::size_t>(row * cols + i)];
      }
    }
  }
  EXPECT_EQ(differ, 0) << label;
  // The reloaded model runs HF's rotate-half rope on un-permuted rows; the in-process one
  // its GGUF pairs, both in fp32: the same function to rounding.
  model.use_fp32_numerics();
  const std::vector<std::vector<std::int32_t>> ids = {{1, 504, 2210, 314, 253, 1345, 28, 9010}};
  const fs::path lf = dir / "logits.f32";
  {
    std::vector<float> logits(ids[0].size() * static_cast<std::size_t>(c.n_vocab));
    back.forward(ids[0], logits.data(), 2);
    std::ofstream(lf, std::ios::binary).write(reinterpret_cast<const char*>(logits.data()),
                                              static_cast<std::streamsize>(logits.size() * 4));
  }
  lowbit::testing::expect_logits_match_file(model, ids, lf, 1e-4, label);
}

TEST(PeerLowbitPtqExport, Rtn3BitRaggedGroupsAndKmeans3BitReadBackUnchanged) {
  check_lowbit_round_trip(PtqMethod::Rtn, 3, 128, "rtn int3 g128");
  check_lowbit_round_trip(PtqMethod::Kmeans, 3, 0, "kmeans3 channel");
}
