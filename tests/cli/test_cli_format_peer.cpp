// End-to-end check of lowbit's quantized safetensors layout against an independent
// reader: `lowbit quantize` then `lowbit dequantize`, and tests/peers/cli_lowbit_format.py
// (numpy, written from the format spec alone) must rebuild every tensor bit for bit.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lowbit/bf16.h"
#include "lowbit/fp16.h"
#include "lowbit/safetensors.h"
#include "support/peer.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;
using testing::cli_path;
using testing::run_command;
using testing::run_peer;
using testing::scratch_dir;
using testing::shell_quote;

std::span<const std::byte> as_bytes_of(const auto& v) { return std::as_bytes(std::span(v)); }

// Values with awkward features: per-row scales spanning decades, an all-zero row, a
// constant row, a one-sided row and single outliers.
std::vector<float> awkward_values(std::int64_t rows, std::int64_t cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float scale = std::ldexp(1.0f, static_cast<int>(r % 7) - 4);
    for (std::int64_t c = 0; c < cols; ++c) {
      float v = nd(rng) * scale;
      if (r % 11 == 3) v = 0.0f;
      if (r % 11 == 5) v = 0.375f;
      if (r % 11 == 7) v = std::fabs(v);
      if ((r * cols + c) % 97 == 13) v *= 25.0f;
      x[static_cast<std::size_t>(r * cols + c)] = v;
    }
  }
  return x;
}

struct Model {
  std::vector<std::vector<std::byte>> storage;
  std::vector<TensorData> tensors;
  void add_f32(std::string name, std::vector<std::int64_t> shape, std::uint32_t seed) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    const std::int64_t cols = shape.empty() ? 1 : shape.back();
    const auto v = awkward_values(n / cols, cols, seed);
    storage.emplace_back(as_bytes_of(v).begin(), as_bytes_of(v).end());
    tensors.push_back({std::move(name), DType::F32, std::move(shape), storage.back()});
  }
  void add_16(std::string name, DType dt, std::vector<std::int64_t> shape, std::uint32_t seed) {
    const auto v = awkward_values(shape[0], shape[1], seed);
    std::vector<std::uint16_t> h(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) h[i] = dt == DType::F16 ? fp32_to_fp16(v[i]) : fp32_to_bf16(v[i]);
    storage.emplace_back(as_bytes_of(h).begin(), as_bytes_of(h).end());
    tensors.push_back({std::move(name), dt, std::move(shape), storage.back()});
  }
  void add_i64(std::string name, std::vector<std::int64_t> shape) {
    std::vector<std::int64_t> v(static_cast<std::size_t>(shape[0] * shape[1]));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::int64_t>(i * 7919) - 40;
    storage.emplace_back(as_bytes_of(v).begin(), as_bytes_of(v).end());
    tensors.push_back({std::move(name), DType::I64, std::move(shape), storage.back()});
  }
};

void write_synthetic_model(const fs::path& path) {
  Model m;
  m.add_f32("layers.0.weight", {7, 100}, 1);
  m.add_f32("layers.0.conv", {3, 5, 33}, 2);
  m.add_f32("layers.1.weight", {64, 260}, 3);
  m.add_f32("layers.1.bias", {260}, 4);
  m.add_f32("scalar", {}, 5);
  m.add_i64("position_ids", {2, 9});
  m.add_16("half.weight", DType::F16, {12, 40}, 6);
  m.add_16("brain.weight", DType::BF16, {10, 48}, 7);
  m.add_f32("tiny", {1, 3}, 8);
  write_safetensors(path, m.tensors, {{"format", "pt"}});
}

fs::path minilm_path() {
  const std::string out = run_peer("minilm_path.py", {});
  return fs::path(out.substr(0, out.find('\n')));
}

void run_cli(const std::string& args) {
  const auto r = run_command(shell_quote(cli_path().string()) + " " + args);
  ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.output;
}

std::string file_tag(const std::string& spec) {
  std::string t;
  for (char c : spec) t += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return t;
}

float f32_at(const TensorView& v, std::size_t i) {
  float f;
  std::memcpy(&f, v.data.data() + 4 * i, 4);
  return f;
}

