#include "upstream/targets.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

namespace scoregate::upstream {

namespace ip = boost::asio::ip;

std::optional<TargetSpec> parse_target(std::string_view text, bool allow_port_zero) {
  TargetSpec spec;
  if (text.substr(0, 4) == "dns:") {
    spec.discovered = true;
    text.remove_prefix(4);
  }
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return std::nullopt;
      port = text.substr(close + 2);
    }
  } else {
    auto colon = text.rfind(':');
    host = text.substr(0, colon);
    if (colon != std::string_view::npos) port = text.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  spec.host = std::string(host);
  if (port.empty()) {
    if (spec.discovered) return std::nullopt;
    spec.port = 5001;
    return spec;
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || (value == 0 && !allow_port_zero) ||
      value > 65535)
    return std::nullopt;
  spec.port = static_cast<std::uint16_t>(value);
  return spec;
}

std::vector<ip::tcp::endpoint> resolve_blocking(const TargetSpec& spec, std::string& error) {
  std::vector<ip::tcp::endpoint> out;
  boost::system::error_code ec;
  auto literal = ip::make_address(spec.host, ec);
  if (!ec) {
    out.emplace_back(literal, spec.port);
    return out;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(spec.host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    error = gai_strerror(rc);
    return out;
  }
  for (addrinfo* p = res; p; p = p->ai_next) {
    ip::tcp::endpoint ep;
    if (p->ai_family == AF_INET) {
      auto* sa = reinterpret_cast<sockaddr_in*>(p->ai_addr);
      ep = ip::tcp::endpoint(ip::address_v4(ntohl(sa->sin_addr.s_addr)), spec.port);
    } else if (p->ai_family == AF_INET6) {
      auto* sa = reinterpret_cast<sockaddr_in6*>(p->ai_addr);
      ip::address_v6::bytes_type bytes;
      std::copy(sa->sin6_addr.s6_addr, sa->sin6_addr.s6_addr + 16, bytes.begin());
      ep = ip::tcp::endpoint(ip::address_v6(bytes, sa->sin6_scope_id), spec.port);
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), ep) == out.end()) out.push_back(ep);
  }
  ::freeaddrinfo(res);
  std::sort(out.begin(), out.end());
  if (out.empty()) error = "no addresses";
  return out;
}

std::string format_endpoint(const ip::tcp::endpoint& ep) {
  if (ep.address().is_v6())
    return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace scoregate::upstream
