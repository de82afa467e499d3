// The process-wide session ticket key ring: rotation every 12 hours, two old keys kept.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tls/ticket_keys.hpp"

namespace scoregate::tls {
namespace {

using std::chrono::hours;
using std::chrono::steady_clock;

TEST(TicketKeyRing, RotatesEveryTwelveHoursAndKeepsTwoOldKeys) {
  steady_clock::time_point now = steady_clock::now();
  TicketKeyRing ring(TicketKeyRing::kRotation, [&] { return now; });
  auto first = ring.current().keys[0];
  EXPECT_EQ(ring.current().count, 1u);
  now += hours(11);
  EXPECT_EQ(ring.current().keys[0].name, first.name);

  std::vector<TicketKey> history{first};
  for (int i = 0; i < 3; ++i) {
    now += hours(12);
    const TicketKeySet& set = ring.current();
    EXPECT_NE(set.keys[0].name, history.back().name);
    history.push_back(set.keys[0]);
  }
  const TicketKeySet& set = ring.current();
  const TicketKey* found = nullptr;
  EXPECT_EQ(TicketKeyRing::lookup(set, history[3].name.data(), &found), 1);
  EXPECT_EQ(TicketKeyRing::lookup(set, history[2].name.data(), &found), 2);
  EXPECT_EQ(found->aes_key, history[2].aes_key);
  EXPECT_EQ(TicketKeyRing::lookup(set, history[1].name.data(), &found), 2);
  EXPECT_EQ(TicketKeyRing::lookup(set, history[0].name.data(), &found), 0);
}

TEST(TicketKeyRing, ManyThreadsSeeConsistentSetsWhileRotating) {
  TicketKeyRing ring;
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      while (!stop) {
        const TicketKeySet& s = ring.current();
        const TicketKey* k = nullptr;
        if (s.count < 1 || TicketKeyRing::lookup(s, s.keys[0].name.data(), &k) != 1) ++bad;
      }
    });
  for (int i = 0; i < 200; ++i) ring.rotate();
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad, 0);
}

}  // namespace
}  // namespace scoregate::tls
