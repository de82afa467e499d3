#include "doctor/report.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "doctor/doctor.hpp"

namespace scoregate::doctor {
namespace {

Report sample() {
  Report r;
  r.target = "https://a.test:443";
  r.add({"dns.resolve", Status::pass, "a.test resolves to 10.0.0.1", ""});
  r.add({"tls.expiry", Status::warn, "expires in 3 days", "renew it"});
  r.add({"http.h2", Status::info, "HTTP/2 not offered", ""});
  return r;
}

TEST(DoctorReport, ExitCode) {
  auto r = sample();
  EXPECT_EQ(r.exit_code(), 0);  // warnings allowed
  r.add({"tls.name", Status::fail, "no", "fix it"});
  EXPECT_EQ(r.exit_code(), 1);
}

TEST(DoctorReport, TextIsOneLinePerCheck) {
  const auto text = format_text(sample());
  EXPECT_NE(text.find("scoregate doctor https://a.test:443\n"), std::string::npos);
  EXPECT_NE(text.find("PASS  dns.resolve  a.test resolves to 10.0.0.1\n"), std::string::npos);
  EXPECT_NE(text.find("WARN  tls.expiry   expires in 3 days — fix: renew it\n"), std::string::npos);
  EXPECT_NE(text.find("1 passed, 1 warnings, 0 failed\n"), std::string::npos);
}

TEST(DoctorReport, Json) {
  auto j = nlohmann::json::parse(format_json(sample()));
  EXPECT_EQ(j["target"], "https://a.test:443");
  ASSERT_EQ(j["checks"].size(), 3U);
  EXPECT_EQ(j["checks"][1]["id"], "tls.expiry");
  EXPECT_EQ(j["checks"][1]["status"], "WARN");
  EXPECT_EQ(j["checks"][1]["fix"], "renew it");
  EXPECT_EQ(j["summary"]["warn"], 1);
  EXPECT_EQ(j["exit_code"], 0);
}

TEST(DoctorReport, JsonSurvivesInvalidUtf8) {
  Report r;
  r.add({"http.auth", Status::fail, std::string("bad \xff bytes"), ""});
  EXPECT_NO_THROW(nlohmann::json::parse(format_json(r)));
}

TEST(DoctorUrl, Parses) {
  Problems p;
  auto u = parse_url("https://scoring.example.com", p);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "scoring.example.com");
  EXPECT_EQ(u->port, "443");
  u = parse_url("https://[::1]:8443/api/v1/endpoint/fraud/score", p);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->endpoint, "fraud");
  EXPECT_EQ(u->shown(), "https://[::1]:8443");
  u = parse_url("https://a.test:9/api/v1/service/legacy/score", p);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->endpoint, "legacy");
  EXPECT_TRUE(p.empty());
}

TEST(DoctorUrl, Refuses) {
  for (const char* bad :
       {"http://a.test", "a.test", "https://", "https://a.test:0", "https://a.test:99999",
        "https://a.test:x", "https://[::1", "https://user@a.test"}) {
    Problems p;
    EXPECT_FALSE(parse_url(bad, p)) << bad;
    EXPECT_TRUE(p.has("DOCTOR_URL_INVALID")) << bad;
  }
}

}  // namespace
}  // namespace scoregate::doctor
