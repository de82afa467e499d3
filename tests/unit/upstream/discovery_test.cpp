#include "upstream/discovery.hpp"
#include "upstream/health.hpp"
#include "upstream/targets.hpp"

#include <gtest/gtest.h>

namespace scoregate::upstream {
namespace {

namespace ip = boost::asio::ip;

ip::tcp::endpoint ep(const char* a, unsigned short p) { return {ip::make_address(a), p}; }

TEST(MergeDiscovered, KeepsStaticTargetsAndTheIdentityOfSurvivors) {
  auto fixed = std::make_shared<Target>();
  fixed->address = "10.0.0.1:5001";
  fixed->id = next_target_id();
  auto first = merge_discovered({fixed}, {ep("10.1.0.1", 5001), ep("10.1.0.2", 5001)});
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0], fixed);
  EXPECT_TRUE(first[1]->discovered);
  first[1]->in_flight = 3;  // a survivor keeps its state
  auto second = merge_discovered(first, {ep("10.1.0.1", 5001), ep("10.1.0.3", 5001)});
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0], fixed);
  EXPECT_EQ(second[1], first[1]);
  EXPECT_EQ(second[1]->in_flight, 3u);
  EXPECT_EQ(second[2]->address, "10.1.0.3:5001");
  EXPECT_NE(second[2]->id, first[2]->id);
}

TEST(ParseTarget, Forms) {
  auto t = parse_target("10.0.0.5:5001");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "10.0.0.5");
  EXPECT_EQ(t->port, 5001);
  t = parse_target("[fd00::5]:8080");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "fd00::5");
  t = parse_target("model.svc");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->port, 5001);  // the model pod default
  t = parse_target("dns:blue.fraud.svc.cluster.local:5001");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->discovered);
  EXPECT_FALSE(parse_target("dns:nameonly"));
  EXPECT_FALSE(parse_target("host:0"));
  EXPECT_TRUE(parse_target("host:0", true));
  EXPECT_FALSE(parse_target("host:70000"));
  EXPECT_FALSE(parse_target(":5001"));
  EXPECT_FALSE(parse_target("[fd00::5"));
}

TEST(ProbeTiming, MillisecondFieldsOverrideSeconds) {
  settings::ReadinessProbe p;
  auto t = probe_timing(p);
  EXPECT_EQ(t.period.count(), 10000);
  EXPECT_EQ(t.timeout.count(), 2000);
  EXPECT_EQ(t.initial_delay.count(), 10000);
  EXPECT_EQ(t.failure_threshold, 30u);
  p.period_ms = 100;
  p.initial_delay_s = 0;
  t = probe_timing(p);
  EXPECT_EQ(t.period.count(), 100);
  EXPECT_EQ(t.initial_delay.count(), 0);
}

}  // namespace
}  // namespace scoregate::upstream
