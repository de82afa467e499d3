#include <gtest/gtest.h>

#include "http/body_rate.hpp"

using scoregate::http::BodyRate;
using namespace std::chrono_literals;

TEST(BodyRate, OffWhenTheRateIsZero) {
  BodyRate r(0, 1000ms);
  r.add_wait(24h);
  EXPECT_FALSE(r.too_slow());
  EXPECT_EQ(r.allowance(), BodyRate::duration::max());
}

TEST(BodyRate, GraceThenOneSecondPerRateBytes) {
  BodyRate r(1024, 2000ms);
  EXPECT_EQ(r.allowance(), 2000ms);
  r.add_wait(1500ms);
  EXPECT_EQ(r.allowance(), 500ms);
  r.add_bytes(2048);  // earns 2 s
  EXPECT_EQ(r.allowance(), 2500ms);
  r.add_wait(2500ms);
  EXPECT_TRUE(r.too_slow());
  EXPECT_EQ(r.allowance(), 0ms);
  r.add_bytes(512);
  EXPECT_FALSE(r.too_slow());
  EXPECT_EQ(r.allowance(), 500ms);
}

// 100 B/s against a 1024 B/s minimum with a 1 s grace: cut after ~1.1 s of waiting, long before
// a 1 MB body is through; a client at twice the minimum is never cut.
TEST(BodyRate, SlowDripEndsFastClientDoesNot) {
  BodyRate slow(1024, 1000ms), fast(1024, 1000ms);
  int slow_cut_at = -1;
  for (int ms = 10; ms <= 60000; ms += 10) {
    slow.add_wait(10ms);
    slow.add_bytes(1);  // 100 B/s
    fast.add_wait(10ms);
    fast.add_bytes(21);  // 2100 B/s
    if (slow_cut_at < 0 && slow.too_slow()) slow_cut_at = ms;
    EXPECT_FALSE(fast.too_slow()) << ms;
  }
  EXPECT_GE(slow_cut_at, 1000);
  EXPECT_LE(slow_cut_at, 1200);
}

TEST(BodyRate, HugeBodiesDoNotOverflow) {
  BodyRate r(1, 1000ms);
  r.add_bytes(~0ULL);
  EXPECT_GT(r.allowance(), 24h * 365 * 10);
}
