// End-to-end behaviour of the `lowbit` CLI without Python: quantize -> dequantize keeps
// names, shapes and passthrough bytes; --dtype, --skip, --report and inspect agree with
// identities recomputed from the files; thread count never changes the output bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "lowbit/bf16.h"
#include "lowbit/fp16.h"
#include "lowbit/quantized_model.h"
#include "lowbit/safetensors.h"
#include "support/peer.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;
using testing::cli_path;
using testing::CommandResult;
using testing::run_command;
using testing::scratch_dir;
using testing::shell_quote;

std::span<const std::byte> as_bytes_of(const auto& v) { return std::as_bytes(std::span(v)); }

struct Model {
  std::vector<std::vector<std::byte>> storage;
  std::vector<TensorData> tensors;
  std::mt19937 rng{1234};

  std::vector<float> values(std::int64_t n) {
    std::normal_distribution<float> nd(0.0f, 0.5f);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = nd(rng);
    return v;
  }
  void add(std::string name, DType dt, std::vector<std::int64_t> shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    const auto v = values(n);
    std::vector<std::byte> b;
    if (dt == DType::F32) {
      b.assign(as_bytes_of(v).begin(), as_bytes_of(v).end());
    } else if (dt == DType::F16 || dt == DType::BF16) {
      std::vector<std::uint16_t> h(v.size());
      for (std::size_t i = 0; i < v.size(); ++i) h[i] = dt == DType::F16 ? fp32_to_fp16(v[i]) : fp32_to_bf16(v[i]);
      b.assign(as_bytes_of(h).begin(), as_bytes_of(h).end());
    } else {
      std::vector<std::int64_t> iv(v.size());
      for (std::size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<std::int64_t>(i) * 31 - 7;
      b.assign(as_bytes_of(iv).begin(), as_bytes_of(iv).end());
    }
    storage.push_back(std::move(b));
    tensors.push_back({std::move(name), dt, std::move(shape), storage.back()});
  }
};

// A small model covering every tensor kind the CLI distinguishes.
fs::path write_model(const fs::path& dir, std::int64_t big_rows = 64) {
  Model m;
  m.add("embed.weight", DType::F32, {big_rows, 96});
  m.add("layers.0.attn.weight", DType::F32, {48, 80});
  m.add("layers.0.attn.bias", DType::F32, {48});
  m.add("layers.0.conv.weight", DType::F32, {4, 3, 17});
  m.add("layers.1.mlp.weight", DType::F16, {32, 40});
  m.add("layers.1.mlp.bias", DType::F16, {32});
  m.add("layers.1.out.weight", DType::BF16, {24, 64});
  m.add("position_ids", DType::I64, {1, 77});
  m.add("scalar", DType::F32, {});
  const fs::path p = dir / "model.safetensors";
  write_safetensors(p, m.tensors, {{"format", "pt"}, {"origin", "test_cli_roundtrip"}});
  return p;
}

CommandResult cli(const std::string& args) { return run_command(shell_quote(cli_path().string()) + " " + args); }

std::string q(const fs::path& p) { return shell_quote(p.string()); }

bool is_float(DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16; }

bool same_bytes(const TensorView& a, const TensorView& b) {
  return std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end());
}

