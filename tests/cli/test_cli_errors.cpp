// Failure behaviour of the `lowbit` CLI: bad input files (missing, truncated, hostile),
// bad schemes and wrong-kind files each give a non-zero exit, one "lowbit: error:" line
// naming the culprit, no output or temp file, and an existing output left untouched.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "lowbit/safetensors.h"
#include "support/peer.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;
using testing::cli_path;
using testing::run_command;
using testing::scratch_dir;
using testing::shell_quote;

std::string q(const fs::path& p) { return shell_quote(p.string()); }

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A valid model whose `bad_index`-th 2-D tensor (if any) holds a NaN: quantizing it
// fails only after the writer has started.
fs::path write_model(const fs::path& path, int nan_tensor = -1) {
  std::vector<std::vector<float>> data;
  std::vector<TensorData> tensors;
  const std::vector<std::vector<std::int64_t>> shapes = {{16, 64}, {8, 32}, {32}, {12, 48}};
  data.reserve(shapes.size());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    std::int64_t n = 1;
    for (auto d : shapes[i]) n *= d;
    auto& v = data.emplace_back(static_cast<std::size_t>(n));
    for (std::size_t k = 0; k < v.size(); ++k) v[k] = std::sin(0.37f * static_cast<float>(k + 11 * i));
    if (static_cast<int>(i) == nan_tensor) v[v.size() / 2] = std::numeric_limits<float>::quiet_NaN();
    tensors.push_back({"t" + std::to_string(i), DType::F32, shapes[i], std::as_bytes(std::span(v))});
  }
  write_safetensors(path, tensors, {{"format", "pt"}});
  return path;
}

// Little-endian u64 length prefix + header text + data bytes; the prefix is the header's
// true length unless `header_len` overrides it.
std::string safetensors_image(const std::string& header, const std::string& data,
                              std::optional<std::uint64_t> length = std::nullopt) {
  const std::uint64_t header_len = length.value_or(header.size());
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((header_len >> (8 * i)) & 0xff);
  return s + header + data;
}

std::vector<fs::path> temp_files(const fs::path& dir) {
  std::vector<fs::path> t;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) t.push_back(e.path());
  return t;
}

