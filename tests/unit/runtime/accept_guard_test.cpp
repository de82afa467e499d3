#include <gtest/gtest.h>

#include "runtime/accept_guard.hpp"

using namespace scoregate::runtime;
using std::chrono::milliseconds;

TEST(IdleCloseMark, NinetyPercentOfMaxConnections) {
  EXPECT_EQ(idle_close_mark(20000), 18000u);
  EXPECT_EQ(idle_close_mark(10), 9u);
  EXPECT_EQ(idle_close_mark(5), 5u);  // max/10 rounds down: at max itself
  EXPECT_EQ(idle_close_mark(1), 1u);
  EXPECT_EQ(idle_close_mark(0), 1u);
}

TEST(AcceptBackoff, DoublesFromTenMillisecondsToOneSecond) {
  AcceptBackoff b;
  const long expected[] = {10, 20, 40, 80, 160, 320, 640, 1000, 1000};
  for (long ms : expected) EXPECT_EQ(b.next(), milliseconds(ms));
  b.reset();
  EXPECT_EQ(b.next(), milliseconds(10));
}

TEST(OncePerSecond, FirstEventThenOneLinePerSecondWithTheCount) {
  OncePerSecond log;
  const auto t0 = OncePerSecond::clock::time_point{} + std::chrono::hours(1);
  EXPECT_EQ(log.note(t0), 1u);
  for (int i = 1; i <= 99; ++i) EXPECT_EQ(log.note(t0 + milliseconds(i * 10 - 5)), std::nullopt);
  EXPECT_EQ(log.flush(t0 + milliseconds(999)), std::nullopt);   // not a second yet
  EXPECT_EQ(log.note(t0 + milliseconds(1000)), 100u);           // 99 + this one
  EXPECT_EQ(log.flush(t0 + milliseconds(5000)), std::nullopt);  // nothing left
  EXPECT_EQ(log.note(t0 + milliseconds(1500)), std::nullopt);
  EXPECT_EQ(log.flush(t0 + milliseconds(2000)), 1u);  // the end of a burst is logged too
}