std::vector<std::string> names_of(const SafetensorsFile& f) {
  std::vector<std::string> n;
  for (const auto& t : f.tensors()) n.push_back(t.name);
  return n;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(CliRoundTrip, RestoresNamesShapesAndPassthroughBytes) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir);
  for (const std::string spec : {"int4:g32:asym", "nf4:g64", "kmeans3:channel", "fp8e5m2:channel"}) {
    SCOPED_TRACE(spec);
    const fs::path qf = dir / "q.safetensors", df = dir / "d.safetensors";
    auto r = cli("quantize " + q(in) + " " + q(qf) + " --scheme " + q(spec) + " -q");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "");  // -q: nothing but errors
    r = cli("dequantize " + q(qf) + " " + q(df) + " -q");
    ASSERT_EQ(r.exit_code, 0) << r.output;

    const auto src = SafetensorsFile::open(in);
    const auto qfile = SafetensorsFile::open(qf);
    const auto out = SafetensorsFile::open(df);
    EXPECT_EQ(names_of(out), names_of(src));
    // Input metadata is carried through both steps; lowbit's own keys are dropped again.
    EXPECT_EQ(qfile.metadata_value("format"), std::optional<std::string_view>("pt"));
    EXPECT_EQ(qfile.metadata_value("lowbit.format"), std::optional<std::string_view>("1"));
    EXPECT_TRUE(qfile.metadata_value("lowbit.scheme").has_value());
    EXPECT_EQ(out.metadata(), src.metadata());
    for (const auto& t : src.tensors()) {
      SCOPED_TRACE(t.name);
      const TensorView* o = out.find(t.name);
      ASSERT_NE(o, nullptr);
      EXPECT_EQ(o->shape, t.shape);
      const bool quantized = is_float(t.dtype) && t.shape.size() >= 2;
      EXPECT_EQ(qfile.contains(t.name), !quantized) << "quantized tensors are stored only as parts";
      if (quantized) {
        EXPECT_EQ(o->dtype, DType::F32);
        // Close to the input: the reconstruction error is below the tensor's range.
        const auto x = tensor_to_f32(t), y = tensor_to_f32(*o);
        float amax = 0, emax = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
          amax = std::max(amax, std::fabs(x[i]));
          emax = std::max(emax, std::fabs(x[i] - y[i]));
        }
        EXPECT_LT(emax, amax);
      } else if (t.dtype == DType::F32 || !is_float(t.dtype)) {
        EXPECT_EQ(o->dtype, t.dtype);
        EXPECT_TRUE(same_bytes(*o, t));
        EXPECT_TRUE(same_bytes(qfile.tensor(t.name), t));
      } else {
        // A 1-D half tensor is kept as-is in the quantized file and widened exactly.
        EXPECT_TRUE(same_bytes(qfile.tensor(t.name), t));
        EXPECT_EQ(o->dtype, DType::F32);
        EXPECT_EQ(tensor_to_f32(*o), tensor_to_f32(t));
      }
    }
  }
}

// fp16 / bf16 quantization of a tensor already in that dtype is the identity.
TEST(CliRoundTrip, HalfSchemesAreExactOnHalfInputs) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir);
  for (const auto& [spec, dt] : {std::pair{"fp16", DType::F16}, std::pair{"bf16", DType::BF16}}) {
    const fs::path qf = dir / "q.safetensors", df = dir / "d.safetensors";
    ASSERT_EQ(cli("quantize " + q(in) + " " + q(qf) + " --scheme " + spec + " -q").exit_code, 0);
    ASSERT_EQ(cli("dequantize " + q(qf) + " " + q(df) + " -q --dtype " + (dt == DType::F16 ? "f16" : "bf16")).exit_code,
              0);
    const auto src = SafetensorsFile::open(in);
    const auto out = SafetensorsFile::open(df);
    int checked = 0, want = 0;
    for (const auto& t : src.tensors()) {
      if (t.dtype != dt) continue;
      ++want;
      SCOPED_TRACE(t.name);
      EXPECT_EQ(out.tensor(t.name).dtype, dt);
      EXPECT_TRUE(same_bytes(out.tensor(t.name), t));
      ++checked;
    }
    EXPECT_GT(checked, 0);
    EXPECT_EQ(checked, want);
  }
}

TEST(CliRoundTrip, DequantizeDtypeF16AndBf16) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir);
  const fs::path qf = dir / "q.safetensors", f32 = dir / "d32.safetensors";
  ASSERT_EQ(cli("quantize " + q(in) + " " + q(qf) + " --scheme int5:g16:asym -q").exit_code, 0);
  ASSERT_EQ(cli("dequantize " + q(qf) + " " + q(f32) + " -q --dtype f32").exit_code, 0);
  const auto ref = SafetensorsFile::open(f32);
  for (const std::string name : {"f16", "bf16"}) {
    SCOPED_TRACE(name);
    const DType dt = name == "f16" ? DType::F16 : DType::BF16;
    const fs::path out = dir / ("d_" + name + ".safetensors");
    const auto r = cli("dequantize " + q(qf) + " " + q(out) + " -q --dtype " + name);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto f = SafetensorsFile::open(out);
    EXPECT_EQ(names_of(f), names_of(ref));
    for (const auto& t : ref.tensors()) {
      SCOPED_TRACE(t.name);
      const TensorView& o = f.tensor(t.name);
      EXPECT_EQ(o.shape, t.shape);
      if (!is_float(t.dtype)) {
        EXPECT_EQ(o.dtype, t.dtype);
        EXPECT_TRUE(same_bytes(o, t));
        continue;
      }
      ASSERT_EQ(o.dtype, dt);
      // The narrow output is the f32 output rounded once to the narrow type.
      const auto wide = tensor_to_f32(t);
      std::vector<std::uint16_t> want(wide.size());
      for (std::size_t i = 0; i < wide.size(); ++i) want[i] = dt == DType::F16 ? fp32_to_fp16(wide[i]) : fp32_to_bf16(wide[i]);
      ASSERT_EQ(o.data.size(), want.size() * 2);
      EXPECT_EQ(std::memcmp(o.data.data(), want.data(), o.data.size()), 0);
    }
  }
}