// Runs a failing command twice: without an output file (none may appear) and over an
// existing one (it must keep its bytes). `culprit` must appear in the error line.
void expect_clean_failure(const std::string& args, const fs::path& out, const std::string& culprit) {
  const std::string cmd = shell_quote(cli_path().string()) + " " + args;
  fs::remove(out);
  for (bool preexisting : {false, true}) {
    SCOPED_TRACE(preexisting ? "output exists" : "no output yet");
    const std::string sentinel = "do not touch: " + out.string();
    if (preexisting) write_file(out, sentinel);
    const auto r = run_command(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd;
    std::string line = r.output;
    ASSERT_FALSE(line.empty()) << cmd;
    EXPECT_EQ(line.back(), '\n');
    if (line.back() == '\n') line.pop_back();
    EXPECT_EQ(line.find('\n'), std::string::npos) << "more than one line:\n" << r.output;
    EXPECT_EQ(line.rfind("lowbit: error: ", 0), 0u) << r.output;
    EXPECT_NE(line.find(culprit), std::string::npos) << "error does not name '" << culprit << "': " << r.output;
    if (preexisting) {
      EXPECT_EQ(read_file(out), sentinel) << "existing output was changed";
    } else {
      EXPECT_FALSE(fs::exists(out)) << "output file was created";
    }
    EXPECT_EQ(temp_files(out.parent_path()), std::vector<fs::path>{}) << "temp file left behind";
  }
  fs::remove(out);
}

TEST(CliErrors, MissingInputFile) {
  const fs::path dir = scratch_dir();
  const fs::path missing = dir / "no-such-model.safetensors";
  const fs::path out = dir / "out.safetensors";
  expect_clean_failure("quantize " + q(missing) + " " + q(out) + " --scheme int8:channel", out, missing.string());
  expect_clean_failure("dequantize " + q(missing) + " " + q(out), out, missing.string());
  const auto r = run_command(shell_quote(cli_path().string()) + " inspect " + q(missing));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.output.rfind("lowbit: error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find(missing.string()), std::string::npos) << r.output;
}

TEST(CliErrors, TruncatedInputFile) {
  const fs::path dir = scratch_dir();
  const fs::path good = write_model(dir / "good.safetensors");
  const std::string bytes = read_file(good);
  const fs::path out = dir / "out.safetensors";
  // Cut inside the data section, inside the header and inside the length prefix.
  for (std::size_t keep : {bytes.size() - 1, bytes.size() / 2, std::size_t{40}, std::size_t{5}, std::size_t{0}}) {
    SCOPED_TRACE("kept " + std::to_string(keep) + " bytes");
    const fs::path cut = dir / "cut.safetensors";
    write_file(cut, bytes.substr(0, keep));
    expect_clean_failure("quantize " + q(cut) + " " + q(out) + " --scheme int4:g32:asym", out, cut.string());
  }
  // A quantized file cut short fails to dequantize just as cleanly.
  const fs::path qf = dir / "q.safetensors";
  ASSERT_EQ(run_command(shell_quote(cli_path().string()) + " quantize " + q(good) + " " + q(qf) +
                        " --scheme int4:g32:asym -q")
                .exit_code,
            0);
  const std::string qbytes = read_file(qf);
  const fs::path qcut = dir / "qcut.safetensors";
  write_file(qcut, qbytes.substr(0, qbytes.size() - 3));
  expect_clean_failure("dequantize " + q(qcut) + " " + q(out), out, qcut.string());
}

TEST(CliErrors, HostileHeaders) {
  const fs::path dir = scratch_dir();
  const fs::path out = dir / "out.safetensors";
  const std::string two_floats(8, '\0');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"huge-length", safetensors_image("{}", "", ~0ull)},
      {"length-past-eof", safetensors_image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "", 1000)},
      {"size-mismatch", safetensors_image(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}})", two_floats)},
      {"offsets-past-data",
       safetensors_image(R"({"a":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]}})", two_floats)},
      {"not-json", safetensors_image("{{{{{{{{", "")},
      {"overflowing-shape",
       safetensors_image(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                         two_floats)},
  };
  for (const auto& [name, image] : cases) {
    SCOPED_TRACE(name);
    const fs::path bad = dir / (name + ".safetensors");
    write_file(bad, image);
    expect_clean_failure("quantize " + q(bad) + " " + q(out) + " --scheme nf4:g16", out, bad.string());
    expect_clean_failure("dequantize " + q(bad) + " " + q(out), out, bad.string());
  }
}

// A real quantized file whose parts were tampered with: a wrongly shaped part, and
// super-block sub-scale codes of 0 (the format spec allows 1 .. 2^K-1, and
// quantized_from_parts promises to validate code ranges).
void check_tampered(const std::string& how) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir / "in.safetensors");
  const fs::path qf = dir / "q.safetensors", out = dir / "out.safetensors";
  ASSERT_EQ(run_command(shell_quote(cli_path().string()) + " quantize " + q(in) + " " + q(qf) +
                        " --scheme int4:g16:sb64:asym -q")
                .exit_code,
            0);
  const auto src = SafetensorsFile::open(qf);
  {
    std::vector<std::vector<std::byte>> keep;
    std::vector<TensorData> tensors;
    for (const auto& t : src.tensors()) {
      keep.emplace_back(t.data.begin(), t.data.end());
      TensorData d{t.name, t.dtype, t.shape, keep.back()};
      if (t.name == "t0.qscale_codes") {
        if (how == "reshaped") d.shape = {1, t.shape[0]};
        else std::fill(keep.back().begin(), keep.back().end(), std::byte{0});
      }
      tensors.push_back(d);
    }
    for (std::size_t i = 0; i < tensors.size(); ++i) tensors[i].bytes = keep[i];
    const fs::path bad = dir / (how + ".safetensors");
    write_safetensors(bad, tensors, src.metadata());
    expect_clean_failure("dequantize " + q(bad) + " " + q(out), out, bad.string());
    expect_clean_failure("dequantize " + q(bad) + " " + q(out), out, "t0");
  }
}

