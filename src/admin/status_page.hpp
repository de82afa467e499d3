// The status page of the admin listener (README "Status page"): one self-contained HTML file,
// src/admin/status_page.html, compiled in by CMake, served at GET / to clients that ask for
// HTML. The page reads /status itself; nothing here touches the data path.
#pragma once

#include <string>
#include <string_view>

namespace scoregate::admin {

// The page as written in src/admin/status_page.html (generated status_page_html.cpp).
extern const std::string_view kStatusPageHtml;

// Whether an Accept header asks for HTML: a media range text/html or text/* whose q is not
// 0. Browsers send text/html first; curl and API clients send */* or application/json and
// keep getting JSON at / as before.
bool accepts_html(std::string_view accept);

struct StatusPage {
  std::string html;  // the page with this response's nonce in its <style> and <script>
  std::string content_security_policy;
};
// `nonce`: fresh random base64url for each response, so only the page's own script runs.
StatusPage render_status_page(std::string_view nonce);

}  // namespace scoregate::admin
