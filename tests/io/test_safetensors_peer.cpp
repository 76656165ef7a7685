// lowbit against the PyPI safetensors package (tests/peers/io_safetensors.py): reading
// what it writes (every dtype, 0-d, empty, metadata, a 3-shard transformers checkpoint),
// it reading what lowbit writes, byte-identical output for the same tensors, and
// tensor_to_f32 against numpy/ml_dtypes' astype(float32).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/safetensors.h"
#include "support/peer.h"
#include "support/files.h"

using namespace lowbit;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using lowbit::testing::slurp;

json peer(const std::vector<std::string>& args) {
  return json::parse(lowbit::testing::run_peer("io_safetensors.py", args));
}

std::string bytes_of(const TensorView& t) { return {reinterpret_cast<const char*>(t.data.data()), t.data.size()}; }

SafetensorsMetadata metadata_of(const json& m) {
  SafetensorsMetadata md;
  for (const auto& [k, v] : m["metadata"].items()) md.emplace_back(k, v.get<std::string>());
  std::sort(md.begin(), md.end());
  return md;
}

// The view matches the manifest entry: dtype name, shape and the raw bytes.
void expect_matches(const TensorView& t, const json& m) {
  SCOPED_TRACE(t.name);
  EXPECT_EQ(dtype_info(t.dtype).safetensors_name, m["dtype"].get<std::string>());
  EXPECT_EQ(t.shape, m["shape"].get<std::vector<std::int64_t>>());
  EXPECT_EQ(bytes_of(t), slurp(m["bin"].get<std::string>()));
}

}  // namespace

TEST(PeerSafetensors, ReadsEveryDtypeSafetensorsWrites) {
  const auto dir = lowbit::testing::scratch_dir();
  const json m = peer({"write", dir.string()});
  const auto f = SafetensorsFile::open(m["file"].get<std::string>());
  ASSERT_EQ(f.tensors().size(), m["tensors"].size());
  for (const auto& e : m["tensors"]) {
    const TensorView* t = f.find(e["name"].get<std::string>());
    ASSERT_NE(t, nullptr) << e["name"];
    expect_matches(*t, e);
  }
  auto md = f.metadata();
  std::sort(md.begin(), md.end());
  EXPECT_EQ(md, metadata_of(m));
  // File order is data order.
  for (std::size_t i = 1; i < f.tensors().size(); ++i)
    EXPECT_LE(f.tensors()[i - 1].data.data() + f.tensors()[i - 1].data.size(), f.tensors()[i].data.data());
}

TEST(PeerSafetensors, TensorToF32MatchesNumpyAstype) {
  const auto dir = lowbit::testing::scratch_dir();
  const json m = peer({"write", dir.string()});
  const auto f = SafetensorsFile::open(m["file"].get<std::string>());
  std::size_t checked = 0;
  for (const auto& e : m["tensors"]) {
    const TensorView& t = f.tensor(e["name"].get<std::string>());
    const std::vector<float> got = tensor_to_f32(t);
    const std::string want_bytes = slurp(e["f32"].get<std::string>());
    ASSERT_EQ(got.size() * 4, want_bytes.size()) << t.name;
    for (std::size_t i = 0; i < got.size(); ++i) {
      float want;
      std::memcpy(&want, want_bytes.data() + 4 * i, 4);
      // NaN payloads are the codecs' own business (documented in fp16.h/fp8.h); NaN-ness is not.
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got[i])) << t.name << "[" << i << "]";
      } else {
        EXPECT_EQ(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(want))
            << t.name << "[" << i << "]: " << got[i] << " vs " << want;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 500u);
}

TEST(PeerSafetensors, RewritingGivesSafetensorsOwnBytes) {
  // Same tensors, same order (safetensors sorts by dtype then name; lowbit writes in the
  // order given, here the peer file's own order) and same metadata order: identical files.
  const auto dir = lowbit::testing::scratch_dir();
  const json m = peer({"write", dir.string()});
  const fs::path peer_file = m["file"].get<std::string>();
  const auto f = SafetensorsFile::open(peer_file);
  std::vector<TensorData> data;
  for (const TensorView& t : f.tensors()) data.push_back({t.name, t.dtype, t.shape, t.data});
  write_safetensors(dir / "lowbit.safetensors", data, f.metadata());
  EXPECT_EQ(slurp(dir / "lowbit.safetensors"), slurp(peer_file));

  // Also without metadata, through safetensors.serialize_file of the dumped tensors.
  write_safetensors(dir / "lowbit_nometa.safetensors", data);
  const json dumped = peer({"dump", (dir / "lowbit_nometa.safetensors").string(), dir.string()});
  std::ofstream(dir / "dumped.json") << dumped.dump();
  peer({"serialize", (dir / "dumped.json").string(), (dir / "peer_nometa.safetensors").string()});
  EXPECT_EQ(slurp(dir / "lowbit_nometa.safetensors"), slurp(dir / "peer_nometa.safetensors"));
}