TEST(CliRoundTrip, SkipKeepsMatchingTensorsAsIs) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir);
  const fs::path qf = dir / "q.safetensors", df = dir / "d.safetensors";
  const auto r = cli("quantize " + q(in) + " " + q(qf) + " --scheme int3:g16:sym -q --skip '^embed\\.' --skip 'conv'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(cli("dequantize " + q(qf) + " " + q(df) + " -q").exit_code, 0);
  const auto src = SafetensorsFile::open(in);
  const auto qfile = SafetensorsFile::open(qf);
  const auto out = SafetensorsFile::open(df);
  const auto meta = nlohmann::json::parse(std::string(*qfile.metadata_value("lowbit.quantized")));
  for (const std::string name : {"embed.weight", "layers.0.conv.weight"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(meta.contains(name));
    ASSERT_TRUE(qfile.contains(name));
    EXPECT_EQ(qfile.tensor(name).dtype, src.tensor(name).dtype);
    EXPECT_EQ(qfile.tensor(name).shape, src.tensor(name).shape);
    EXPECT_TRUE(same_bytes(qfile.tensor(name), src.tensor(name)));
    EXPECT_TRUE(same_bytes(out.tensor(name), src.tensor(name)));
  }
  EXPECT_TRUE(meta.contains("layers.0.attn.weight"));
  EXPECT_FALSE(qfile.contains("layers.0.attn.weight"));
}

TEST(CliRoundTrip, ReportMatchesDequantizedOutput) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir);
  const fs::path qf = dir / "q.safetensors", df = dir / "d.safetensors", rep = dir / "r.json";
  const auto r = cli("quantize " + q(in) + " " + q(qf) + " --scheme uint4:g32:asym -q --report " + q(rep));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir / "r.json.tmp"));
  ASSERT_EQ(cli("dequantize " + q(qf) + " " + q(df) + " -q").exit_code, 0);
  const auto j = nlohmann::json::parse(read_file(rep));
  const auto src = SafetensorsFile::open(in);
  const auto qfile = SafetensorsFile::open(qf);
  const auto out = SafetensorsFile::open(df);

  ASSERT_EQ(j.at("tensors").size(), src.tensors().size());
  double sx = 0, se = 0;
  std::uint64_t params = 0, qparams = 0, qbytes = 0;
  for (std::size_t i = 0; i < src.tensors().size(); ++i) {
    const TensorView& t = src.tensors()[i];
    const auto& e = j["tensors"][i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(e.at("name").get<std::string>(), t.name);
    EXPECT_EQ(e.at("shape").get<std::vector<std::int64_t>>(), t.shape);
    EXPECT_EQ(e.at("bytes_in").get<std::uint64_t>(), t.data.size());
    params += static_cast<std::uint64_t>(t.numel());
    if (e.at("scheme").is_null()) {
      EXPECT_TRUE(qfile.contains(t.name));
      EXPECT_EQ(e.at("bytes_out").get<std::uint64_t>(), t.data.size());
      continue;
    }
    // bytes_out is what the parts "<name>.q*" occupy in the file.
    std::uint64_t part_bytes = 0;
    for (const auto& p : qfile.tensors())
      if (p.name.rfind(t.name + ".q", 0) == 0) part_bytes += p.data.size();
    EXPECT_EQ(e.at("bytes_out").get<std::uint64_t>(), part_bytes);
    qparams += static_cast<std::uint64_t>(t.numel());
    qbytes += part_bytes;
    const auto x = tensor_to_f32(t), y = tensor_to_f32(out.tensor(t.name));
    double tx = 0, te = 0;
    for (std::size_t k = 0; k < x.size(); ++k) {
      tx += double(x[k]) * double(x[k]);
      te += (double(x[k]) - double(y[k])) * (double(x[k]) - double(y[k]));
    }
    sx += tx;
    se += te;
    EXPECT_EQ(e.at("error").at("count").get<std::uint64_t>(), x.size());
    EXPECT_NEAR(e.at("error").at("sqnr_db").get<double>(), 10 * std::log10(tx / te), 1e-9);
  }
  EXPECT_EQ(j.at("params").get<std::uint64_t>(), params);
  EXPECT_EQ(j.at("quantized_params").get<std::uint64_t>(), qparams);
  EXPECT_EQ(j.at("quantized_bytes").get<std::uint64_t>(), qbytes);
  EXPECT_EQ(j.at("output_bytes").get<std::uint64_t>(), fs::file_size(qf));
  EXPECT_EQ(j.at("scheme").get<std::string>(), std::string(*qfile.metadata_value("lowbit.scheme")));
  EXPECT_DOUBLE_EQ(j.at("model").at("bits_per_weight").get<double>(), 8.0 * double(qbytes) / double(qparams));
  ASSERT_GT(se, 0);
  EXPECT_NEAR(j.at("model").at("sqnr_db").get<double>(), 10 * std::log10(sx / se), 1e-9);
}

