// The per-worker ring of the last router errors (proxy/recent_errors.hpp).
#include "proxy/recent_errors.hpp"

#include <gtest/gtest.h>

#include <string>

namespace scoregate::proxy {
namespace {

TEST(RecentErrors, KeepsTheLastEntriesOldestFirstAndCutsLongNames) {
  RecentErrors ring;
  EXPECT_TRUE(ring.entries().empty());
  ring.record(401, "Unauthorized", "fraud", "");
  auto one = ring.entries();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].status, 401u);
  EXPECT_EQ(one[0].code, "Unauthorized");
  EXPECT_EQ(one[0].endpoint, "fraud");
  EXPECT_EQ(one[0].deployment, "");
  EXPECT_GT(one[0].unix_ms, 1'600'000'000'000);

  for (unsigned i = 0; i < RecentErrors::kCapacity + 3; ++i)
    ring.record(500 + i, "Code" + std::to_string(i), std::string(100, 'e'), "blue");
  auto all = ring.entries();
  ASSERT_EQ(all.size(), RecentErrors::kCapacity);
  EXPECT_EQ(all.front().code, "Code3");  // the oldest three (and the 401) fell out
  EXPECT_EQ(all.back().code, "Code" + std::to_string(RecentErrors::kCapacity + 2));
  EXPECT_EQ(all.back().endpoint, std::string(64, 'e'));
  EXPECT_EQ(all.back().deployment, "blue");
}

}  // namespace
}  // namespace scoregate::proxy
