// Loads the calibration test data that tests/peers/calib_data.py writes (real MiniLM
// activations on Austen text, a real weight, synthetic edge cases), so lowbit and each
// peer consume byte-identical batches.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lowbit/observer.h"
#include "support/peer.h"

namespace lowbit::testing {

struct CalibBatch {
  std::vector<float> values;
  std::vector<std::int64_t> shape;
};
using CalibData = std::map<std::string, std::vector<CalibBatch>>;

inline CalibData load_calib_data(const std::filesystem::path& dir) {
  run_peer("calib_data.py", {dir.string()});
  nlohmann::json m;
  std::ifstream(dir / "manifest.json") >> m;
  CalibData out;
  for (auto& [name, entries] : m.items())
    for (auto& e : entries) {
      CalibBatch b;
      b.shape = e["shape"].get<std::vector<std::int64_t>>();
      std::size_t n = 1;
      for (auto d : b.shape) n *= static_cast<std::size_t>(d);
      b.values.resize(n);
      std::ifstream f(dir / e["file"].get<std::string>(), std::ios::binary);
      f.read(reinterpret_cast<char*>(b.values.data()), static_cast<std::streamsize>(n * sizeof(float)));
      EXPECT_TRUE(f.good()) << "short data file " << e["file"];
      out[name].push_back(std::move(b));
    }
  return out;
}

inline calib::Observer observe_all(const calib::ObserverOptions& o, const std::vector<CalibBatch>& batches,
                                   const std::string& name) {
  calib::Observer obs(o, name);
  for (const auto& b : batches) obs.observe(b.values, b.shape);
  return obs;
}

}  // namespace lowbit::testing
