// The typo suggester behind SETTING_UNKNOWN.
#include <gtest/gtest.h>

#include "settings/settings.hpp"

namespace scoregate::settings {
namespace {

const std::vector<std::string_view> kExtension = {
    "allowInsecureConnections", "sslSecret",         "sslCname",       "inferenceRouterServiceType",
    "enableInference",          "inferenceRouterHA", "sslCertPemFile", "sslKeyPemFile"};

TEST(NearestKey, SuggestsPlausibleTypos) {
  EXPECT_EQ(nearest_key("sslCertPemFIle", kExtension), "sslCertPemFile");  // the seed's spelling
  EXPECT_EQ(nearest_key("sslKeyPemFIle", kExtension), "sslKeyPemFile");
  EXPECT_EQ(nearest_key("allowInsecureConnection", kExtension), "allowInsecureConnections");
  EXPECT_EQ(nearest_key("sslcname", kExtension), "sslCname");
  EXPECT_EQ(nearest_key("sslCnmae", kExtension), "sslCname");  // transposition = 1 edit
  EXPECT_EQ(nearest_key("sslSecrets", kExtension), "sslSecret");
  EXPECT_EQ(nearest_key("inferenceRouterServiceTyp", kExtension), "inferenceRouterServiceType");
  EXPECT_EQ(nearest_key("lisen", {"listen", "admin"}), "listen");
}

TEST(NearestKey, SuggestsNothingForUnrelatedWords) {
  EXPECT_EQ(nearest_key("foo", kExtension), "");
  EXPECT_EQ(nearest_key("certificate", kExtension), "");
  EXPECT_EQ(nearest_key("sslFoo", kExtension), "");  // 5 edits from sslCname: not a typo
  EXPECT_EQ(nearest_key("sslKey", kExtension), "");  // 5 from sslSecret, 7 from sslKeyPemFile
  EXPECT_EQ(nearest_key("sslCnme", kExtension), "sslCname");
  EXPECT_EQ(nearest_key("sslCnm", kExtension), "sslCname");  // 2 edits in 6 letters
  EXPECT_EQ(nearest_key("slCnm", kExtension), "");           // 3 edits in 5 letters
  EXPECT_EQ(nearest_key("", kExtension), "");
  EXPECT_EQ(nearest_key("x", {"y"}), "");  // one edit, but the whole word
  EXPECT_EQ(nearest_key(std::string(1000, 'a'), kExtension), "");
  EXPECT_EQ(nearest_key("sslCname", {}), "");
}

TEST(NearestKey, PrefersTheClosest) {
  EXPECT_EQ(nearest_key("period_m", {"period", "period_ms"}), "period_ms");
  EXPECT_EQ(nearest_key("timeout", {"timeout", "timeout_ms"}), "timeout");
}

}  // namespace
}  // namespace scoregate::settings
