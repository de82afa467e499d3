// "HOST:PORT" listen addresses.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <string>

namespace scoregate::runtime {

// Throws std::runtime_error naming the address when it cannot be parsed or resolved.
boost::asio::ip::tcp::endpoint resolve_listen(const std::string& text);
std::string format_listen(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace scoregate::runtime
