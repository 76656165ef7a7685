// Sharded safetensors checkpoints: resolves a file / directory / index.json, validates the
// index's weight_map against the shards themselves (every listed tensor where the index
// says, nothing stored twice or unlisted, no shard name escaping the folder) and routes
// lookups to the owning shard.
#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "lowbit/error.h"
#include "lowbit/safetensors.h"

namespace lowbit {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr std::uint64_t kMaxIndexBytes = 256ull << 20;

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Reads the index JSON with the same defences as the safetensors header: a size bound,
// UTF-8, and duplicate keys rejected (a tensor listed twice could otherwise silently
// resolve to either shard). weight_map keys are also recorded in file order, which
// nlohmann's sorted objects lose.
struct Index {
  json root;
  std::vector<std::string> order;
};

Index read_index(const fs::path& path) {
  MappedFile f = MappedFile::open(path);
  const std::string src = path.string();
  if (f.size() > kMaxIndexBytes) fail(src, ": index is ", f.size(), " bytes, over the ", kMaxIndexBytes, "-byte limit");
  const std::string_view text(reinterpret_cast<const char*>(f.data()), f.size());
  if (auto bad = first_invalid_utf8(text)) fail(src, ": not UTF-8 (offset ", *bad, ")");
  Index out;
  std::vector<std::set<std::string>> open_objects;
  std::string top_key;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    // {"metadata": {...}, "weight_map": {...}}: nothing valid nests deeper than a
    // metadata value holding a small object or array.
    if (depth > 4) fail(src, ": index nests too deep (depth ", depth, ")");
    if (event == json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == json::parse_event_t::object_end) open_objects.pop_back();
    if (event == json::parse_event_t::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      const bool in_weight_map = depth == 2 && top_key == "weight_map";
      if (!open_objects.back().insert(key).second) {
        if (in_weight_map) fail(src, ": tensor '", key, "' is listed more than once in weight_map");
        fail(src, ": duplicate key '", key, "'");
      }
      if (depth == 1) top_key = key;
      if (in_weight_map) out.order.push_back(key);
    }
    return true;
  };
  try {
    out.root = json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    fail(src, ": index is not valid JSON: ", e.what());
  }
  return out;
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::open(const fs::path& path) {
  SafetensorsCheckpoint ck;
  std::error_code ec;
  fs::path index;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "model.safetensors", ec)) {
      ck.shards_.push_back(SafetensorsFile::open(path / "model.safetensors"));
      ck.shard_paths_.push_back(path / "model.safetensors");
    } else if (fs::exists(path / "model.safetensors.index.json", ec)) {
      index = path / "model.safetensors.index.json";
    } else {
      fail(path.string(), ": directory has neither model.safetensors nor model.safetensors.index.json");
    }
  } else if (ends_with(path.filename().string(), ".json")) {
    index = path;
  } else {
    ck.shards_.push_back(SafetensorsFile::open(path));
    ck.shard_paths_.push_back(path);
  }

  if (index.empty()) {
    for (const TensorView& t : ck.shards_[0].tensors()) {
      ck.by_name_.emplace(t.name, ck.tensors_.size());
      ck.tensors_.push_back(t);
      ck.shard_of_.push_back(0);
    }
    return ck;
  }

  ck.index_path_ = index;
  const std::string src = index.string();
  const Index parsed = read_index(index);
  const json& root = parsed.root;
  if (!root.is_object()) fail(src, ": index must be a JSON object");
  if (!root.contains("weight_map") || !root["weight_map"].is_object())
    fail(src, ": index has no \"weight_map\" object");
  if (root.contains("metadata")) {
    const json& md = root["metadata"];
    if (!md.is_object()) fail(src, ": \"metadata\" must be an object");
    if (md.contains("total_size")) {
      if (!md["total_size"].is_number_unsigned()) fail(src, ": metadata.total_size must be a non-negative integer");
      ck.total_size_ = md["total_size"].get<std::uint64_t>();
    }
  }
  const json& weight_map = root["weight_map"];
  const fs::path dir = index.parent_path();

  // Open each shard once, in order of first mention.
  std::map<std::string, std::size_t> shard_ids;
  const std::vector<std::string>& order = parsed.order;
  std::vector<std::size_t> listed_shard(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::string& name = order[i];
    const json& v = weight_map[name];
    if (!v.is_string()) fail(src, ": weight_map entry for tensor '", name, "' must be a file name string");
    const std::string& file = v.get_ref<const std::string&>();
    const fs::path rel(file);
    // Shards live beside the index: an absolute path or ".." would let a downloaded
    // index make lowbit read arbitrary files.
    bool escapes = file.empty() || rel.is_absolute() || rel.has_root_path();
    for (const auto& part : rel)
      if (part == "..") escapes = true;
    if (escapes)
      fail(src, ": tensor '", name, "': shard file name '", file, "' must be a relative path inside ", dir.string());
    auto [it, inserted] = shard_ids.emplace(file, ck.shards_.size());
    if (inserted) {
      const fs::path shard_path = dir / rel;
      if (!fs::exists(shard_path, ec))
        fail(src, ": tensor '", name, "': shard file ", shard_path.string(), " does not exist");
      ck.shards_.push_back(SafetensorsFile::open(shard_path));
      ck.shard_paths_.push_back(shard_path);
    }
    listed_shard[i] = it->second;
  }

  // Each stored tensor must be listed, and listed for the shard that holds it.
  std::map<std::string, std::size_t, std::less<>> stored_in;
  for (std::size_t s = 0; s < ck.shards_.size(); ++s) {
    for (const TensorView& t : ck.shards_[s].tensors()) {
      auto [it, inserted] = stored_in.emplace(t.name, s);
      if (!inserted)
        fail(src, ": tensor '", t.name, "' is stored in two shards: ", ck.shard_paths_[it->second].string(), " and ",
             ck.shard_paths_[s].string());
      if (!weight_map.contains(t.name))
        fail(src, ": tensor '", t.name, "' in shard ", ck.shard_paths_[s].string(), " is not listed in weight_map");
    }
  }
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::string& name = order[i];
    const std::size_t s = listed_shard[i];
    const TensorView* t = ck.shards_[s].find(name);
    if (t == nullptr) {
      auto other = stored_in.find(name);
      if (other != stored_in.end())
        fail(src, ": tensor '", name, "' is listed in shard ", ck.shard_paths_[s].string(), " but stored in ",
             ck.shard_paths_[other->second].string());
      fail(src, ": tensor '", name, "' is listed in shard ", ck.shard_paths_[s].string(), " which does not contain it");
    }
    ck.by_name_.emplace(name, ck.tensors_.size());
    ck.tensors_.push_back(*t);
    ck.shard_of_.push_back(s);
  }
  return ck;
}

const TensorView* SafetensorsCheckpoint::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& SafetensorsCheckpoint::tensor(std::string_view name) const {
  if (const TensorView* t = find(name)) return *t;
  fail(index_path_.empty() ? shard_paths_.at(0).string() : index_path_.string(), ": no tensor '", name, "'");
}

const fs::path& SafetensorsCheckpoint::shard_path(std::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end())
    fail(index_path_.empty() ? shard_paths_.at(0).string() : index_path_.string(), ": no tensor '", name, "'");
  return shard_paths_[shard_of_[it->second]];
}

}  // namespace lowbit
