// The status page's content negotiation and its per-response nonce (README "Status page").
#include "admin/status_page.hpp"

#include <gtest/gtest.h>

namespace scoregate::admin {
namespace {

TEST(StatusPage, BrowsersGetHtmlApiClientsDoNot) {
  EXPECT_TRUE(accepts_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
  EXPECT_TRUE(accepts_html("TEXT/HTML"));
  EXPECT_TRUE(accepts_html("application/json;q=1, text/html ; q=0.5"));
  EXPECT_TRUE(accepts_html("text/*"));
  EXPECT_FALSE(accepts_html(""));
  EXPECT_FALSE(accepts_html("*/*"));  // curl: JSON at / as before
  EXPECT_FALSE(accepts_html("application/json"));
  EXPECT_FALSE(accepts_html("text/html;q=0, application/json"));
  EXPECT_FALSE(accepts_html("text/html; q=0.000"));
  EXPECT_FALSE(accepts_html("text/htmlx, text/plain"));
}

TEST(StatusPage, EveryNonceMarkerIsFilledAndThePolicyNamesTheNonce) {
  auto page = render_status_page("abc123_-");
  EXPECT_EQ(page.html.find("__NONCE__"), std::string::npos);
  EXPECT_NE(page.html.find("<script nonce=\"abc123_-\">"), std::string::npos);
  EXPECT_NE(page.html.find("<style nonce=\"abc123_-\">"), std::string::npos);
  const auto& csp = page.content_security_policy;
  EXPECT_EQ(csp.rfind("default-src 'none';", 0), 0u) << csp;
  EXPECT_NE(csp.find("script-src 'nonce-abc123_-';"), std::string::npos) << csp;
  EXPECT_NE(csp.find("style-src 'nonce-abc123_-';"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_EQ(page.html.size(),
            kStatusPageHtml.size() + 2 * (std::string_view("abc123_-").size() - 9));
}

}  // namespace
}  // namespace scoregate::admin