// Parameter count printed by inspect: "parameters       N (...)".
std::uint64_t printed_params(const std::string& out) {
  std::smatch m;
  static const std::regex re("\nparameters +([0-9]+) ");
  if (!std::regex_search(out, m, re)) return ~0ull;
  return std::stoull(m[1].str());
}

TEST(CliInspect, ListsTensorsAndCountsParameters) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir);
  const fs::path qf = dir / "q.safetensors";
  ASSERT_EQ(cli("quantize " + q(in) + " " + q(qf) + " --scheme int4:g32:sb128:asym -q").exit_code, 0);
  const auto src = SafetensorsFile::open(in);
  std::uint64_t params = 0;
  for (const auto& t : src.tensors()) params += static_cast<std::uint64_t>(t.numel());
  for (const fs::path& f : {in, qf}) {
    SCOPED_TRACE(f.filename().string());
    const auto r = cli("inspect " + q(f));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(printed_params(r.output), params) << r.output;
    for (const auto& t : src.tensors()) EXPECT_NE(r.output.find("\n" + t.name + " "), std::string::npos) << t.name;
    EXPECT_EQ(r.output.find(".qcodes"), std::string::npos) << "parts are folded into their tensor";
    const auto s = cli("inspect " + q(f) + " --summary");
    ASSERT_EQ(s.exit_code, 0) << s.output;
    EXPECT_EQ(printed_params(s.output), params);
    EXPECT_EQ(s.output.find("embed.weight"), std::string::npos);
  }
  // The quantized listing shows each quantized tensor's scheme.
  const auto r = cli("inspect " + q(qf));
  const std::string spec(*SafetensorsFile::open(qf).metadata_value("lowbit.scheme"));
  EXPECT_NE(r.output.find(spec), std::string::npos) << r.output;
}

// The same input and options give the same bytes whatever the thread count.
TEST(CliDeterminism, ThreadCountDoesNotChangeOutputBytes) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir, 512);
  for (const std::string spec : {"int4:g32:asym", "int6:g64:sb128:sym", "kmeans3:g64", "nf4:channel", "fp8e4m3:g16"}) {
    SCOPED_TRACE(spec);
    std::string files[2], deq[2];
    for (int threads = 1; threads <= 2; ++threads) {
      const fs::path qf = dir / ("q" + std::to_string(threads) + ".safetensors");
      const fs::path df = dir / ("d" + std::to_string(threads) + ".safetensors");
      const fs::path rp = dir / ("r" + std::to_string(threads) + ".json");
      auto r = cli("quantize " + q(in) + " " + q(qf) + " --scheme " + q(spec) + " -q --report " + q(rp) +
                   " --threads " + std::to_string(threads));
      ASSERT_EQ(r.exit_code, 0) << r.output;
      r = cli("dequantize " + q(qf) + " " + q(df) + " -q --threads " + std::to_string(threads));
      ASSERT_EQ(r.exit_code, 0) << r.output;
      files[threads - 1] = read_file(qf);
      deq[threads - 1] = read_file(df);
    }
    EXPECT_FALSE(files[0].empty());
    EXPECT_TRUE(files[0] == files[1]) << "quantized files differ";
    EXPECT_TRUE(deq[0] == deq[1]) << "dequantized files differ";
    auto j1 = nlohmann::json::parse(read_file(dir / "r1.json")), j2 = nlohmann::json::parse(read_file(dir / "r2.json"));
    EXPECT_EQ(j1.at("model"), j2.at("model"));
  }
}

}  // namespace
}  // namespace lowbit
