// lowbit's importance-matrix reader and writer against llama.cpp's formats
// (tests/peers/io_imatrix.py): GGUF imatrix files written through ggml's C API as
// llama-imatrix does and through the gguf package, a legacy .dat written as
// save_imatrix_legacy does; the per-column values must be llama-quantize's, bit for bit,
// and lowbit's GGUF output must be llama-imatrix's bytes and read back in the gguf package.
#include <gtest/gtest.h>

#include <bit>
#include <fstream>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/imatrix.h"
#include "support/peer.h"
#include "support/files.h"

using namespace lowbit;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using lowbit::testing::slurp;

json peer(const std::vector<std::string>& args) {
  return json::parse(lowbit::testing::run_peer("io_imatrix.py", args));
}

std::vector<std::uint32_t> bits(const std::vector<float>& v) {
  std::vector<std::uint32_t> out;
  for (float x : v) out.push_back(std::bit_cast<std::uint32_t>(x));
  return out;
}

std::vector<float> floats(const json& bits_json) {
  std::vector<float> out;
  for (const auto& b : bits_json) out.push_back(std::bit_cast<float>(b.get<std::uint32_t>()));
  return out;
}

// A GGUF imatrix read by lowbit holds the peer's statistics and gives its values.
void expect_gguf_matches(const Imatrix& m, const json& p) {
  EXPECT_EQ(m.format, ImatrixFormat::Gguf);
  EXPECT_EQ(m.datasets, p["datasets"].get<std::vector<std::string>>());
  EXPECT_EQ(m.chunk_count, p["chunk_count"].get<std::int32_t>());
  EXPECT_EQ(m.chunk_size, p["chunk_size"].get<std::int32_t>());
  ASSERT_EQ(m.entries.size(), p["stats"].size());
  for (const auto& [name, s] : p["stats"].items()) {
    SCOPED_TRACE(name);
    const ImatrixEntry* e = m.find(name);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(bits(e->sums), s["sums"].get<std::vector<std::uint32_t>>());
    EXPECT_EQ(e->counts, s["counts"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(bits(m.values(name)), s["values"].get<std::vector<std::uint32_t>>());
  }
}

}  // namespace

TEST(PeerImatrix, ReadsWhatLlamaImatrixWrites) {
  const auto dir = lowbit::testing::scratch_dir();
  const json p = peer({"write", dir.string()});
  const Imatrix m = Imatrix::load(p["files"]["ggml"].get<std::string>());
  expect_gguf_matches(m, p);
  // The 3-D expert weight [ne0 = 32, rows, 4 experts]: ne0 * n_expert values, expert e's
  // slice at e * ne0; the expert no token reached weighs every column 1.
  const std::vector<std::int64_t> ne{32, 48, 4};
  const auto v = m.for_tensor("blk.0.ffn_up_exps.weight", ne);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(bits(*v), p["stats"]["blk.0.ffn_up_exps.weight"]["values"].get<std::vector<std::uint32_t>>());
  EXPECT_EQ((*v)[2 * 32 + 5], 1.0f);
  EXPECT_THROW((void)m.for_tensor("blk.0.ffn_up_exps.weight", std::vector<std::int64_t>{32, 48}), Error);
  EXPECT_FALSE(m.for_tensor("output.weight", std::vector<std::int64_t>{64, 10}).has_value());
}

TEST(PeerImatrix, ReadsWhatTheGgufPackageWrites) {
  // Same statistics through GGUFWriter: an extra general.architecture key and 2-D tensors
  // kept 2-D ([ne0, 1]) where ggml writes them 1-D.
  const auto dir = lowbit::testing::scratch_dir();
  const json p = peer({"write", dir.string()});
  expect_gguf_matches(Imatrix::load(p["files"]["py"].get<std::string>()), p);
}

TEST(PeerImatrix, ReadsTheLegacyDatFormat) {
  const auto dir = lowbit::testing::scratch_dir();
  const json p = peer({"write", dir.string()});
  const Imatrix m = Imatrix::load(p["files"]["dat"].get<std::string>());
  EXPECT_EQ(m.format, ImatrixFormat::LegacyDat);
  EXPECT_EQ(m.datasets, std::vector<std::string>{p["datasets"].back().get<std::string>()});
  EXPECT_EQ(m.chunk_count, p["chunk_count"].get<std::int32_t>());
  EXPECT_EQ(m.chunk_size, 0);  // not recorded in .dat files
  // The weight with no data at all is not in the .dat (the legacy writer skips it).
  ASSERT_EQ(m.entries.size(), p["dat"].size());
  EXPECT_EQ(m.find("blk.1.ffn_gate_exps.weight"), nullptr);
  for (const auto& [name, d] : p["dat"].items()) {
    SCOPED_TRACE(name);
    const ImatrixEntry* e = m.find(name);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(bits(e->sums), d["sums"].get<std::vector<std::uint32_t>>());
    EXPECT_EQ(e->counts, std::vector<std::int64_t>{d["ncall"].get<std::int64_t>()});
    EXPECT_EQ(bits(m.values(name)), d["values"].get<std::vector<std::uint32_t>>());
  }
  EXPECT_NO_THROW(m.check_finite());
}

TEST(PeerImatrix, WritesLlamaImatrixBytesAndTheGgufPackageReadsThem) {
  const auto dir = lowbit::testing::scratch_dir();
  const json p = peer({"write", dir.string()});
  Imatrix m;
  m.datasets = p["datasets"].get<std::vector<std::string>>();
  m.chunk_count = p["chunk_count"].get<std::int32_t>();
  m.chunk_size = p["chunk_size"].get<std::int32_t>();
  for (const auto& [name, s] : p["stats"].items())
    m.entries[name] = {floats(s["sums"]), s["counts"].get<std::vector<std::int64_t>>()};
  const fs::path out = dir / "lowbit.imatrix.gguf";
  write_imatrix_gguf(out, m);
  EXPECT_TRUE(slurp(out) == slurp(p["files"]["ggml"].get<std::string>()));

  const json r = peer({"read", out.string()});
  EXPECT_EQ(r["kv"]["general.type"]["value"], "imatrix");
  EXPECT_EQ(r["kv"]["imatrix.datasets"]["value"], p["datasets"]);
  EXPECT_EQ(r["kv"]["imatrix.datasets"]["types"], json({"ARRAY", "STRING"}));
  EXPECT_EQ(r["kv"]["imatrix.chunk_count"]["types"], json({"UINT32"}));
  EXPECT_EQ(r["kv"]["imatrix.chunk_count"]["value"], p["chunk_count"]);
  EXPECT_EQ(r["kv"]["imatrix.chunk_size"]["value"], p["chunk_size"]);
  ASSERT_EQ(r["tensors"].size(), 2 * m.entries.size());
  std::size_t i = 0;
  for (const auto& [name, e] : m.entries) {  // sorted, sums then counts, as llama-imatrix
    const json& sums = r["tensors"][i++];
    const json& counts = r["tensors"][i++];
    EXPECT_EQ(sums["name"], name + ".in_sum2");
    EXPECT_EQ(counts["name"], name + ".counts");
    EXPECT_EQ(sums["type"], 0);
    const auto nmat = static_cast<std::int64_t>(e.counts.size());
    const auto ne0 = static_cast<std::int64_t>(e.sums.size()) / nmat;
    EXPECT_EQ(sums["ne"], nmat == 1 ? json({ne0}) : json({ne0, nmat}));
    EXPECT_EQ(counts["ne"], nmat == 1 ? json({1}) : json({1, nmat}));
    EXPECT_EQ(sums["data"].get<std::vector<std::uint32_t>>(), bits(e.sums));
    std::vector<float> c;
    for (auto n : e.counts) c.push_back(static_cast<float>(n));
    EXPECT_EQ(counts["data"].get<std::vector<std::uint32_t>>(), bits(c));
  }
  // And lowbit reads its own output back to the same statistics and values.
  expect_gguf_matches(Imatrix::load(out), p);
}
