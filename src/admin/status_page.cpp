#include "admin/status_page.hpp"

#include <boost/beast/core/string.hpp>

namespace scoregate::admin {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// q=0, q=0.0, q=0.000 refuse a media range (RFC 9110 12.4.2); any other q accepts it.
bool refused_by_q(std::string_view params) {
  while (!params.empty()) {
    auto semi = params.find(';');
    auto param = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') continue;
    auto value = param.substr(2);
    return !value.empty() && value.find_first_not_of("0.") == std::string_view::npos;
  }
  return false;
}

}  // namespace

bool accepts_html(std::string_view accept) {
  while (!accept.empty()) {
    auto comma = accept.find(',');
    auto range = trim(accept.substr(0, comma));
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    auto semi = range.find(';');
    auto type = trim(range.substr(0, semi));
    if (!boost::beast::iequals(type, "text/html") && !boost::beast::iequals(type, "text/*"))
      continue;
    if (!refused_by_q(semi == std::string_view::npos ? "" : range.substr(semi + 1))) return true;
  }
  return false;
}

StatusPage render_status_page(std::string_view nonce) {
  static constexpr std::string_view kMarker = "__NONCE__";
  StatusPage page;
  page.html.reserve(kStatusPageHtml.size() + 64);
  std::string_view rest = kStatusPageHtml;
  for (auto at = rest.find(kMarker); at != std::string_view::npos; at = rest.find(kMarker)) {
    page.html.append(rest.substr(0, at)).append(nonce);
    rest.remove_prefix(at + kMarker.size());
  }
  page.html.append(rest);
  const std::string n = "'nonce-" + std::string(nonce) + "'";
  // Nothing but the page's own nonce'd style and script, and fetches of /status from here.
  page.content_security_policy = "default-src 'none'; script-src " + n + "; style-src " + n +
                                 "; connect-src 'self'; img-src 'self'; base-uri 'none'; "
                                 "form-action 'none'; frame-ancestors 'none'";
  return page;
}

}  // namespace scoregate::admin
