#include "routing/routes.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace scoregate::routing {
namespace {

settings::Config two_deployments() {
  settings::Config c;
  settings::Endpoint e;
  e.name = "fraud";
  e.primary_key = "primary-key-0123456789";
  e.secondary_key = "secondary-key-0123456789";
  e.traffic = {{"blue", 90}, {"green", 10}};
  e.mirror_traffic = {{"green", 20}};
  settings::Deployment blue, green;
  blue.name = "blue";
  green.name = "green";
  e.deployments = {blue, green};
  c.endpoints.push_back(e);
  settings::Endpoint open;
  open.name = "open";
  open.auth_mode = settings::AuthMode::none;
  open.deployments = {blue};
  c.endpoints.push_back(open);
  return c;
}

TEST(ScoringPath, BothPrefixesAndForwardTarget) {
  auto p = parse_scoring_path("/api/v1/endpoint/fraud/score");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->endpoint, "fraud");
  EXPECT_EQ(p->forward_target, "/score");
  p = parse_scoring_path("/api/v1/service/fraud/swagger.json?v=2");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->endpoint, "fraud");
  EXPECT_EQ(p->forward_target, "/swagger.json?v=2");
  p = parse_scoring_path("/api/v1/service/fraud");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->forward_target, "/");
  p = parse_scoring_path("/api/v1/service/fraud?x=1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->forward_target, "/?x=1");
  EXPECT_FALSE(parse_scoring_path("/api/v1/service/"));
  EXPECT_FALSE(parse_scoring_path("/api/v1/services/fraud/score"));
  EXPECT_FALSE(parse_scoring_path("/score"));
  EXPECT_FALSE(parse_scoring_path("/api/v1/endpoint//score"));
}

TEST(RouteTable, FindsEndpointsByExactName) {
  RouteTable t(two_deployments());
  ASSERT_NE(t.find("fraud"), nullptr);
  EXPECT_EQ(t.find("fraud")->deployments.size(), 2u);
  EXPECT_EQ(t.find("Fraud"), nullptr);
  EXPECT_EQ(t.find("frau"), nullptr);
  EXPECT_EQ(t.find("fraud")->mirror_deployment, 1);
  EXPECT_EQ(t.find("fraud")->mirror_percent, 20u);
}

TEST(Auth, BearerKeysPrimaryOrSecondary) {
  RouteTable t(two_deployments());
  const auto& ep = *t.find("fraud");
  EXPECT_EQ(authenticate(ep, "Bearer primary-key-0123456789"), AuthResult::ok);
  EXPECT_EQ(authenticate(ep, "bearer secondary-key-0123456789"), AuthResult::ok);
  EXPECT_EQ(authenticate(ep, "Bearer primary-key-012345678"), AuthResult::wrong);
  EXPECT_EQ(authenticate(ep, "Bearer "), AuthResult::missing);
  EXPECT_EQ(authenticate(ep, ""), AuthResult::missing);
  EXPECT_EQ(authenticate(ep, "Basic cHJpbWFyeQ=="), AuthResult::missing);
  EXPECT_EQ(authenticate(*t.find("open"), ""), AuthResult::ok);
}

TEST(Auth, EmptySecondaryKeyNeverMatches) {
  auto c = two_deployments();
  c.endpoints[0].secondary_key.clear();
  RouteTable t(c);
  EXPECT_EQ(authenticate(*t.find("fraud"), "Bearer  "), AuthResult::missing);
  EXPECT_EQ(authenticate(*t.find("fraud"), "Bearer x"), AuthResult::wrong);
}

TEST(Choice, HeaderWinsOverTraffic) {
  RouteTable t(two_deployments());
  const auto& ep = *t.find("fraud");
  auto c = choose_deployment(ep, "green", 0);
  EXPECT_EQ(c.deployment, 1);
  EXPECT_TRUE(c.by_header);
  c = choose_deployment(ep, "purple", 0);
  EXPECT_EQ(c.deployment, -1);
  EXPECT_TRUE(c.by_header);
}

TEST(Choice, TrafficPercentagesSplitTheRollSpace) {
  RouteTable t(two_deployments());
  const auto& ep = *t.find("fraud");
  std::map<int, int> seen;
  for (unsigned roll = 0; roll < 100; ++roll) ++seen[choose_deployment(ep, "", roll).deployment];
  EXPECT_EQ(seen[0], 90);
  EXPECT_EQ(seen[1], 10);
}

TEST(Choice, ZeroTrafficMeansNoDeployment) {
  auto c = two_deployments();
  c.endpoints[0].traffic = {{"blue", 0}, {"green", 0}};
  RouteTable t(c);
  EXPECT_EQ(choose_deployment(*t.find("fraud"), "", 5).deployment, -1);
  EXPECT_EQ(choose_deployment(*t.find("fraud"), "blue", 5).deployment, 0);
}

TEST(Mirror, PercentOfRequestsAndNeverToTheServingDeployment) {
  RouteTable t(two_deployments());
  const auto& ep = *t.find("fraud");
  int mirrored = 0;
  for (unsigned roll = 0; roll < 100; ++roll) mirrored += choose_mirror(ep, 0, roll) == 1;
  EXPECT_EQ(mirrored, 20);
  EXPECT_EQ(choose_mirror(ep, 1, 0), -1);
}

TEST(RequestIds, UuidRule) {
  EXPECT_TRUE(is_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
  EXPECT_TRUE(is_uuid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
  EXPECT_FALSE(is_uuid("0f8fad5b-d9cb-469f-a165-70867728950"));
  EXPECT_FALSE(is_uuid("0f8fad5bxd9cb-469f-a165-70867728950e"));
  EXPECT_FALSE(is_uuid("0f8fad5b-d9cb-469f-a165-70867728950g"));
  EXPECT_FALSE(is_uuid(""));
}

TEST(RequestIds, NewUuidsAreVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto u = std::string(RequestId::keep_or_make("").view());
    ASSERT_TRUE(is_uuid(u)) << u;
    EXPECT_EQ(u[14], '4');
    EXPECT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b') << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RequestIds, ClientUuidKeptAnythingElseReplaced) {
  EXPECT_EQ(RequestId().view(), "");  // unset: no bytes, never 36 NULs in a header
  // kept verbatim, case included
  EXPECT_EQ(RequestId::keep_or_make("0F8FAD5B-D9CB-469F-A165-70867728950E").view(),
            "0F8FAD5B-D9CB-469F-A165-70867728950E");
  // anything else: a new one each time (version 4, NewUuidsAreVersion4AndDistinct)
  std::set<std::string, std::less<>> seen;
  for (std::string_view bad : {"", "not-a-uuid", "0f8fad5b-d9cb-469f-a165-70867728950",
                               "0f8fad5b-d9cb-469f-a165-70867728950e0"}) {
    auto id = RequestId::keep_or_make(bad);
    std::string_view v = id;
    ASSERT_TRUE(is_uuid(v)) << v;
    EXPECT_NE(v, bad);
    EXPECT_EQ(v[14], '4');
    seen.emplace(v);
  }
  EXPECT_EQ(seen.size(), 4u);
}

TEST(RequestIds, ClientRequestIdSanitized) {
  EXPECT_EQ(sanitize_client_request_id("abc-DEF_123"), "abc-DEF_123");
  EXPECT_EQ(sanitize_client_request_id("a b\r\nc;d"), "abcd");
  EXPECT_EQ(sanitize_client_request_id(std::string(100, 'x')), std::string(40, 'x'));
  EXPECT_EQ(sanitize_client_request_id("$$$"), "");
}

}  // namespace
}  // namespace scoregate::routing
