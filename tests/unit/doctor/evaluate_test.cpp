#include "doctor/evaluate.hpp"

#include <gtest/gtest.h>

namespace scoregate::doctor {
namespace {

TEST(DoctorDns, ResolvesOrNot) {
  EXPECT_EQ(check_resolves("a.test", {"10.0.0.1"}, "").status, Status::pass);
  auto c = check_resolves("a.test", {}, "Name or service not known");
  EXPECT_EQ(c.status, Status::fail);
  EXPECT_NE(c.message.find("Name or service not known"), std::string::npos);
  EXPECT_FALSE(c.fix.empty());
}

TEST(DoctorDns, ExpectedAddress) {
  const Expected want{{"20.1.2.3"}, "--expect-ip"};
  EXPECT_EQ(check_expected_address("a.test", {"20.1.2.3"}, want).status, Status::pass);
  auto some = check_expected_address("a.test", {"20.1.2.3", "10.9.9.9"}, want);
  EXPECT_EQ(some.status, Status::warn);
  EXPECT_NE(some.message.find("10.9.9.9"), std::string::npos);
  auto none = check_expected_address("a.test", {"10.9.9.9"}, want);
  EXPECT_EQ(none.status, Status::fail);
  EXPECT_NE(none.fix.find("TTL"), std::string::npos);
  EXPECT_NE(none.fix.find("20.1.2.3"), std::string::npos);
}

TEST(DoctorTls, Versions) {
  EXPECT_EQ(check_version({"1.1", false, "protocol version"}).status, Status::pass);
  EXPECT_EQ(check_version({"1.0", true, ""}).status, Status::fail);
  EXPECT_EQ(check_version({"1.1", true, ""}).status, Status::fail);
  EXPECT_EQ(check_version({"1.2", true, ""}).status, Status::pass);
  EXPECT_EQ(check_version({"1.3", false, ""}).status, Status::warn);
  EXPECT_EQ(check_version({"1.3", true, ""}).id, "tls.v1.3");
}

TEST(DoctorTls, ChainAndName) {
  EXPECT_EQ(check_chain({true, "", "the system store"}).status, Status::pass);
  auto bad = check_chain({false, "unable to get local issuer certificate", "the system store"});
  EXPECT_EQ(bad.status, Status::fail);
  EXPECT_NE(bad.message.find("local issuer"), std::string::npos);
  EXPECT_EQ(check_name("a.test", true, "a.test").status, Status::pass);
  auto other = check_name("a.test", false, "*.example.com");
  EXPECT_EQ(other.status, Status::fail);
  EXPECT_NE(other.message.find("*.example.com"), std::string::npos);
}

TEST(DoctorTls, Expiry) {
  const std::time_t now = 1'800'000'000, day = 86400;
  EXPECT_EQ(check_expiry(now - day, now + 60 * day, now).status, Status::pass);
  EXPECT_EQ(check_expiry(now - day, now + 13 * day, now).status, Status::warn);
  EXPECT_EQ(check_expiry(now - day, now + 14 * day + 1, now).status, Status::pass);
  auto expired = check_expiry(now - 10 * day, now - 3 * day, now);
  EXPECT_EQ(expired.status, Status::fail);
  EXPECT_NE(expired.message.find("3 days ago"), std::string::npos);
  EXPECT_EQ(check_expiry(now + day, now + 9 * day, now).status, Status::fail);
}

TEST(DoctorTls, Fingerprint) {
  EXPECT_EQ(check_fingerprint("AA:BB", {}).status, Status::info);
  EXPECT_EQ(check_fingerprint("AA:BB", {"AA:BB", "sslCertPemFile", ""}).status, Status::pass);
  auto differs = check_fingerprint("AA:BB", {"CC:DD", "sslCertPemFile", ""});
  EXPECT_EQ(differs.status, Status::fail);
  EXPECT_NE(differs.message.find("CC:DD"), std::string::npos);
  auto unreadable =
      check_fingerprint("AA:BB", {std::nullopt, "sslSecret 'tls'", "the Secret is in the cluster"});
  EXPECT_EQ(unreadable.status, Status::warn);
  EXPECT_NE(unreadable.message.find("cannot be read here"), std::string::npos);
}

TEST(DoctorHttp, RouterErrorCode) {
  EXPECT_EQ(router_error_code(R"({"error":{"code":"Unauthorized","message":"x"}})"),
            "Unauthorized");
  EXPECT_EQ(router_error_code(R"({"error":{"code":"Whatever"}})"), std::nullopt);
  EXPECT_EQ(router_error_code(R"({"result":[1]})"), std::nullopt);
  EXPECT_EQ(router_error_code("not json {"), std::nullopt);
  EXPECT_EQ(router_error_code(R"({"error":"Unauthorized"})"), std::nullopt);
}

TEST(DoctorHttp, WithoutKey) {
  const std::string uri = "https://a.test/api/v1/service/e/score";
  EXPECT_EQ(check_without_key(uri, {401, R"({"error":{"code":"Unauthorized"}})", ""}).status,
            Status::pass);
  EXPECT_EQ(check_without_key(uri, {200, R"({"result":[1]})", ""}).status, Status::warn);
  auto missing = check_without_key(uri, {404, R"({"error":{"code":"EndpointNotFound"}})", ""});
  EXPECT_EQ(missing.status, Status::fail);
  EXPECT_NE(missing.message.find("404 EndpointNotFound"), std::string::npos);
  EXPECT_EQ(check_without_key(uri, {0, "", "refused"}).status, Status::fail);
}

TEST(DoctorHttp, WithKey) {
  const std::string uri = "https://a.test/api/v1/service/e/score";
  EXPECT_EQ(check_with_key(uri, {200, "{}", ""}).status, Status::pass);
  EXPECT_EQ(check_with_key(uri, {500, "model failed", ""}).status, Status::pass);
  auto busy = check_with_key(uri, {429, R"({"error":{"code":"TooManyRequests"}})", ""});
  EXPECT_EQ(busy.status, Status::warn);
  auto down = check_with_key(uri, {503, R"({"error":{"code":"NoReadyInstance"}})", ""});
  EXPECT_EQ(down.status, Status::fail);
  EXPECT_NE(down.message.find("503 NoReadyInstance"), std::string::npos);
  EXPECT_FALSE(down.fix.empty());
  EXPECT_NE(down.message.find(" with the key: "), std::string::npos);
  auto from = check_with_key(uri, {200, "{}", ""}, "-f (the primary key of endpoint 'e')");
  EXPECT_NE(from.message.find("with the key from -f (the primary key of endpoint 'e') reached"),
            std::string::npos)
      << from.message;
}

TEST(DoctorHttp, Http2) {
  EXPECT_EQ(check_http2("h2").status, Status::pass);
  EXPECT_EQ(check_http2("http/1.1").status, Status::info);
  EXPECT_EQ(check_http2("").status, Status::info);
}

}  // namespace
}  // namespace scoregate::doctor
