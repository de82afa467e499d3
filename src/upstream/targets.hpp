// Target addresses from settings: "host:port", "[v6]:port", or "dns:NAME:PORT" (resolved
// periodically by discovery; every A/AAAA record is a target, like a headless Service).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace scoregate::upstream {

struct TargetSpec {
  std::string host;
  std::uint16_t port = 0;
  bool discovered = false;  // dns: prefix
};

// allow_port_zero: for listen addresses ("pick a free port"), never for targets.
std::optional<TargetSpec> parse_target(std::string_view text, bool allow_port_zero = false);

// Resolves a host (IP literal or name, via getaddrinfo) to all its addresses; blocking,
// for the control thread only. Empty with `error` set on failure.
std::vector<boost::asio::ip::tcp::endpoint> resolve_blocking(const TargetSpec& spec,
                                                             std::string& error);

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep);

}  // namespace scoregate::upstream