TEST(PeerSafetensors, SafetensorsReadsWhatLowbitStreams) {
  // Random bytes for every lowbit dtype, in an order safetensors would never choose
  // (1-byte types first, so later tensors are unaligned), streamed in odd-sized pieces.
  const auto dir = lowbit::testing::scratch_dir();
  std::mt19937 rng(21);
  std::vector<TensorDecl> decls;
  std::vector<std::string> bytes;
  const std::vector<std::vector<std::int64_t>> shapes = {{5}, {}, {2, 0}, {3, 2, 2}};
  std::size_t k = 0;
  for (auto it = dtype_table().rbegin(); it != dtype_table().rend(); ++it, ++k) {
    const auto& shape = shapes[k % shapes.size()];
    decls.push_back({"x/" + std::string(it->name) + "\xe2\x9c\x93" + std::to_string(k), it->dtype, shape});
    std::string b(*tensor_nbytes(it->dtype, shape), '\0');
    for (char& c : b) c = static_cast<char>(rng());
    if (it->dtype == DType::BOOL)
      for (char& c : b) c = static_cast<char>(c & 1);  // numpy's loader wants 0/1 bools
    bytes.push_back(b);
  }
  const SafetensorsMetadata md = {{"format", "pt"}, {"quant", "int4:g128:asym"}, {"json", "{\"a\": [1, 2]}"}};
  {
    SafetensorsWriter w(dir / "out.safetensors", decls, md);
    std::string all;
    for (const auto& b : bytes) all += b;
    for (std::size_t pos = 0; pos < all.size();) {
      const std::size_t n = std::min<std::size_t>(all.size() - pos, 1 + rng() % 7);
      w.append(std::as_bytes(std::span(all).subspan(pos, n)));
      pos += n;
    }
    w.commit();
  }
  const json d = peer({"dump", (dir / "out.safetensors").string(), dir.string()});
  auto want_md = md;
  std::sort(want_md.begin(), want_md.end());
  EXPECT_EQ(metadata_of(d), want_md);
  ASSERT_EQ(d["tensors"].size(), decls.size());
  std::map<std::string, json> by_name;
  for (const auto& e : d["tensors"]) by_name[e["name"].get<std::string>()] = e;
  for (std::size_t i = 0; i < decls.size(); ++i) {
    SCOPED_TRACE(decls[i].name);
    ASSERT_TRUE(by_name.count(decls[i].name));
    const json& e = by_name[decls[i].name];
    EXPECT_EQ(e["dtype"].get<std::string>(), dtype_info(decls[i].dtype).safetensors_name);
    EXPECT_EQ(e["shape"].get<std::vector<std::int64_t>>(), decls[i].shape);
    EXPECT_EQ(slurp(e["bin"].get<std::string>()), bytes[i]);
  }
}

TEST(PeerSafetensors, DtypesLowbitLacksAreRefusedByName) {
  // safetensors knows more dtypes than lowbit's table (F8_E8M0, F4, C64, FNUZ fp8s).
  // Each is either read correctly (once the table has it) or refused naming the dtype.
  const auto dir = lowbit::testing::scratch_dir();
  for (const auto& m : peer({"unsupported", dir.string()})) {
    const json& e = m["tensors"][0];
    const std::string st = e["dtype"].get<std::string>();
    SCOPED_TRACE(st);
    if (dtype_from_safetensors(st)) {
      expect_matches(SafetensorsFile::open(m["file"].get<std::string>()).tensor("x"), e);
      continue;
    }
    try {
      (void)SafetensorsFile::open(m["file"].get<std::string>());
      ADD_FAILURE() << "accepted an unknown dtype";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find("'" + st + "'"), std::string::npos) << err.what();
      EXPECT_NE(std::string(err.what()).find("'x'"), std::string::npos) << err.what();
    }
  }
}

TEST(PeerSafetensorsCheckpoint, ReadsAThreeShardTransformersCheckpoint) {
  const auto dir = lowbit::testing::scratch_dir();
  const json m = peer({"shards", dir.string()});
  for (const fs::path& p : {fs::path(dir), fs::path(m["file"].get<std::string>())}) {
    SCOPED_TRACE(p.string());
    const auto ck = SafetensorsCheckpoint::open(p);
    EXPECT_EQ(ck.shard_count(), 3u);
    EXPECT_EQ(ck.index_path(), fs::path(m["file"].get<std::string>()));
    EXPECT_EQ(ck.total_size(), m["total_size"].get<std::uint64_t>());
    ASSERT_EQ(ck.tensors().size(), m["tensors"].size());
    for (std::size_t i = 0; i < ck.tensors().size(); ++i) {
      const json& e = m["tensors"][i];
      const TensorView& t = ck.tensors()[i];  // index order
      EXPECT_EQ(t.name, e["name"].get<std::string>());
      expect_matches(t, e);
      EXPECT_EQ(&ck.tensor(t.name), &t);
      EXPECT_EQ(ck.shard_path(t.name), fs::path(e["shard"].get<std::string>()));
      // The view is the shard's own view: lookup went to the right file.
      const auto shard = SafetensorsFile::open(ck.shard_path(t.name));
      EXPECT_EQ(bytes_of(shard.tensor(t.name)), bytes_of(t));
    }
    EXPECT_EQ(ck.find("not.a.tensor"), nullptr);
    EXPECT_THROW((void)ck.tensor("not.a.tensor"), Error);
  }
}

TEST(PeerSafetensorsCheckpoint, SingleFileAndDirectoryWithModelSafetensors) {
  const auto dir = lowbit::testing::scratch_dir();
  const json m = peer({"write", dir.string()});
  fs::rename(m["file"].get<std::string>(), dir / "model.safetensors");
  for (const fs::path& p : {fs::path(dir), dir / "model.safetensors"}) {
    const auto ck = SafetensorsCheckpoint::open(p);
    EXPECT_EQ(ck.shard_count(), 1u);
    EXPECT_TRUE(ck.index_path().empty());
    const auto f = SafetensorsFile::open(dir / "model.safetensors");
    ASSERT_EQ(ck.tensors().size(), f.tensors().size());
    for (std::size_t i = 0; i < f.tensors().size(); ++i) {
      EXPECT_EQ(ck.tensors()[i].name, f.tensors()[i].name);  // file order
      EXPECT_EQ(bytes_of(ck.tensors()[i]), bytes_of(f.tensors()[i]));
    }
  }
  EXPECT_THROW((void)SafetensorsCheckpoint::open(dir / "empty-dir-that-is-missing"), Error);
}
