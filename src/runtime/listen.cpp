#include "runtime/listen.hpp"

#include <stdexcept>

#include "upstream/targets.hpp"

namespace scoregate::runtime {

boost::asio::ip::tcp::endpoint resolve_listen(const std::string& text) {
  auto spec = upstream::parse_target(text, /*allow_port_zero=*/true);
  if (!spec || spec->discovered || text.find(':') == std::string::npos)
    throw std::runtime_error("listen address '" + text + "' is not HOST:PORT");
  std::string error;
  auto endpoints = upstream::resolve_blocking(*spec, error);
  if (endpoints.empty()) throw std::runtime_error("listen address '" + text + "': " + error);
  return endpoints.front();
}

std::string format_listen(const boost::asio::ip::tcp::endpoint& endpoint) {
  return upstream::format_endpoint(endpoint);
}

}  // namespace scoregate::runtime