TEST(CliErrors, DequantizingAWronglyShapedPart) { check_tampered("reshaped"); }

TEST(CliErrors, DequantizingZeroSubScaleCodes) { check_tampered("zero-subscales"); }

TEST(CliErrors, BadSchemeNamesTheSpec) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir / "in.safetensors");
  const fs::path out = dir / "out.safetensors";
  for (const std::string spec : {"int99:g32", "int4:g0", "int4:g32:sb48", "int4:bogus", "kmeans4:channel@x", ""}) {
    SCOPED_TRACE(spec);
    expect_clean_failure("quantize " + q(in) + " " + q(out) + " --scheme " + shell_quote(spec), out,
                         spec.empty() ? "scheme" : spec);
  }
}

// A scheme that parses but does not fit a tensor is reported with the file and tensor.
TEST(CliErrors, SchemeThatDoesNotFitATensorNamesFileAndTensor) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir / "in.safetensors");
  const fs::path out = dir / "out.safetensors";
  expect_clean_failure("quantize " + q(in) + " " + q(out) + " --scheme int8:channel@2", out, in.string());
  expect_clean_failure("quantize " + q(in) + " " + q(out) + " --scheme int8:channel@2", out, "'t0'");
}

TEST(CliErrors, QuantizingAQuantizedFile) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir / "in.safetensors");
  const fs::path qf = dir / "q.safetensors", out = dir / "out.safetensors";
  ASSERT_EQ(run_command(shell_quote(cli_path().string()) + " quantize " + q(in) + " " + q(qf) + " --scheme nf4:g32 -q")
                .exit_code,
            0);
  expect_clean_failure("quantize " + q(qf) + " " + q(out) + " --scheme int8:channel", out, qf.string());
}

TEST(CliErrors, DequantizingAPlainFile) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir / "in.safetensors");
  const fs::path out = dir / "out.safetensors";
  expect_clean_failure("dequantize " + q(in) + " " + q(out), out, in.string());
}

// lowbit.quantized metadata that is broken or points at missing parts.
TEST(CliErrors, DequantizingBrokenQuantizationMetadata) {
  const fs::path dir = scratch_dir();
  const fs::path out = dir / "out.safetensors";
  const std::vector<float> v(6, 1.0f);
  const std::vector<TensorData> tensors = {{"w.qscale", DType::F32, {6}, std::as_bytes(std::span(v))}};
  const std::vector<std::pair<std::string, std::string>> metas = {
      {"not-json", "{not json"},
      {"not-object", "[1,2]"},
      {"bad-scheme", R"({"w":{"scheme":"int99","shape":[2,3],"dtype":"F32"}})"},
      {"missing-parts", R"({"w":{"scheme":"int8:channel","shape":[6,4],"dtype":"F32"}})"},
  };
  for (const auto& [name, meta] : metas) {
    SCOPED_TRACE(name);
    const fs::path bad = dir / (name + ".safetensors");
    write_safetensors(bad, tensors, {{"lowbit.format", "1"}, {"lowbit.scheme", "int8"}, {"lowbit.quantized", meta}});
    expect_clean_failure("dequantize " + q(bad) + " " + q(out), out, bad.string());
  }
}

// The failure comes after the output's temp file was opened and partly written.
TEST(CliErrors, FailureMidWriteLeavesNoTempFile) {
  const fs::path dir = scratch_dir();
  const fs::path in = write_model(dir / "in.safetensors", 3);
  const fs::path out = dir / "out.safetensors";
  for (const std::string spec : {"int4:g16:asym", "kmeans2:channel", "fp8e4m3:tensor"}) {
    SCOPED_TRACE(spec);
    expect_clean_failure("quantize " + q(in) + " " + q(out) + " --scheme " + q(spec), out, in.string());
  }
}

}  // namespace
}  // namespace lowbit
