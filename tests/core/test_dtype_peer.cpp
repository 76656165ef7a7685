// include/lowbit/dtype.h's table against numpy.iinfo / numpy.finfo / ml_dtypes.finfo run
// at test time: sizes, integer ranges (exact decimal strings) and float max, smallest
// normal and smallest subnormal (equal once both are rounded to the format's precision).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include "lowbit/dtype.h"
#include "support/peer.h"

using namespace lowbit;

namespace {

struct PeerRow {
  std::size_t bytes = 0;
  std::string min, max, normal, subnormal;
};

// The table spells floats with as many digits as the format needs, the peer with a
// double's repr: equal means equal after rounding to the format (fp32 holds every
// narrower format's values exactly, so rounding to fp32 is exact for them).
bool same_float(std::string_view table, const std::string& peer, DType t) {
  const double a = std::strtod(std::string(table).c_str(), nullptr);
  const double b = std::strtod(peer.c_str(), nullptr);
  if (t == DType::F64) return a == b;
  return static_cast<float>(a) == static_cast<float>(b);
}

}  // namespace

TEST(PeerDType, TableMatchesNumpyAndMlDtypes) {
  std::istringstream out(lowbit::testing::run_peer("core_dtype.py", {}));
  std::map<std::string, PeerRow> peer;
  std::string name;
  PeerRow row;
  while (out >> name >> row.bytes >> row.min >> row.max >> row.normal >> row.subnormal) peer[name] = row;

  for (const DTypeInfo& d : dtype_table()) {
    const std::string n(d.name);
    ASSERT_TRUE(peer.count(n)) << "peer printed nothing for " << n;
    const PeerRow& p = peer.at(n);
    EXPECT_EQ(d.bytes, p.bytes) << n;
    if (d.is_float) {
      EXPECT_TRUE(same_float(d.min_value, p.min, d.dtype)) << n << " min " << d.min_value << " vs " << p.min;
      EXPECT_TRUE(same_float(d.max_value, p.max, d.dtype)) << n << " max " << d.max_value << " vs " << p.max;
      EXPECT_TRUE(same_float(d.smallest_normal, p.normal, d.dtype))
          << n << " smallest normal " << d.smallest_normal << " vs " << p.normal;
      EXPECT_TRUE(same_float(d.smallest_subnormal, p.subnormal, d.dtype))
          << n << " smallest subnormal " << d.smallest_subnormal << " vs " << p.subnormal;
      EXPECT_EQ(d.is_signed, p.min[0] == '-') << n;
    } else {
      EXPECT_EQ(d.min_value, p.min) << n;
      EXPECT_EQ(d.max_value, p.max) << n;
      EXPECT_EQ(d.is_signed, p.min[0] == '-') << n;
      EXPECT_TRUE(d.smallest_normal.empty() && d.smallest_subnormal.empty()) << n;
    }
  }
}
