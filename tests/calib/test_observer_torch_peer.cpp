// torch.ao observers computed at test time (Debian's python3-torch) on real MiniLM
// activations, a real weight and synthetic edge cases: lowbit's min-max and
// moving-average observers (per tensor and per channel) give the identical fp32 scale
// bits and zero points for qint8/quint8, symmetric/affine, with and without
// reduce_range and with custom (4-bit) ranges; the histogram L2 search lands within one
// histogram bin of torch's HistogramObserver.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <fstream>
#include <iostream>

#include "calib/calib_data.h"
#include "lowbit/observer.h"
#include "support/peer.h"

using namespace lowbit;
using namespace lowbit::calib;
using nlohmann::json;

namespace {

QuantTarget target_of(const json& c) {
  std::optional<std::pair<int, int>> custom;
  if (c.contains("quant_min")) custom = std::pair{c["quant_min"].get<int>(), c["quant_max"].get<int>()};
  return quant_target(8, c["dtype"] == "qint8", c["symmetric"].get<bool>(), c.value("reduce_range", false), custom);
}

ObserverOptions options_of(const json& c) {
  ObserverOptions o;
  const std::string kind = c["observer"];
  o.method = kind == "minmax" ? Method::MinMax : kind == "ma" ? Method::MovingAverage : Method::HistogramL2;
  o.channel_axis = c.value("axis", -1);
  o.averaging_constant = c.value("averaging_constant", 0.01f);
  o.bins = c.value("bins", 2048);
  return o;
}

json run_torch(const std::filesystem::path& dir, const json& configs) {
  std::ofstream(dir / "configs.json") << configs.dump();
  return json::parse(lowbit::testing::run_peer_with(lowbit::testing::torch_python(), "calib_torch.py", {dir.string()}));
}

}  // namespace

TEST(PeerObserverTorch, MinMaxAndMovingAverageBitExact) {
  const auto dir = lowbit::testing::scratch_dir();
  const auto data = lowbit::testing::load_calib_data(dir);
  json configs = json::array();
  const std::vector<std::string> activations = {"minilm_ln", "minilm_ctx", "minilm_gelu", "minilm_relu",
                                                "student_t", "outliers",   "constant",    "zeros"};
  for (const std::string ds : {"minilm_ln", "minilm_ctx", "minilm_gelu", "minilm_relu", "student_t", "outliers",
                               "constant", "zeros", "minilm_weight"}) {
    const int channel_axis = ds == "minilm_weight" ? 0 : 1;
    for (const std::string kind : {"minmax", "ma"})
      for (const std::string dtype : {"qint8", "quint8"})
        for (bool sym : {false, true})
          for (bool rr : {false, true})
            for (int axis : {-1, channel_axis}) {
              if (rr && sym && dtype == "quint8") continue;  // refused by both (QParams.Refusals)
              json c = {{"dataset", ds}, {"observer", kind}, {"dtype", dtype}, {"symmetric", sym},
                        {"reduce_range", rr}, {"axis", axis}};
              if (kind == "ma") c["averaging_constant"] = axis < 0 ? 0.01 : 0.3;
              configs.push_back(c);
            }
    // 4-bit codes through torch's custom quant_min/quant_max.
    for (bool sym : {false, true}) {
      configs.push_back({{"dataset", ds}, {"observer", "minmax"}, {"dtype", "qint8"}, {"symmetric", sym},
                         {"quant_min", -8}, {"quant_max", 7}, {"axis", -1}});
      configs.push_back({{"dataset", ds}, {"observer", "ma"}, {"dtype", "quint8"}, {"symmetric", sym},
                         {"quant_min", 0}, {"quant_max", 15}, {"axis", channel_axis}, {"averaging_constant", 0.1}});
    }
  }
  const json expected = run_torch(dir, configs);
  ASSERT_EQ(expected.size(), configs.size());
  std::size_t compared = 0;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const json& c = configs[i];
    const auto obs = lowbit::testing::observe_all(options_of(c), data.at(c["dataset"]), c["dataset"]);
    const auto qp = obs.qparams(target_of(c));
    const auto& bits = expected[i]["scale_bits"];
    const auto& zps = expected[i]["zero_point"];
    ASSERT_EQ(qp.size(), bits.size()) << c.dump();
    for (std::size_t k = 0; k < qp.size(); ++k) {
      ASSERT_EQ(std::bit_cast<std::uint32_t>(qp[k].scale), bits[k].get<std::uint32_t>())
          << c.dump() << " channel " << k << ": lowbit " << qp[k].scale << " torch "
          << std::bit_cast<float>(bits[k].get<std::uint32_t>());
      ASSERT_EQ(qp[k].zero_point, zps[k].get<int>()) << c.dump() << " channel " << k;
      ++compared;
    }
  }
  EXPECT_GT(compared, 10000u);
}

TEST(PeerObserverTorch, HistogramWithinOneBin) {
  const auto dir = lowbit::testing::scratch_dir();
  const auto data = lowbit::testing::load_calib_data(dir);
  json configs = json::array();
  for (const std::string ds : {"minilm_ln_hist_safe", "minilm_gelu_hist_safe", "minilm_relu_hist_safe",
                               "student_t_hist_safe", "outliers_hist_safe", "growing", "constant", "zeros"})
    for (const std::string dtype : {"qint8", "quint8"})
      for (bool sym : {false, true})
        for (bool rr : {false, true}) {
          if (rr && sym) continue;  // reduce_range does not change the search, only the grid
          configs.push_back({{"dataset", ds}, {"observer", "hist"}, {"dtype", dtype}, {"symmetric", sym},
                             {"reduce_range", rr}});
        }
  const json expected = run_torch(dir, configs);
  ASSERT_EQ(expected.size(), configs.size());
  double worst = 0;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const json& c = configs[i];
    const json& e = expected[i];
    const auto obs = lowbit::testing::observe_all(options_of(c), data.at(c["dataset"]), c["dataset"]);
    const QuantTarget t = target_of(c);
    const Range r = obs.ranges(t)[0];
    const double bin = e["bin_width"].get<double>();
    EXPECT_LE(std::fabs(r.min - e["min"].get<double>()), bin + 1e-6 * std::fabs(r.min)) << c.dump();
    EXPECT_LE(std::fabs(r.max - e["max"].get<double>()), bin + 1e-6 * std::fabs(r.max)) << c.dump();
    const AffineParams p = qparams_from_range(r, t);
    const double torch_scale = std::bit_cast<float>(e["scale_bits"][0].get<std::uint32_t>());
    const double levels = t.range.qmax - t.range.qmin;
    EXPECT_LE(std::fabs(p.scale - torch_scale) * levels, bin * (1 + 1e-5) + 1e-12) << c.dump();
    EXPECT_LE(std::abs(p.zero_point - e["zero_point"][0].get<int>()), 1) << c.dump();
    if (bin > 0)
      worst = std::max({worst, std::fabs(r.min - e["min"].get<double>()) / bin,
                        std::fabs(r.max - e["max"].get<double>()) / bin});
  }
  std::cout << "lowbit vs torch HistogramObserver over " << configs.size() << " configs: within " << worst
            << " bins\n";
}
