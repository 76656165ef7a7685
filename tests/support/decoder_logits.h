// Checks a decoder's logits against a peer's saved ones: the peer wrote every sequence's
// [T, n_vocab] fp32 logits back to back into one file; each sequence must agree to
// max|diff| / max|logit| below `rel_tol`.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lowbit/decoder.h"

namespace lowbit::testing {

inline void expect_logits_match_file(const DecoderModel& model, const std::vector<std::vector<std::int32_t>>& ids,
                                     const std::filesystem::path& logits_file, double rel_tol, const std::string& label) {
  std::ifstream lf(logits_file, std::ios::binary);
  std::vector<float> ref(std::filesystem::file_size(logits_file) / 4);
  lf.read(reinterpret_cast<char*>(ref.data()), static_cast<std::streamsize>(ref.size() * 4));
  const std::int64_t nv = model.config().n_vocab;
  std::size_t off = 0;
  for (const auto& s : ids) {
    std::vector<float> logits(s.size() * static_cast<std::size_t>(nv));
    model.forward(s, logits.data(), 2);
    ASSERT_LE(off + logits.size(), ref.size()) << label;
    double max_abs = 0, max_ref = 0;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(logits[i]) - ref[off + i]));
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref[off + i])));
    }
    std::printf("[%s] T=%zu: max|diff| %.3g, max|logit| %.3g, relative %.3g\n", label.c_str(), s.size(), max_abs,
                max_ref, max_abs / max_ref);
    EXPECT_LT(max_abs / max_ref, rel_tol) << label << " T=" << s.size();
    off += logits.size();
  }
  EXPECT_EQ(off, ref.size()) << label;
}

}  // namespace lowbit::testing
