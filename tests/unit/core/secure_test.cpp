#include "core/secure.hpp"
#include "core/problem.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace scoregate {
namespace {

TEST(ConstantTimeEqual, MatchesOnlyTheSameKey) {
  EXPECT_TRUE(constant_time_equal("s3cret-key", "s3cret-key"));
  EXPECT_FALSE(constant_time_equal("s3cret-kez", "s3cret-key"));
  EXPECT_FALSE(constant_time_equal("s3cret-key-longer", "s3cret-key"));
  EXPECT_FALSE(constant_time_equal("", "s3cret-key"));
  EXPECT_FALSE(constant_time_equal("", ""));  // an unset key never matches
}

TEST(Base64, RoundTripsAndRejectsGarbage) {
  for (std::string s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto enc = base64_encode(s);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(*base64_decode("aGVs\nbG8=\n"), "hello");
  EXPECT_FALSE(base64_decode("aGVsbG8").has_value());
  EXPECT_FALSE(base64_decode("aGV$bG8=").has_value());
  EXPECT_FALSE(base64_decode("a=Vs").has_value());
}

TEST(RandomKey, IsUrlSafeAndDistinct) {
  auto a = random_key(), b = random_key();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 43u);
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

TEST(Problems, FormatsCodeSeverityWhereWhatFix) {
  Problems ps;
  ps.warning("CERT_EXPIRES_SOON", "sslCertPemFile", "expires in 3 days", "renew it");
  ps.error("TLS_NO_SOURCE", "", "TLS is on but no certificate is configured", "set sslSecret");
  EXPECT_TRUE(ps.has_errors());
  EXPECT_EQ(ps.to_string(),
            "TLS_NO_SOURCE error: TLS is on but no certificate is configured \u2014 set sslSecret\n"
            "CERT_EXPIRES_SOON warning: sslCertPemFile: expires in 3 days \u2014 renew it\n");
}

}  // namespace
}  // namespace scoregate
