// The HTTP/1.1 side of one client connection, on top of its ClientTransport
// (http/client_transport.hpp): the TLS handshake, then a straight-line loop of requests
// (keep-alive, pipelining-safe: bytes after a request stay in the buffer for the next). The
// request itself is handed to a RequestHandler (proxy/), which reads the body through this
// class. An HTTP/2 session would sit beside this class on the same transport.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/buffer.hpp"
#include "http/client_transport.hpp"
#include "http/parser.hpp"
#include "http/watchdog.hpp"

namespace scoregate::http {

struct ServerLimits {
  std::uint32_t max_header_bytes = 32768;
  std::uint64_t max_body_bytes = 104857600;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds keepalive_timeout{60000};
  std::chrono::milliseconds body_idle_timeout{30000};
};

class Http1Connection;

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Serves conn.request(). On return the response is complete (or the connection marked
  // to close); a body left unread makes the connection close.
  virtual boost::asio::awaitable<void> handle(Http1Connection& conn) = 0;
};

class Http1Connection {
 public:
  using Extra = std::vector<std::pair<std::string_view, std::string_view>>;

  Http1Connection(ClientTransport& transport, const ServerLimits& limits, RequestHandler& handler);

  boost::asio::awaitable<void> run();

  // --- for the handler ---
  RequestHead& request() { return parser_->head(); }
  std::uint64_t body_bytes() const { return parser_->body_bytes(); }
  // Next body pieces (views valid until the next call); empty with no error at the end.
  boost::asio::awaitable<error_code> read_body(std::vector<std::string_view>& pieces);
  boost::asio::awaitable<error_code> write(std::string_view bytes);
  // Sends "100 Continue" when the client asked for it and it was not sent yet.
  boost::asio::awaitable<error_code> send_continue();
  // A complete JSON error reply (README "Requests"), with "limit" when not empty. Closes the
  // connection afterwards if the request body was not read to its end.
  boost::asio::awaitable<void> reply_error(unsigned status, std::string_view code,
                                           std::string_view message, const Extra& extra = {},
                                           std::string_view limit = {});
  // The response must end the connection (sent with Connection: close).
  void close_after_response() { keep_alive_ = false; }
  bool keep_alive() const { return keep_alive_; }
  bool response_started() const { return response_started_; }
  Watchdog& watchdog() { return watchdog_; }
  ClientTransport& transport() { return transport_; }
  const ServerLimits& limits() const { return limits_; }
  const std::string& peer_address() const { return peer_; }

  // --- for the worker ---
  // Draining: an idle connection closes now; a busy one after its current response.
  void begin_drain();

 private:
  boost::asio::awaitable<bool> read_head();
  boost::asio::awaitable<void> reject_malformed(const error_code& ec);
  boost::asio::awaitable<void> finish(bool graceful);
  boost::asio::awaitable<bool> discard_body(std::uint64_t limit);

  ClientTransport& transport_;
  const ServerLimits& limits_;
  RequestHandler& handler_;
  Watchdog watchdog_;
  ReadBuffer in_;
  std::optional<RequestParser> parser_;
  std::string peer_;
  std::size_t pending_consume_ = 0;
  std::uint64_t requests_ = 0;
  bool keep_alive_ = true;
  bool response_started_ = false;
  bool continue_sent_ = false;
  bool idle_ = true;
  bool draining_ = false;
};

}  // namespace scoregate::http