// lowbit's dequantized output and the peer's reconstruction of one quantized file.
void expect_same_reconstruction(const fs::path& input, const fs::path& lowbit_out, const fs::path& peer_out,
                                const nlohmann::json& summary, const std::vector<std::string>& skip_regex_names) {
  const auto in = SafetensorsFile::open(input);
  const auto ours = SafetensorsFile::open(lowbit_out);
  const auto peer = SafetensorsFile::open(peer_out);
  const auto quantized = summary.at("quantized").get<std::vector<std::string>>();
  const std::set<std::string> qset(quantized.begin(), quantized.end());

  std::set<std::string> in_names, our_names, peer_names;
  for (const auto& t : in.tensors()) in_names.insert(t.name);
  for (const auto& t : ours.tensors()) our_names.insert(t.name);
  for (const auto& t : peer.tensors()) peer_names.insert(t.name);
  EXPECT_EQ(our_names, in_names);
  EXPECT_EQ(peer_names, in_names);

  // Which tensors the spec says get quantized: floating point, 2+ dims, not skipped.
  std::set<std::string> want_q;
  for (const auto& t : in.tensors()) {
    const bool is_float = t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16;
    bool skipped = false;
    for (const auto& s : skip_regex_names) skipped |= t.name.find(s) != std::string::npos;
    if (is_float && t.shape.size() >= 2 && t.numel() > 0 && !skipped) want_q.insert(t.name);
  }
  EXPECT_EQ(qset, want_q);

  for (const auto& t : in.tensors()) {
    SCOPED_TRACE(t.name);
    const TensorView* o = ours.find(t.name);
    const TensorView* p = peer.find(t.name);
    if (!o || !p) continue;  // reported above
    EXPECT_EQ(o->shape, t.shape);
    EXPECT_EQ(p->shape, t.shape);
    if (!qset.count(t.name)) {
      EXPECT_EQ(p->dtype, t.dtype);
      EXPECT_TRUE(std::equal(p->data.begin(), p->data.end(), t.data.begin(), t.data.end()));
      continue;
    }
    ASSERT_EQ(o->dtype, DType::F32);
    ASSERT_EQ(p->dtype, DType::F32);
    ASSERT_EQ(o->data.size(), p->data.size());
    if (std::memcmp(o->data.data(), p->data.data(), o->data.size()) != 0) {
      std::size_t i = 0, mismatches = 0, first = 0;
      for (; i < o->data.size() / 4; ++i)
        if (std::memcmp(o->data.data() + 4 * i, p->data.data() + 4 * i, 4) != 0 && mismatches++ == 0) first = i;
      ADD_FAILURE() << mismatches << " of " << o->data.size() / 4 << " elements differ; first at flat index " << first
                    << ": lowbit " << f32_at(*o, first) << ", peer " << f32_at(*p, first);
    }
  }
}

// Quantizes `input` under every spec (with the given CLI extras), dequantizes with
// lowbit, runs the peer reader once over all files and compares tensor by tensor.
void check_schemes(const fs::path& input, const std::vector<std::string>& specs, const std::string& extra,
                   const std::vector<std::string>& skipped) {
  const fs::path dir = scratch_dir();
  std::vector<std::string> peer_args;
  for (const auto& spec : specs) {
    const std::string tag = file_tag(spec);
    const fs::path q = dir / ("q_" + tag + ".safetensors"), d = dir / ("d_" + tag + ".safetensors");
    run_cli("quantize " + shell_quote(input.string()) + " " + shell_quote(q.string()) + " --scheme " +
            shell_quote(spec) + " -q " + extra);
    run_cli("dequantize " + shell_quote(q.string()) + " " + shell_quote(d.string()) + " -q");
    if (::testing::Test::HasFatalFailure()) return;
    peer_args.push_back(q.string());
    peer_args.push_back((dir / ("p_" + tag + ".safetensors")).string());
  }
  const auto summary = nlohmann::json::parse(run_peer("cli_lowbit_format.py", peer_args));
  ASSERT_EQ(summary.size(), specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    SCOPED_TRACE(specs[i]);
    const std::string tag = file_tag(specs[i]);
    expect_same_reconstruction(input, dir / ("d_" + tag + ".safetensors"), dir / ("p_" + tag + ".safetensors"),
                               summary[i], skipped);
  }
  // Keep the files for debugging a failure; the real model's copies are large otherwise.
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

TEST(PeerLowbitFormat, SyntheticModelEverySchemeMatchesBitForBit) {
  const fs::path input = scratch_dir().parent_path() / "PeerLowbitFormat.synthetic-input.safetensors";
  write_synthetic_model(input);
  const std::vector<std::string> specs = {
      "int8:channel:sym", "int4:g128:asym", "uint4:g64:asym", "int3:g32:sym", "int2:g16:asym",
      "int5:channel@1:asym", "int4:g32:sb256:asym", "int6:g64:sb128:sbits8:sym", "int16:channel:sym",
      "uint16:g48:asym", "uint3:channel:sym", "nf4:g64", "kmeans4:channel", "kmeans3:g64", "kmeans1:g7",
      "grid[-1,-0.25,0,0.5,1]:g32", "fp8e4m3:tensor", "fp8e5m2:channel", "fp8e4m3:g32", "fp16", "bf16",
      "int8:tensor:sym:full", "uint8:g16:sb64:sbits4:asym", "int7:channel@1:sym:rna"};
  check_schemes(input, specs, "", {});
  fs::remove(input);
}

TEST(PeerLowbitFormat, SkippedTensorsStayAsIs) {
  const fs::path input = scratch_dir().parent_path() / "PeerLowbitFormat.skip-input.safetensors";
  write_synthetic_model(input);
  check_schemes(input, {"int4:g32:asym", "kmeans2:channel@1"}, "--skip 'layers\\.1\\.' --skip '^half'",
                {"layers.1.", "half"});
  fs::remove(input);
}

TEST(PeerLowbitFormat, AllMiniLmL6V2) {
  const fs::path model = minilm_path();
  ASSERT_TRUE(fs::exists(model)) << model;
  check_schemes(model, {"int4:g128:asym", "nf4:g64"}, "", {});
  // k-means per channel over the 30522-row embedding costs tens of seconds: keep the
  // test quick by quantizing the first encoder layer and the small embeddings only.
  check_schemes(model, {"kmeans4:channel"}, "--skip word_embeddings --skip 'encoder\\.layer\\.[1-5]\\.'",
                {"word_embeddings", "encoder.layer.1.", "encoder.layer.2.", "encoder.layer.3.", "encoder.layer.4.",
                 "encoder.layer.5."});
}

}  // namespace
}  // namespace lowbit
