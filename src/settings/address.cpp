// Syntax of host names, addresses and ports in settings. Syntax only: nothing is resolved.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "settings/internal.hpp"

namespace scoregate::settings::detail {

namespace {

bool all_digits_or_dots(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char ch) { return ch == '.' || (ch >= '0' && ch <= '9'); });
}

}  // namespace

bool is_ipv4(std::string_view s) {
  if (s.empty() || s.size() > 15) return false;
  std::string z(s);
  in_addr out{};
  return inet_pton(AF_INET, z.c_str(), &out) == 1;
}

bool is_ipv6(std::string_view s) {
  if (s.empty() || s.size() > 45) return false;
  std::string z(s);
  in6_addr out{};
  return inet_pton(AF_INET6, z.c_str(), &out) == 1;
}

bool is_hostname(std::string_view s, bool wildcard) {
  if (wildcard && s.substr(0, 2) == "*.") s.remove_prefix(2);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);  // fully qualified "example.com."
  if (s.empty() || s.size() > 253) return false;
  // "10.0.0.256" is a mistyped address, not a name.
  if (all_digits_or_dots(s)) return false;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t dot = s.find('.', start);
    std::string_view label =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (unsigned char ch : label)
      if (!std::isalnum(ch) && ch != '-') return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  auto n = parse_uint(s, 65535);
  if (!n || s.size() > 5) return std::nullopt;
  return static_cast<std::uint16_t>(*n);
}

std::optional<std::string> host_port_error(std::string_view s) {
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return "'[' without a closing ']'";
    host = s.substr(1, close - 1);
    if (!is_ipv6(host)) return "the part in [] is not an IPv6 address";
    if (close + 1 >= s.size() || s[close + 1] != ':') return "no ':PORT' after the ']'";
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return "no ':PORT'";
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return "an IPv6 address must be written in [], e.g. [::1]:8443";
    if (host.empty()) return "no host before ':PORT' (use 0.0.0.0 for all IPv4 addresses)";
    if (!is_ipv4(host) && !is_hostname(host))
      return "the host is neither an IPv4 address nor a host name";
  }
  if (!parse_port(port)) return "the port is not a number from 0 to 65535";
  return std::nullopt;
}

bool is_k8s_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (!std::isalnum(static_cast<unsigned char>(s.front())) ||
      !std::isalnum(static_cast<unsigned char>(s.back())))
    return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
  });
}

}  // namespace scoregate::settings::detail
